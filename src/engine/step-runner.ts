import type { z } from "zod";
import type { Clock } from "../clock/index.js";
import type { EventBus } from "../events/index.js";
import type { TemplateScope } from "../expression/index.js";
import type { Logger } from "../logger/index.js";
import type { GenerateRequest, GenerateResult, StreamPart } from "../models/index.js";
import type { StepDefinition, WorkflowDefinition } from "../workflow/index.js";

/** Durable outbound delivery, as seen by steps (the outbox implements it). */
export interface DeliveryQueue {
  /** Queues a message; the same idempotency key is only ever queued once. */
  enqueue(delivery: { destination: string; kind: string; payload: unknown; idempotencyKey: string }): number | undefined;
}

/** A question for a human: run `command` (or pass this step) or not. */
export interface ApprovalQuestion {
  /** The asking step's `LOCALAGENT_STEP_KEY`: a re-run of the step finds the same request and its answer. */
  stepKey: string;
  runId: string;
  workflow: string;
  step: string;
  /** The whole command or message, never truncated. */
  command: string;
  /** The policy rule that asked, when a rule did. */
  rule?: string;
  reason?: string;
  /** How long to wait before the request expires (a deny); default from `approvals.timeout`. */
  timeoutMs?: number;
}

/** The answer; `expired` counts as a deny. */
export interface ApprovalAnswer {
  id: string;
  decision: "approve" | "deny";
  outcome: "approved" | "denied" | "expired";
  by: string;
}

/** Durable human approvals, as seen by steps and the command policy (the approvals service implements it). */
export interface ApprovalRequester {
  /** Creates (or finds, by step key and command) the request and waits for its answer; rejects when `signal` aborts. */
  ask(question: ApprovalQuestion, signal?: AbortSignal): Promise<ApprovalAnswer>;
}

/** Writes audit entries (the audit log implements it); the command policy records its decisions here. */
export interface AuditRecorder {
  record(entry: {
    type: string;
    actor?: { workflow?: string; run?: string; step?: string; trigger?: string; user?: string };
    details?: Record<string, unknown>;
  }): unknown;
}

/** Starts runs of named workflows (the daemon's dispatcher); the agent's `run_workflow` tool uses it. */
export interface WorkflowLauncher {
  /** Queues a run (it starts when a slot is free); throws a LocalAgentError when the workflow is unknown or the fire is skipped. */
  launch(workflow: string, options: { inputs: Record<string, unknown>; trigger: string }): { runId: string; status: string };
}

/** Tools from outside the daemon (MCP servers), as seen by the agent loop. */
export interface ExternalToolSource {
  /** The tools a selector names (`mcp:SERVER`, `mcp:SERVER/TOOL`), connecting on first use. */
  tools(selector: string, signal?: AbortSignal): Promise<ExternalTool[]>;
}

export interface ExternalTool {
  definition: { name: string; description: string; parameters: Record<string, unknown> };
  call(args: Record<string, unknown>, signal?: AbortSignal): Promise<unknown>;
}

/** The model router as steps see it (the model layer's ModelService implements it). */
export interface ModelAccess {
  /** False when no model is configured: the ai step then says how to configure one. */
  readonly configured: boolean;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  stream(request: GenerateRequest): AsyncIterable<StreamPart>;
}

/** Services shared by every step of a daemon. */
export interface StepServices {
  clock: Clock;
  logger: Logger;
  events: EventBus;
  deliveries: DeliveryQueue;
  /** Human approvals; absent where nobody could answer (then approval steps fail with a clear message). */
  approvals?: ApprovalRequester;
  /** The audit log, for middleware and steps that decide something worth recording (policy decisions, tool calls). */
  audit?: AuditRecorder;
  /** Starts workflow runs (absent outside a daemon: the `run_workflow` tool then says so). */
  workflows?: WorkflowLauncher;
  /** The MCP servers of config.yaml `mcp:` (absent when none are configured). */
  mcp?: ExternalToolSource;
  /** The routing matrix (routing, fallback, cache, audit); absent in harnesses without models. */
  models?: ModelAccess;
  /** The agent loop for `ai` steps with `tools:` (src/agent); absent where none is wired (such a step then fails clearly). */
  agentLoop?: (context: StepContext, request: GenerateRequest) => Promise<GenerateResult>;
  /** Daemon settings the steps may need (notification platforms, output caps, …). */
  settings: StepSettings;
}

export interface NotificationTarget {
  type: "log" | "webhook" | "channel";
  url?: string;
  headers?: Record<string, string>;
  /** type channel: the configured platform (platforms.json name) and its chat (`*`: the owner chats). */
  channel?: string;
  chatId?: string;
}

export interface StepSettings {
  maxOutputBytes: number;
  notificationPlatforms: Record<string, NotificationTarget>;
  /** Working directory for steps that do not name one. */
  workspaceDir: string;
  /** The workspace of one workflow where shell steps run (the sandbox's `DATA_DIR/workspaces/NAME`); absent: `workspaceDir`. */
  workflowWorkspace?: (workflow: string) => string;
}

/** Runs the nested steps of a shard (foreach); each shard is checkpointed under its own key. */
export type SubStepRunner = (shardKey: string, steps: StepDefinition[], scope: TemplateScope) => Promise<unknown>;

export interface StepContext<Config = Record<string, unknown>> {
  runId: string;
  workflow: WorkflowDefinition;
  step: StepDefinition;
  /** The step's path in the run, e.g. `fetch` or `shard[3].fetch`. */
  path: string;
  /** Stable across re-runs of the same step: commands can deduplicate with it. */
  stepKey: string;
  attempt: number;
  /** True when this step was in flight when the daemon stopped (crash, kill -9): leftovers of that attempt may still run. */
  interrupted: boolean;
  /** Type-specific fields with templates rendered. */
  config: Config;
  env: Record<string, string>;
  scope: TemplateScope;
  signal: AbortSignal;
  /** Aborts this attempt (timeouts use it); the runner sees `signal` fire. */
  abort(reason: unknown): void;
  services: StepServices;
  runSubSteps: SubStepRunner;
  /** Streams live output lines to the event bus (CLI progress, WebSocket). */
  progress(stream: "stdout" | "stderr", text: string): void;
}

export interface StepResult {
  output: unknown;
}

/** The contract every step type implements. The engine wraps it in middleware; it never branches on type. */
export interface StepRunner<Config = Record<string, unknown>> {
  readonly type: string;
  /** zod shape of the type-specific fields, used for validation and the JSON Schema. */
  readonly configShape: z.ZodRawShape;
  /** A field holding nested steps (not rendered before `run`), e.g. foreach's `steps`. */
  readonly subStepsField?: string;
  /** Fields rendered by the runner itself (per item, per shard); the engine leaves them as written. */
  readonly rawFields?: readonly string[];
  /**
   * The runner enforces `timeout:` itself, so the timeout middleware leaves it alone (approval: the
   * deadline is stored with the request and survives restarts, and running out of it is a deny).
   */
  readonly ownsTimeout?: boolean;
  run(context: StepContext<Config>): Promise<StepResult>;
}

/** Middleware around step execution: `(context, next) => …`. Retry, timeout, policy and audit plug in here. */
export type StepMiddleware = (context: StepContext, next: () => Promise<StepResult>) => Promise<StepResult>;
