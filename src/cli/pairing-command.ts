import type { Command } from "commander";
import { Pairing, type PairingRecord } from "../channels/index.js";
import { systemClock } from "../clock/index.js";
import type { ResolvedConfig } from "../config/index.js";
import { createAuditLog, runningDaemonPid } from "../daemon/index.js";
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

interface DecideOptions extends CommonOptions {
  port?: string;
  by?: string;
}

/** `localagent pairing list|approve CODE|revoke USER`: through the running daemon's API, else on the store. */
export function registerPairing(program: Command, io: Io, setExit: (code: number) => void): void {
  const pairing = program.command("pairing").description("chat users who may command the agent (pairing codes)");
  addCommonOptions(pairing.command("list"))
    .description("pairing requests and paired users")
    .option("--json", "print JSON")
    .action((options: CommonOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      const store = openStoreForReading(config);
      try {
        const list = new Pairing(store, () => Date.now()).list();
        if (options.json) return printJson(io, list);
        printTable(io, ["CHANNEL", "USER", "NAME", "STATUS", "CODE", "REQUESTED", "IGNORED"], list.map(row));
      } finally {
        store.close();
      }
    });
  addCommonOptions(pairing.command("approve"))
    .description("approve a pairing code a chat user received")
    .argument("<code>")
    .option("--by <name>", "who approves (recorded in the audit log)", process.env.USER ?? "cli")
    .option("--port <port>", "daemon port (default from config)")
    .action(async (code: string, options: DecideOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      const by = `cli:${options.by ?? "cli"}`;
      if (runningDaemonPid(config.dataDir) !== undefined)
        return setExit(await callDaemon(config, options.port, "/api/pairing/approve", { code, by }, io));
      setExit(
        offline(config, io, (pairingStore, store) => {
          const record = pairingStore.approve(code, by);
          // Told when the daemon next runs.
          store.enqueueDelivery({
            destination: `channel:${record.channel}:${record.chatId}`,
            kind: "channel",
            payload: {
              channel: record.channel,
              message: { chatId: record.chatId, text: "You are paired: you can now command this agent. Send /help." },
            },
            idempotencyKey: `paired:${record.channel}:${record.userId}:${record.decidedAt ?? 0}`,
            at: Date.now(),
          });
          return { type: "channel.paired", by, records: [record] };
        }),
      );
    });
  addCommonOptions(pairing.command("revoke"))
    .description("revoke a user (USER in every channel, or CHANNEL:USER)")
    .argument("<user>")
    .option("--by <name>", "who revokes (recorded in the audit log)", process.env.USER ?? "cli")
    .option("--port <port>", "daemon port (default from config)")
    .action(async (user: string, options: DecideOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      const by = `cli:${options.by ?? "cli"}`;
      if (runningDaemonPid(config.dataDir) !== undefined)
        return setExit(await callDaemon(config, options.port, "/api/pairing/revoke", { user, by }, io));
      setExit(offline(config, io, (pairingStore) => ({ type: "channel.revoked", by, records: pairingStore.revoke(user, by) })));
    });
}

function offline(
  config: ResolvedConfig,
  io: Io,
  act: (pairing: Pairing, store: SqliteStore) => { type: string; by: string; records: PairingRecord[] },
): number {
  const store = new SqliteStore({ path: config.databasePath, durability: config.durability });
  const audit = config.audit.enabled ? createAuditLog(config, systemClock) : undefined;
  try {
    const result = act(new Pairing(store, () => Date.now()), store);
    for (const record of result.records) {
      audit?.record({ type: result.type, actor: { user: result.by }, details: { channel: record.channel, userId: record.userId } });
      io.out(`${record.channel}:${record.userId} ${record.status}\n`);
    }
    return 0;
  } catch (error) {
    io.err(`${errorMessage(error)}\n`);
    return 1;
  } finally {
    audit?.close();
    store.close();
  }
}

function callDaemon(config: ResolvedConfig, port: string | undefined, path: string, body: unknown, io: Io): Promise<number> {
  return postAndReport(config, port, path, body, io, (answer) => {
    const parsed = answer as PairingRecord | { revoked: PairingRecord[] };
    return ("revoked" in parsed ? parsed.revoked : [parsed]).map((record) => `${record.channel}:${record.userId} ${record.status}`);
  });
}

function row(record: PairingRecord): string[] {
  return [
    record.channel,
    record.userId,
    record.userName ?? "",
    record.status,
    record.status === "pending" ? record.code : "",
    new Date(record.requestedAt).toISOString(),
    String(record.ignored),
  ];
}
