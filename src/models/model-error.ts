import { LocalAgentError } from "../errors/index.js";
import type { ModelErrorKind } from "./types.js";

/** Kinds worth trying again on the same model after a pause. */
const RETRYABLE: ReadonlySet<ModelErrorKind> = new Set(["unreachable", "rate_limited", "server_error"]);

/** Kinds after which the router tries the next model of the route (the request itself was fine). */
const FALLS_THROUGH: ReadonlySet<ModelErrorKind> = new Set([
  "unreachable",
  "timeout",
  "auth",
  "model_missing",
  "context_too_long",
  "rate_limited",
  "server_error",
  "out_of_memory",
]);

/** Kinds that put a model in cool-down (context_too_long is about the request, not the model's health). */
const MARKS_UNHEALTHY: ReadonlySet<ModelErrorKind> = new Set([
  "unreachable",
  "timeout",
  "auth",
  "model_missing",
  "rate_limited",
  "server_error",
  "out_of_memory",
]);

export interface ModelErrorOptions {
  /** The configured model name. */
  model: string;
  provider: string;
  /** Origin of the endpoint (`http://127.0.0.1:8000`), never the full URL with credentials. */
  endpoint?: string;
  status?: number;
  /** From a 429's Retry-After header. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * A failed model call: `kind` says why (so the router knows whether to fall through), the message
 * names the model, endpoint and status, and never a key.
 */
export class ModelError extends LocalAgentError {
  readonly kind: ModelErrorKind;
  readonly model: string;
  readonly provider: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: ModelErrorKind, message: string, options: ModelErrorOptions) {
    super("model_error", message, {
      retryable: RETRYABLE.has(kind),
      cause: options.cause,
      details: {
        kind,
        model: options.model,
        provider: options.provider,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.status !== undefined ? { status: options.status } : {}),
      },
    });
    this.name = "ModelError";
    this.kind = kind;
    this.model = options.model;
    this.provider = options.provider;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function isModelError(error: unknown): error is ModelError {
  return error instanceof ModelError;
}

/** Whether the router should try the next model after this error. */
export function fallsThrough(error: unknown): boolean {
  return error instanceof ModelError && FALLS_THROUGH.has(error.kind);
}

/** Whether this error puts the model in cool-down. */
export function marksUnhealthy(error: unknown): boolean {
  return error instanceof ModelError && MARKS_UNHEALTHY.has(error.kind);
}

/** Whether the same model may be asked again after a backoff. */
export function isRetryableKind(kind: ModelErrorKind): boolean {
  return RETRYABLE.has(kind);
}

/** The kind for an HTTP error status; 400-class bodies that talk about context length become context_too_long. */
export function kindForStatus(status: number, body: string): ModelErrorKind {
  if (status === 401 || status === 403) return "auth";
  if (status === 404) return "model_missing";
  if (status === 408) return "timeout";
  if (status === 429) return "rate_limited";
  if (status === 413 || (status >= 400 && status < 500 && CONTEXT_PATTERN.test(body))) return "context_too_long";
  if (status >= 500) return "server_error";
  return "bad_request";
}

const CONTEXT_PATTERN =
  /context.{0,20}(length|window|size|too)|too (long|many tokens)|maximum context|prompt is too long|exceeds? the (maximum|context)/i;

/** Reads Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
