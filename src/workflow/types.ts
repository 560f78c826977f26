import type { SourcePosition } from "../errors/index.js";

/** How a workflow is started. Several may apply to one workflow. */
export type TriggerDefinition =
  | { kind: "cron"; expression: string; timezone?: string }
  | { kind: "every"; intervalMs: number }
  | { kind: "event"; name: string }
  | { kind: "manual" };

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
