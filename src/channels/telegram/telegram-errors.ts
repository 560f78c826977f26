import { GrammyError, HttpError } from "grammy";
import { LocalAgentError } from "../../errors/index.js";

/**
 * Replaces the bot token, and any `/bot<token>/` URL segment, in a text that may be logged or shown.
 * grammY keeps its own messages free of the token, but the fetch error it wraps names the URL.
 */
export function redactToken(text: string, token: string): string {
  let redacted = token.length > 0 ? text.split(token).join("[redacted]") : text;
  redacted = redacted.replace(/\/bot[^/\s]+\//g, "/bot[redacted]/");
  return redacted;
}

/** What the outbox needs to know about a failed Bot API call. */
export interface TelegramFailure {
  /** Telegram's error_code, or undefined for a network failure. */
  status: number | undefined;
  /** Seconds Telegram asked to wait (429). */
  retryAfter: number | undefined;
  retryable: boolean;
  /** A reason without the token. */
  reason: string;
}

/**
 * Classifies a Bot API failure: 429 (with retry_after), 5xx, 409 and network errors are worth
 * retrying; 400, 403 (blocked by the user, not a member), 401/404 (token rejected) are not.
 */
export function classifyTelegramError(error: unknown, token: string): TelegramFailure {
  if (error instanceof GrammyError) {
    const status = typeof error.error_code === "number" ? error.error_code : undefined;
    const retryAfter = typeof error.parameters.retry_after === "number" ? error.parameters.retry_after : undefined;
    const description = redactToken(String(error.description ?? "no description"), token);
    if (status === 401 || status === 404) {
      return {
        status,
        retryAfter,
        retryable: false,
        reason: `the bot token was rejected (${status}: ${description}); check auth: (from @BotFather)`,
      };
    }
    const retryable = status === undefined || status === 429 || status === 409 || status >= 500;
    const wait = retryAfter === undefined ? "" : `, retry after ${retryAfter}s`;
    return { status, retryAfter, retryable, reason: `${error.method}: ${status ?? "error"}: ${description}${wait}` };
  }
  if (error instanceof HttpError) {
    const cause = error.error as { code?: unknown; type?: unknown; name?: unknown } | undefined;
    const code = typeof cause?.code === "string" ? cause.code : typeof cause?.name === "string" ? cause.name : "network error";
    return { status: undefined, retryAfter: undefined, retryable: true, reason: `${redactToken(error.message, token)} (${code})` };
  }
  if (error instanceof LocalAgentError) {
    return { status: undefined, retryAfter: undefined, retryable: error.retryable, reason: redactToken(error.message, token) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: undefined, retryAfter: undefined, retryable: true, reason: redactToken(message, token) };
}

/** The failure as the LocalAgentError the outbox reads (`retryable`), with no raw cause attached (it may hold the URL). */
export function toDeliveryError(channel: string, failure: TelegramFailure, chatId?: string): LocalAgentError {
  const where = chatId === undefined ? `telegram channel "${channel}"` : `telegram channel "${channel}", chat ${chatId}`;
  return new LocalAgentError("delivery_failed", `${where}: ${failure.reason}`, {
    retryable: failure.retryable,
    details: {
      status: failure.status,
      retry_after: failure.retryAfter,
      // The outbox waits at least this long before the next attempt.
      ...(failure.retryAfter === undefined ? {} : { retryAfterMs: failure.retryAfter * 1000 }),
    },
  });
}
