import { composeMiddleware, type StepContext, type StepMiddleware, type StepRunner, type StepServices } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { shellStep } from "../../steps/shell/index.js";
import type { StepDefinition, WorkflowDefinition } from "../../workflow/index.js";
import type { AgentTool, ToolExecution } from "../types.js";
import { createReadFileTool, createWriteFileTool } from "./file-tools.js";
import { DEFAULT_TOOL_TIMEOUT_MS, shellToolShape } from "./step-tools.js";

export interface StandaloneToolOptions {
  /** The daemon's step services (settings, logger, events, clock). */
  services: StepServices;
  /** Names this caller in journals and logs, e.g. `chat:telegram:1234`. */
  caller: string;
  /** Per call (default 2 minutes). */
  timeoutMs?: number;
  /**
   * Step middleware around each call, outermost first: the engine's own chain (policy with
   * durable approvals, sandbox) makes a chat's shell call pass exactly what a shell step passes.
   */
  middleware?: readonly StepMiddleware[];
}

/**
 * The shell tool outside a workflow (chat conversations): the shell step's own runner (process
 * group, output cap, kill on timeout or abort) without the engine. The command is checked by
 * the `middleware` given (the policy middleware, the sandbox), or by the loop's
 * `beforeToolCall: createPolicyToolHook(policy)`; with neither, nothing checks it.
 */
export function createStandaloneShellTool(options: StandaloneToolOptions): AgentTool {
  return {
    ...shellToolShape("the workspace directory"),
    async execute(args, execution) {
      const output = await runStandalone(
        shellStep as unknown as StepRunner,
        options,
        execution,
        { command: "{{ tool.command | raw }}" },
        args,
      );
      return output;
    },
  };
}

/** Every tool that works outside a workflow step: shell (standalone), read_file and write_file. */
export function createStandaloneTools(options: StandaloneToolOptions & { fileRoots?: readonly string[] }): AgentTool[] {
  const roots = [options.services.settings.workspaceDir, ...(options.fileRoots ?? [])];
  return [createStandaloneShellTool(options), createReadFileTool({ roots }), createWriteFileTool({ roots })];
}

async function runStandalone(
  runner: StepRunner,
  options: StandaloneToolOptions,
  execution: ToolExecution,
  config: Record<string, unknown>,
  args: Record<string, unknown>,
): Promise<unknown> {
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const timeout = new LocalAgentError("step_timeout", `${execution.call.name} call timed out after ${timeoutMs} ms`);
  const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
  const onAbort = (): void => controller.abort(execution.signal.reason);
  execution.signal.addEventListener("abort", onAbort, { once: true });
  const path = `${execution.call.name}[${execution.turn}.${execution.index}]`;
  const step: StepDefinition = {
    name: execution.call.name,
    type: runner.type,
    onFailure: { kind: "stop" },
    env: {},
    needs: [],
    cacheMode: "value",
    config,
  };
  const workflow: WorkflowDefinition = {
    name: options.caller,
    file: "",
    triggers: [],
    inputs: {},
    env: {},
    steps: [step],
    priority: 0,
    misfire: "skip",
    enabled: true,
  };
  const context: StepContext = {
    runId: options.caller,
    workflow,
    step,
    path,
    stepKey: `${options.caller}:${path}:${execution.call.id}`,
    attempt: 1,
    interrupted: false,
    config,
    env: {},
    scope: { tool: args, env: {} },
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    services: options.services,
    runSubSteps: () => Promise.reject(new LocalAgentError("step_failed", "nested steps are not available outside a workflow")),
    progress: () => {},
  };
  try {
    const execute = composeMiddleware(options.middleware ?? [], (current) => runner.run(current));
    return (await execute(context)).output;
  } finally {
    clearTimeout(timer);
    execution.signal.removeEventListener("abort", onAbort);
  }
}
