import { createHash } from "node:crypto";
import type { StepContext } from "../../engine/index.js";
import type { StepDefinition } from "../../workflow/index.js";
import type { AgentTool, ToolExecution } from "../types.js";

/** How long one shell or http tool call may take unless the step says otherwise. */
export const DEFAULT_TOOL_TIMEOUT_MS = 120_000;

export interface StepToolOptions {
  /** Per call (default 2 minutes); the ai step's own `timeout:` bounds the whole loop. */
  timeoutMs?: number;
}

/**
 * Runs a tool call as a nested step of the calling `ai` step, through the engine: the step type's
 * own runner with every middleware (command policy and approvals, sandbox, timeout), journaled
 * under `AI_STEP[tool-TURN-INDEX-HASH].NAME`. The key holds a hash of the call, so after a crash
 * the same call at the same place returns its journaled output instead of running twice, and a
 * different call never picks up another's output.
 *
 * The model's arguments reach the step through the template scope (`{{ tool.x }}`), never as
 * template text: a model writing `{{ env.SECRET }}` gets that literal string, not the secret.
 */
export function runAsStep(
  context: StepContext,
  execution: ToolExecution,
  type: string,
  config: Record<string, unknown>,
  args: Record<string, unknown>,
  timeoutMs: number,
): Promise<unknown> {
  const hash = createHash("sha256")
    .update(`${execution.call.name}\n${JSON.stringify(execution.call.arguments)}`)
    .digest("hex")
    .slice(0, 10);
  const step: StepDefinition = {
    name: execution.call.name,
    type,
    onFailure: { kind: "stop" },
    env: {},
    needs: [],
    needsGiven: true,
    cacheMode: "value",
    config,
    timeoutMs,
    // The ai step's `network:` is what its tool calls get: an allow-list reaches the egress proxy
    // (http) and the sandbox (shell); absent, the sandbox's default (no network).
    ...(context.step.network === undefined ? {} : { network: context.step.network }),
  };
  const scope = { ...context.scope, tool: args, output: null };
  const shardKey = `tool-${execution.turn}-${execution.index}-${hash}`;
  const path = `${context.path}[${shardKey}].${step.name}`;
  // The policy middleware's ask is visible on the bus as the approval's events: report it to the loop.
  const unsubscribe = context.services.events.subscribe((event) => {
    if (
      (event.type !== "approval-requested" && event.type !== "approval-decided") ||
      event.runId !== context.runId ||
      event.step !== path
    ) {
      return;
    }
    if (event.type === "approval-requested") execution.reportDecision?.({ decision: "ask", ...(event.rule ? { rule: event.rule } : {}) });
    else execution.reportDecision?.({ decision: "ask", approval: event.decision === "approved" ? "approve" : "deny" });
  });
  return context.runSubSteps(shardKey, [step], scope).finally(unsubscribe);
}

/** The `shell` tool as the model sees it (in a workflow and in a chat), and the command the policy checks. */
export function shellToolShape(where: string): Pick<AgentTool, "definition" | "commandOf"> {
  return {
    definition: {
      name: "shell",
      description:
        `Run a bash command line in ${where} and return its standard output. ` +
        "A failing command returns its exit status and the end of its standard error. Commands are checked by the command policy.",
      parameters: {
        type: "object",
        properties: { command: { type: "string", minLength: 1, description: "The command line, run with bash -c" } },
        required: ["command"],
        additionalProperties: false,
      },
    },
    commandOf: (args) => (typeof args.command === "string" ? args.command : undefined),
  };
}

/** `shell`: one command line, through the shell step (policy, approvals, sandbox, output cap, timeout). */
export function createShellTool(context: StepContext, options: StepToolOptions = {}): AgentTool {
  return {
    ...shellToolShape("the workflow's workspace directory"),
    execute: (args, execution) =>
      runAsStep(context, execution, "shell", { command: "{{ tool.command | raw }}" }, args, options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS),
  };
}

/** `http`: one GET or POST, through the http step (same limits, same retry classification); returns status and body. */
export function createHttpTool(context: StepContext, options: StepToolOptions = {}): AgentTool {
  return {
    definition: {
      name: "http",
      description: "Send an HTTP GET or POST request and return the response status and body (JSON bodies parsed).",
      parameters: {
        type: "object",
        properties: {
          url: { type: "string", description: "Absolute http(s) URL" },
          method: { type: "string", enum: ["GET", "POST"], description: "Default GET" },
          headers: { type: "object", additionalProperties: { type: "string" } },
          body: { description: "For POST: a string is sent as is, anything else as JSON" },
        },
        required: ["url"],
        additionalProperties: false,
      },
    },
    async execute(args, execution) {
      const config: Record<string, unknown> = { url: "{{ tool.url }}", method: "{{ tool.method }}" };
      const fields = { ...args, method: typeof args.method === "string" ? args.method : "GET" };
      if (args.headers !== undefined) config.headers = "{{ tool.headers }}";
      if (args.body !== undefined) config.body = "{{ tool.body }}";
      const output = (await runAsStep(context, execution, "http", config, fields, options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS)) as {
        status: number;
        body: unknown;
      };
      return { status: output.status, body: output.body };
    },
  };
}

/** `notify`: queues a message in the durable outbox through the notification step (keyed by the call, so never twice). */
export function createNotifyTool(context: StepContext): AgentTool {
  const platforms = Object.keys(context.services.settings.notificationPlatforms);
  return {
    definition: {
      name: "notify",
      description: `Send a notification to the user. Platforms: ${["log", ...platforms.filter((name) => name !== "log")].join(", ")} (default log).`,
      parameters: {
        type: "object",
        properties: {
          message: { type: "string", minLength: 1 },
          title: { type: "string" },
          platform: { type: "string", description: "Default log" },
        },
        required: ["message"],
        additionalProperties: false,
      },
    },
    async execute(args, execution) {
      const config: Record<string, unknown> = { platform: "{{ tool.platform }}", message: "{{ tool.message }}" };
      if (args.title !== undefined) config.title = "{{ tool.title }}";
      const fields = { ...args, platform: typeof args.platform === "string" ? args.platform : "log" };
      return runAsStep(context, execution, "notification", config, fields, DEFAULT_TOOL_TIMEOUT_MS);
    },
  };
}

/** `run_workflow`: schedules a run of another workflow through the daemon's dispatcher; returns its run id. */
export function createRunWorkflowTool(context: StepContext): AgentTool {
  return {
    definition: {
      name: "run_workflow",
      description: "Schedule a run of a named workflow of this daemon (it runs on its own; this returns its run id).",
      parameters: {
        type: "object",
        properties: {
          workflow: { type: "string", minLength: 1 },
          inputs: { type: "object", description: "The workflow's inputs" },
        },
        required: ["workflow"],
        additionalProperties: false,
      },
    },
    execute(args) {
      const launcher = context.services.workflows;
      if (!launcher) return Promise.reject(new Error("run_workflow is only available inside the daemon"));
      const name = args.workflow as string;
      // A workflow whose agent starts itself again could fork runs without end.
      if (name === context.workflow.name) {
        return Promise.reject(new Error(`a workflow cannot schedule itself ("${name}") from its own ai step`));
      }
      const run = launcher.launch(name, {
        inputs: (args.inputs as Record<string, unknown> | undefined) ?? {},
        trigger: `agent:${context.workflow.name}/${context.path}`,
      });
      return Promise.resolve({ run_id: run.runId, status: run.status });
    },
  };
}
