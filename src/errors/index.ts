/** Stable machine-readable error codes; user-facing text lives in the message. */
export type ErrorCode =
  | "config_invalid"
  | "workflow_invalid"
  | "workflow_not_found"
  | "run_not_found"
  | "step_failed"
  | "step_timeout"
  | "step_cancelled"
  | "template_error"
  | "unknown_step_type"
  | "no_model_provider"
  | "model_error"
  | "model_not_found"
  | "delivery_failed"
  | "store_error"
  | "bad_request"
  | "payload_invalid"
  | "conflict"
  | "approval_not_found"
  | "approval_denied"
  | "unavailable"
  | "policy_denied"
  | "sandbox_unavailable"
  | "model_too_large";

/** Where in a user's file a problem sits. Lines and columns are 1-based. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface LocalAgentErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  position?: SourcePosition;
  details?: Record<string, unknown>;
}

/** The one error base of LocalAgent: a code, structured fields, a retryable flag and the cause. */
export class LocalAgentError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly position: SourcePosition | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: LocalAgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LocalAgentError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.position = options.position;
    this.details = options.details ?? {};
  }

  /** `file:line:column: message` when a position is known, else the message. */
  format(): string {
    return this.position ? `${formatPosition(this.position)}: ${this.message}` : this.message;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, retryable: this.retryable, position: this.position, ...this.details };
  }
}

export function formatPosition(position: SourcePosition): string {
  return `${position.file}:${position.line}:${position.column}`;
}

/** Turns anything thrown into a message, without ever printing `[object Object]`. */
export function errorMessage(error: unknown): string {
  if (error instanceof LocalAgentError) return error.format();
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Anything thrown or used as an abort reason, as an Error (so `throw` always throws an Error). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

export function isRetryable(error: unknown): boolean {
  return error instanceof LocalAgentError ? error.retryable : true;
}
