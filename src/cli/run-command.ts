import type { Command } from "commander";
import { systemClock } from "../clock/index.js";
import { claimRun, createRuntime, runningDaemonPid, runView } from "../daemon/index.js";
import { errorMessage } from "../errors/index.js";
import { EventBus } from "../events/index.js";
import { createLogger } from "../logger/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import { formatIssue, loadWorkflowFile, type WorkflowDefinition } from "../workflow/index.js";
import { addCommonOptions, printJson, resolveConfig, type CommonOptions, type Io } from "./context.js";
import { ProgressPrinter } from "./progress.js";

interface RunOptions extends CommonOptions {
  input: string[];
  inputs?: string;
  workflow?: string;
  deliveryTimeout: string;
}

/** `localagent run FILE`: one workflow in the foreground, journaled in the data directory like the daemon's runs. */
export function registerRun(program: Command, io: Io, setExit: (code: number) => void): void {
  addCommonOptions(program.command("run"))
    .description("run one workflow file in the foreground with live progress")
    .argument("<file>", "workflow file")
    .option("-i, --input <key=value>", "an input (repeatable; value parsed as JSON when it can be)", collect, [])
    .option("--inputs <json>", "all inputs as one JSON object")
    .option("-w, --workflow <name>", "which workflow, when the file holds several")
    .option("--delivery-timeout <seconds>", "how long to wait for queued notifications before exiting", "30")
    .option("--json", "print the final run record as JSON (no progress)")
    .action(async (file: string, options: RunOptions) => setExit(await runFile(file, options, io)));
}

export async function runFile(file: string, options: RunOptions, io: Io): Promise<number> {
  const registry = createDefaultRegistry();
  const loaded = loadWorkflowFile(file, registry);
  if (loaded.issues.length > 0) {
    for (const issue of loaded.issues) io.err(`${formatIssue(issue)}\n`);
    return 2;
  }
  const workflow = pickWorkflow(loaded.workflows, options.workflow, io);
  if (!workflow) return 2;
  let inputs: Record<string, unknown>;
  try {
    inputs = parseInputs(options);
  } catch (error) {
    io.err(`localagent run: ${errorMessage(error)}\n`);
    return 2;
  }
  const config = resolveConfig(options);
  const events = new EventBus();
  const logger = createLogger({ level: options.json ? "silent" : "warn", destination: process.stderr });
  const runtime = createRuntime({ config, clock: systemClock, logger, events, registry });
  if (!options.json) {
    const printer = new ProgressPrinter(io.out, io.isTty);
    events.subscribe((event) => printer.handle(event));
  }
  const daemonPid = runningDaemonPid(config.dataDir);
  const queued: number[] = [];
  events.subscribe((event) => {
    if (event.type === "delivery-queued") queued.push(event.deliveryId);
  });
  // While a daemon owns the data directory it delivers the outbox; two senders would race.
  if (daemonPid === undefined) runtime.outbox.start();
  try {
    const created = runtime.engine.createRun(workflow, { trigger: "cli", inputs });
    // A daemon starting meanwhile must leave this run to us while we are alive.
    claimRun(runtime.store, created.id);
    const run = await runtime.engine.run(workflow, created.id);
    if (queued.length > 0) {
      if (daemonPid === undefined) await waitForDeliveries(runtime, queued, Number(options.deliveryTimeout) * 1000);
      const pending = runtime.store.listDeliveries({ status: "pending" }).filter((delivery) => queued.includes(delivery.id)).length;
      if (pending > 0 && !options.json) io.err(`${pending} notification(s) still queued; the daemon will deliver them when it runs\n`);
    }
    if (options.json) printJson(io, runView(runtime.store.getRun(run.id) ?? run, runtime.store.getSteps(run.id)));
    return run.status === "succeeded" ? 0 : 1;
  } finally {
    await runtime.outbox.stop();
    runtime.close();
    runtime.store.close();
  }
}

async function waitForDeliveries(runtime: ReturnType<typeof createRuntime>, ids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pending = runtime.store.listDeliveries({ status: "pending" }).some((delivery) => ids.includes(delivery.id));
    if (!pending) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function pickWorkflow(workflows: WorkflowDefinition[], name: string | undefined, io: Io): WorkflowDefinition | undefined {
  if (name) {
    const found = workflows.find((workflow) => workflow.name === name);
    if (!found) io.err(`no workflow "${name}" in the file (it has: ${workflows.map((workflow) => workflow.name).join(", ")})\n`);
    return found;
  }
  if (workflows.length > 1) {
    io.err(
      `the file holds ${workflows.length} workflows (${workflows.map((workflow) => workflow.name).join(", ")}); pick one with --workflow\n`,
    );
    return undefined;
  }
  return workflows[0];
}

function parseInputs(options: RunOptions): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  if (options.inputs) {
    const parsed: unknown = JSON.parse(options.inputs);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("--inputs must be a JSON object");
    Object.assign(inputs, parsed);
  }
  for (const pair of options.input) {
    const index = pair.indexOf("=");
    if (index <= 0) throw new Error(`--input "${pair}" must look like key=value`);
    const raw = pair.slice(index + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    inputs[pair.slice(0, index)] = value;
  }
  return inputs;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
