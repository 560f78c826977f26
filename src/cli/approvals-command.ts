import type { Command } from "commander";
import { ApprovalService, type ApprovalRecord, type ApprovalStatus } from "../approvals/index.js";
import { systemClock } from "../clock/index.js";
import type { ResolvedConfig } from "../config/index.js";
import { subscribeAuditRecorder } from "../audit/index.js";
import { createAuditLog, runningDaemonPid } from "../daemon/index.js";
import { EventBus } from "../events/index.js";
import { createLogger } from "../logger/index.js";
import { errorMessage } from "../errors/index.js";
import { SqliteStore } from "../store/index.js";
import {
  addCommonOptions,
  configOrReport,
  openStoreForReading,
  postAndReport,
  printJson,
  printTable,
  type CommonOptions,
  type Io,
} from "./context.js";

interface ListOptions extends CommonOptions {
  all?: boolean;
  status?: string;
}

interface DecideOptions extends CommonOptions {
  port?: string;
  by?: string;
}

/** `localagent approvals list|approve|deny`: answers go through the daemon's API when it runs, else to the store. */
export function registerApprovals(program: Command, io: Io, setExit: (code: number) => void): void {
  const approvals = program.command("approvals").description("answer the approval requests of steps and the command policy");
  addCommonOptions(approvals.command("list"))
    .description("pending approval requests (--all: every request)")
    .option("--all", "answered and expired requests too")
    .option("--status <status>", "pending, approved, denied or expired")
    .option("--json", "print JSON")
    .action((options: ListOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      const store = openStoreForReading(config);
      try {
        const status = options.all ? undefined : ((options.status ?? "pending") as ApprovalStatus);
        const list = new ApprovalService({ store, clock: systemClock }).list(status ? { status } : {});
        if (options.json) return printJson(io, list);
        printTable(io, ["ID", "STATUS", "WORKFLOW", "STEP", "RUN", "EXPIRES", "COMMAND"], list.map(row));
      } finally {
        store.close();
      }
    });
  for (const action of ["approve", "deny"] as const) {
    addCommonOptions(approvals.command(action))
      .description(action === "approve" ? "approve a pending request" : "deny a pending request")
      .argument("<id>")
      .option("--by <name>", "who answers (recorded in the audit log)", process.env.USER ?? "cli")
      .option("--port <port>", "daemon port (default from config)")
      .action(async (id: string, options: DecideOptions) => {
        const config = configOrReport(options, io, setExit);
        if (!config) return;
        const by = `cli:${options.by ?? "cli"}`;
        if (runningDaemonPid(config.dataDir) !== undefined) return setExit(await callDaemon(config, options.port, id, action, by, io));
        const store = new SqliteStore({ path: config.databasePath, durability: config.durability });
        // Without a daemon the answer is audited here (alert rules run in the daemon only).
        const events = new EventBus();
        const audit = config.audit.enabled ? createAuditLog(config, systemClock) : undefined;
        if (audit)
          subscribeAuditRecorder(events, (input) => audit.record(input), createLogger({ level: "warn", destination: process.stderr }));
        try {
          const record = new ApprovalService({ store, clock: systemClock, events }).decide(id, action, by);
          io.out(`${record.id} ${record.status}\n`);
        } catch (error) {
          io.err(`${errorMessage(error)}\n`);
          setExit(1);
        } finally {
          audit?.close();
          store.close();
        }
      });
  }
}

function callDaemon(
  config: ResolvedConfig,
  port: string | undefined,
  id: string,
  decision: "approve" | "deny",
  by: string,
  io: Io,
): Promise<number> {
  return postAndReport(config, port, `/api/approvals/${encodeURIComponent(id)}`, { decision, by }, io, (answer) => {
    const record = answer as ApprovalRecord;
    return [`${record.id} ${record.status}`];
  });
}

function row(record: ApprovalRecord): string[] {
  return [record.id, record.status, record.workflow, record.step, record.runId, new Date(record.expiresAt).toISOString(), record.command];
}
