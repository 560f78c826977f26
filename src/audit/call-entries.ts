import type { AuditActor, AuditInput } from "./audit-entry.js";
import { redactSecrets } from "./audit-entry.js";

/**
 * One call to a language model, for the audit log. Only these fields are written: never the
 * prompt, the completion, headers or keys (the builder copies field by field, so extra properties
 * of an object passed in are dropped). The model router (src/models) writes its entries with it.
 */
export interface ModelCallRecord {
  /** The model that served, e.g. `qwen2.5-7b-instruct` or `gpt-4o-mini`. */
  model: string;
  /** Its provider, e.g. `openai`, `ollama`, `llama-cpp`. */
  provider: string;
  /** What was asked for (a task type or model name) when a router chose the model. */
  target?: string;
  inputTokens?: number;
  outputTokens?: number;
  durationMs: number;
  /** Answered from a cache (prompt or response cache) rather than computed. */
  cached?: boolean;
  /** Who actually answered when a router or fallback chain is involved (provider/model). */
  servedBy?: string;
  status: "ok" | "error";
  /** Error code or short message when status is error (secrets are redacted like every entry). */
  error?: string;
}

/** One tool call made by a model (or an agent loop), after the policy decided on it. */
export interface ToolCallRecord {
  tool: string;
  /** The arguments as given; summarized (JSON, secret-looking keys redacted, cut to 500 characters). */
  arguments?: unknown;
  decision: "allow" | "ask" | "deny";
  /** `ok`/`error` after running; `denied` when it never ran (deny, or an ask that was refused). */
  status: "ok" | "error" | "denied";
  /** The policy rule behind the decision, when one decided. */
  rule?: string;
  durationMs?: number;
  error?: string;
}

/** Longest argument summary written. */
export const ARGUMENT_SUMMARY_CHARS = 500;

/** The `model-call` audit entry for one call. */
export function modelCallEntry(call: ModelCallRecord, actor: AuditActor = {}): AuditInput {
  const details: Record<string, unknown> = {
    model: String(call.model),
    provider: String(call.provider),
    durationMs: roundMs(call.durationMs),
    status: call.status,
  };
  if (call.target !== undefined) details.target = String(call.target);
  if (isCount(call.inputTokens)) details.inputTokens = call.inputTokens;
  if (isCount(call.outputTokens)) details.outputTokens = call.outputTokens;
  if (call.cached !== undefined) details.cached = call.cached === true;
  if (call.servedBy !== undefined) details.servedBy = String(call.servedBy);
  if (call.error !== undefined) details.error = String(call.error).slice(0, 300);
  return { type: "model-call", actor: pickActor(actor), details };
}

/** The `tool-call` audit entry for one call. */
export function toolCallEntry(call: ToolCallRecord, actor: AuditActor = {}): AuditInput {
  const details: Record<string, unknown> = { tool: String(call.tool), decision: call.decision, status: call.status };
  if (call.arguments !== undefined) details.arguments = summarizeArguments(call.arguments);
  if (call.rule !== undefined) details.rule = String(call.rule);
  if (call.durationMs !== undefined) details.durationMs = roundMs(call.durationMs);
  if (call.error !== undefined) details.error = String(call.error).slice(0, 300);
  return { type: "tool-call", actor: pickActor(actor), details };
}

/** Compact JSON of tool arguments with secret-looking keys redacted, cut to ARGUMENT_SUMMARY_CHARS. */
export function summarizeArguments(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : (JSON.stringify(redactSecrets(value, [])) ?? String(value));
  } catch {
    text = "[unserializable arguments]";
  }
  return text.length > ARGUMENT_SUMMARY_CHARS ? `${text.slice(0, ARGUMENT_SUMMARY_CHARS)}… (${text.length} chars)` : text;
}

/** Anything with `record(entry)`: the audit log, or the step services' recorder. */
export interface AuditRecordTarget {
  record(entry: AuditInput): unknown;
}

/** Records a `model-call` entry (no-op without an audit log). */
export function recordModelCall(audit: AuditRecordTarget | undefined, call: ModelCallRecord, actor?: AuditActor): void {
  audit?.record(modelCallEntry(call, actor));
}

/** Records a `tool-call` entry (no-op without an audit log). */
export function recordToolCall(audit: AuditRecordTarget | undefined, call: ToolCallRecord, actor?: AuditActor): void {
  audit?.record(toolCallEntry(call, actor));
}

function pickActor(actor: AuditActor): AuditActor {
  const result: AuditActor = {};
  for (const key of ["workflow", "run", "step", "trigger", "user"] as const) {
    const value = actor[key];
    if (value !== undefined) result[key] = String(value);
  }
  return result;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function roundMs(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : 0;
}
