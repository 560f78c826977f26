import { InvalidArgumentError, type Command } from "commander";
import type { ResolvedConfig } from "../config/index.js";
import { systemClock } from "../clock/index.js";
import { createRuntime, loadWorkflowSet, runningDaemonPid, runView } from "../daemon/index.js";
import { EventBus } from "../events/index.js";
import { createLogger } from "../logger/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import { errorMessage } from "../errors/index.js";
import type { RunStatus } from "../events/index.js";
import type { RunRecord, Store } from "../store/index.js";
import {
  addCommonOptions,
  configOrReport,
  openStoreForReading,
  postToDaemon,
  printJson,
  printTable,
  resolveConfig,
  type CommonOptions,
  type Io,
} from "./context.js";
import { ProgressPrinter } from "./progress.js";

interface ListOptions extends CommonOptions {
  workflow?: string;
  status?: string;
  limit: number;
}

/** `localagent runs list|show|resume|cancel`: reads the store directly; changes go through the daemon when it runs. */
export function registerRuns(program: Command, io: Io, setExit: (code: number) => void): void {
  const runs = program.command("runs").description("inspect and control runs");
  addCommonOptions(runs.command("list"))
    .description("recent runs, newest first")
    .option("--workflow <name>", "only this workflow")
    .option("--status <status>", "only these statuses (comma separated)")
    .option("-n, --limit <n>", "how many", positiveInteger, 20)
    .option("--json", "print JSON")
    .action((options: ListOptions) =>
      withStore(options, io, setExit, (store) => {
        const list = store.listRuns({
          ...(options.workflow ? { workflow: options.workflow } : {}),
          ...(options.status ? { status: options.status.split(",") as RunStatus[] } : {}),
          limit: options.limit,
        });
        if (options.json)
          return printJson(
            io,
            list.map((run) => runView(run)),
          );
        printTable(io, ["ID", "WORKFLOW", "STATUS", "TRIGGER", "CREATED", "DURATION"], list.map(runRow));
      }),
    );
  addCommonOptions(runs.command("show"))
    .description("one run with its steps")
    .argument("<id>")
    .option("--json", "print JSON")
    .action((id: string, options: CommonOptions) =>
      withStore(options, io, setExit, (store) => {
        const run = store.getRun(id);
        if (!run) {
          io.err(`no run with id ${id}\n`);
          return setExit(1);
        }
        const view = runView(run, store.getSteps(id));
        if (options.json) return printJson(io, view);
        io.out(`${run.id}  ${run.workflow}  ${run.status}  (${run.trigger})\n`);
        if (run.error) io.out(`error: ${run.error}\n`);
        for (const step of view.steps as Array<Record<string, unknown>>) {
          io.out(
            `  ${String(step.status).padEnd(9)} ${String(step.path)}${Number(step.attempt) > 1 ? ` (attempt ${String(step.attempt)})` : ""}${step.error ? `: ${String(step.error)}` : ""}\n`,
          );
        }
      }),
    );
  for (const action of ["resume", "cancel"] as const) {
    addCommonOptions(runs.command(action))
      .description(
        action === "resume"
          ? "run a failed, cancelled or interrupted run again from its first unfinished step"
          : "cancel a queued or running run",
      )
      .argument("<id>")
      .option("--port <port>", "daemon port (default from config)")
      .action(async (id: string, options: CommonOptions & { port?: string }) => {
        const config = resolveConfig(options);
        if (runningDaemonPid(config.dataDir) !== undefined) {
          return setExit(await callDaemon(config, options.port, `/api/runs/${encodeURIComponent(id)}/${action}`, io));
        }
        setExit(await actLocally(config, action, id, io));
      });
  }
}

async function callDaemon(config: ResolvedConfig, port: string | undefined, path: string, io: Io): Promise<number> {
  try {
    const response = await postToDaemon(config, port, path);
    const body = await response.text();
    io.out(`${body}\n`);
    return response.ok ? 0 : 1;
  } catch (error) {
    io.err(`cannot reach the daemon: ${errorMessage(error)}\n`);
    return 1;
  }
}

/** Without a daemon: cancel marks the run, resume runs it here in the foreground. */
async function actLocally(config: ResolvedConfig, action: "resume" | "cancel", id: string, io: Io): Promise<number> {
  const events = new EventBus();
  const registry = createDefaultRegistry();
  const runtime = createRuntime({
    config,
    clock: systemClock,
    logger: createLogger({ level: "warn", destination: process.stderr }),
    events,
    registry,
  });
  try {
    const run = runtime.store.getRun(id);
    if (!run) {
      io.err(`no run with id ${id}\n`);
      return 1;
    }
    if (action === "cancel") {
      const cancelled = runtime.engine.cancel(id);
      io.out(cancelled ? `cancelled ${id}\n` : `run ${id} is ${run.status}; nothing to cancel\n`);
      return cancelled ? 0 : 1;
    }
    if (run.status === "succeeded") {
      io.err(`run ${id} already succeeded\n`);
      return 1;
    }
    const workflow = loadWorkflowSet([config.workflowsDir, ...config.workflowPaths], registry).workflows.get(run.workflow);
    if (!workflow) {
      io.err(`workflow "${run.workflow}" is not defined in ${config.workflowsDir}\n`);
      return 1;
    }
    const printer = new ProgressPrinter(io.out, io.isTty);
    events.subscribe((event) => printer.handle(event));
    runtime.outbox.start();
    runtime.store.setRunStatus(id, "queued", { at: Date.now() });
    const finished = await runtime.engine.run(workflow, id);
    return finished.status === "succeeded" ? 0 : 1;
  } finally {
    await runtime.outbox.stop();
    runtime.close();
    runtime.store.close();
  }
}

function withStore(options: CommonOptions, io: Io, setExit: (code: number) => void, work: (store: Store) => void): void {
  const config = configOrReport(options, io, setExit);
  if (!config) return;
  const store = openStoreForReading(config);
  try {
    work(store);
  } finally {
    store.close();
  }
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError("expected a positive integer");
  return number;
}

function runRow(run: RunRecord): string[] {
  const duration = run.finishedAt && run.startedAt ? `${run.finishedAt - run.startedAt} ms` : "";
  return [run.id, run.workflow, run.status, run.trigger, new Date(run.createdAt).toISOString(), duration];
}
