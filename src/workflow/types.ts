import type { SourcePosition } from "../errors/index.js";
import type { PayloadSchema } from "./payload-schema.js";

/** What happened to a watched file. */
export type FileChangeKind = "add" | "change" | "unlink";

/** The file-change part of an `on: file:GLOB` trigger. */
export interface FileWatchDefinition {
  /** Absolute glob (`*`, `**`, `?`, `[…]`); a relative one was resolved against the workflow file's folder. */
  glob: string;
  /** Which changes start a run (default: all three). */
  events: FileChangeKind[];
  /** Quiet time before a burst of changes to one path fires once. */
  debounceMs: number;
}

/**
 * A named event that starts the workflow: `deploy` (HTTP), `network.online`, `workflow.finished:NAME`,
 * `daemon.start`, `chat:/CMD`, `file:GLOB`. The payload (`trigger` in templates) must satisfy `schema` when given.
 */
export interface EventTriggerDefinition {
  kind: "event";
  name: string;
  schema?: PayloadSchema;
  /** Set for `file:` triggers: what the file source watches. */
  file?: FileWatchDefinition;
}

/** How a workflow is started. Several may apply to one workflow. */
export type TriggerDefinition =
  | { kind: "cron"; expression: string; timezone?: string }
  | { kind: "every"; intervalMs: number }
  | EventTriggerDefinition
  | { kind: "manual" };

/** What a fire does while the workflow already has `concurrency` runs going: wait, be dropped, or take over. */
export type OverlapPolicy = "queue" | "skip" | "replace";

export interface RetryPolicy {
  /** Extra attempts after the first. */
  count: number;
  backoffMs: number;
  factor: number;
  maxBackoffMs: number;
}

export type FailurePolicy = { kind: "stop" } | { kind: "continue" } | { kind: "step"; step: string };

/** One resolved step. `config` keeps the type-specific fields as written (templates unrendered). */
export interface StepDefinition {
  name: string;
  type: string;
  condition?: string;
  timeoutMs?: number;
  retry?: RetryPolicy;
  onFailure: FailurePolicy;
  env: Record<string, string>;
  /** Steps that must finish first. Defaults to the previous step in the list; `needs: []` makes a root step. */
  needs: string[];
  /** True when `needs:` was written (so an empty list means "no dependency", not "the previous step"). */
  needsGiven?: boolean;
  cacheKey?: string;
  cacheMode: "delta" | "value";
  /** `network:`: true (any host), false (none), or the allowed hosts (egress proxy). Absent: the sandbox's default. */
  network?: boolean | string[];
  config: Record<string, unknown>;
  /** Sub-steps of `foreach`. */
  steps?: StepDefinition[];
  position?: SourcePosition;
}

export interface InputDefinition {
  type: "string" | "number" | "boolean" | "object" | "array" | "any";
  required: boolean;
  default?: unknown;
  description?: string;
}

/** A workflow after loading and validation: the engine only ever sees this shape. */
export interface WorkflowDefinition {
  name: string;
  description?: string;
  file: string;
  position?: SourcePosition;
  triggers: TriggerDefinition[];
  timezone?: string;
  inputs: Record<string, InputDefinition>;
  env: Record<string, string>;
  steps: StepDefinition[];
  concurrency?: number;
  /** Absent means `queue`. With `skip` or `replace`, an unset `concurrency` means 1. */
  overlap?: OverlapPolicy;
  priority: number;
  misfire: "skip" | "once" | "all";
  timeoutMs?: number;
  enabled: boolean;
}

/** One problem in a workflow file, as `file:line:column: message`. */
export interface WorkflowIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

export function formatIssue(issue: WorkflowIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`;
}
