import { errorMessage } from "../../errors/index.js";
import type { Logger } from "../../logger/index.js";
import { isRetryableKind, kindForStatus, ModelError, parseRetryAfter } from "../model-error.js";
import type { ModelErrorKind } from "../types.js";

/** IO the HTTP providers use, injected so tests and benchmarks can swap it. */
export interface ProviderDeps {
  fetch?: typeof fetch;
  /** Waits between retries; rejects when the signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  logger?: Logger;
  /** First retry delay (doubled each attempt, default 250 ms). */
  retryBaseMs?: number;
  /** A Retry-After longer than this is not waited for: the error goes to the router, which tries the next model (default 10 s). */
  maxRetryDelayMs?: number;
}

/** What every HTTP provider is configured with (resolved: durations in ms, secrets read). */
export interface HttpModelSettings {
  name: string;
  baseUrl: string;
  /** The model id the server knows (`qwen2.5-coder`, `llama3.2`, `claude-sonnet-4-5`). */
  model: string;
  apiKey?: string;
  headers?: Record<string, string>;
  /** Until the response headers, and then the longest silence between stream chunks. */
  timeoutMs: number;
  /** Extra attempts on 429, 5xx and unreachable. */
  maxRetries: number;
}

/** One attempt's open response; `touch` restarts the idle timer, `finish` disarms it. */
export interface OpenResponse {
  response: Response;
  touch(): void;
  finish(): void;
  /** Maps an error thrown while reading the body to a ModelError (dropped connection, timeout, abort). */
  bodyError(error: unknown): ModelError;
}

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** POSTs JSON to a model server with timeouts, abort, bounded retries with backoff (honouring Retry-After), and errors classified by kind. */
export class HttpTransport {
  readonly origin: string;
  private readonly base: string;

  constructor(
    private readonly provider: string,
    private readonly settings: HttpModelSettings,
    private readonly deps: ProviderDeps = {},
  ) {
    const url = new URL(settings.baseUrl);
    // The origin is what error messages show: never the path's query or any userinfo.
    this.origin = url.origin;
    this.base = settings.baseUrl.replace(/\/+$/, "");
  }

  /** Opens the request, retrying what is worth retrying; resolves once a 2xx response's headers arrived. */
  async post(path: string, body: unknown, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<OpenResponse> {
    const maxRetries = Math.max(0, this.settings.maxRetries);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(path, body, headers, signal);
      } catch (error) {
        if (!(error instanceof ModelError) || !isRetryableKind(error.kind) || attempt >= maxRetries) throw error;
        const delay = error.retryAfterMs ?? (this.deps.retryBaseMs ?? 250) * 2 ** attempt * (1 + Math.random() * 0.25);
        if (delay > (this.deps.maxRetryDelayMs ?? 10_000)) throw error;
        this.deps.logger?.debug(
          { model: this.settings.name, kind: error.kind, attempt: attempt + 1, delayMs: Math.round(delay) },
          "model call retrying",
        );
        try {
          await (this.deps.sleep ?? defaultSleep)(delay, signal);
        } catch {
          throw this.error("aborted", "the request was cancelled");
        }
      }
    }
  }

  private async attempt(
    path: string,
    body: unknown,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<OpenResponse> {
    if (signal?.aborted) throw this.error("aborted", "the request was cancelled");
    const timeout = new AbortController();
    const timeoutMs = this.settings.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => timeout.abort(), timeoutMs);
    };
    const finish = (): void => clearTimeout(timer);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    const classify = (error: unknown, during: string): ModelError => {
      finish();
      if (error instanceof ModelError) return error;
      if (signal?.aborted) return this.error("aborted", "the request was cancelled");
      if (timeout.signal.aborted) return this.error("timeout", `no answer within ${timeoutMs} ms ${during}`);
      const what = during === "while streaming" ? "connection dropped while streaming" : "no response";
      return this.error("unreachable", `${what}: ${describeNetworkError(error)}`, { cause: error });
    };
    touch();
    let response: Response;
    try {
      response = await (this.deps.fetch ?? fetch)(`${this.base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.settings.headers, ...headers },
        body: JSON.stringify(body),
        signal: combined,
      });
    } catch (error) {
      throw classify(error, "waiting for the response");
    }
    if (!response.ok) {
      let text = "";
      try {
        text = await response.text();
      } catch {
        text = "";
      }
      finish();
      const status = response.status;
      const kind = kindForStatus(status, text);
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), (this.deps.now ?? Date.now)());
      throw this.error(kind, `HTTP ${status}${describeBody(text, this.settings.apiKey)}`, {
        status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    return { response, touch, finish, bodyError: (error) => classify(error, "while streaming") };
  }

  /** A ModelError naming this model and endpoint. */
  error(kind: ModelErrorKind, detail: string, extra: { status?: number; retryAfterMs?: number; cause?: unknown } = {}): ModelError {
    return new ModelError(kind, `model "${this.settings.name}" (${this.provider} at ${this.origin}): ${kindLabel(kind)}: ${detail}`, {
      model: this.settings.name,
      provider: this.provider,
      endpoint: this.origin,
      ...extra,
    });
  }
}

function kindLabel(kind: ModelErrorKind): string {
  switch (kind) {
    case "auth":
      return "authentication failed (check api_key)";
    case "model_missing":
      return "model not found on the server (check model:)";
    case "context_too_long":
      return "the request is longer than the model's context";
    case "rate_limited":
      return "rate limited";
    case "server_error":
      return "server error";
    case "unreachable":
      return "unreachable";
    case "timeout":
      return "timed out";
    case "aborted":
      return "aborted";
    case "bad_request":
      return "request refused";
    case "out_of_memory":
      return "out of memory";
  }
}

/** The server's error text, shortened, with the key removed should the server echo it. */
function describeBody(text: string, apiKey: string | undefined): string {
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    const error = parsed.error;
    if (typeof error === "string") message = error;
    else if (error && typeof error === "object" && typeof (error as { message?: unknown }).message === "string")
      message = (error as { message: string }).message;
    else if (typeof parsed.message === "string") message = parsed.message;
  } catch {
    // not JSON: the raw text
  }
  if (apiKey && apiKey.length >= 4) message = message.split(apiKey).join("[redacted]");
  message = message.replace(/\s+/g, " ").trim();
  if (message.length > 300) message = `${message.slice(0, 300)}…`;
  return message ? `: ${message}` : "";
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code && cause.message && !cause.message.includes(cause.code)) return `${cause.code} (${cause.message})`;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return errorMessage(error);
}

/** Lines of a response body as they arrive (SSE and NDJSON are both line-based). */
export async function* readLines(open: OpenResponse): AsyncGenerator<string> {
  const body = open.response.body;
  if (!body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      open.touch();
      buffer += decoder.decode(chunk, { stream: true });
      let index: number;
      while ((index = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, index).replace(/\r$/, "");
        buffer = buffer.slice(index + 1);
        yield line;
      }
    }
  } catch (error) {
    throw open.bodyError(error);
  } finally {
    open.finish();
  }
  buffer += decoder.decode();
  if (buffer.length > 0) yield buffer.replace(/\r$/, "");
}

/** One server-sent event. */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** Server-sent events of a response body (`event:`/`data:` lines, blank line ends an event). */
export async function* readSse(open: OpenResponse): AsyncGenerator<SseEvent> {
  let event: string | undefined;
  let data: string[] = [];
  for await (const line of readLines(open)) {
    if (line === "") {
      if (data.length > 0) yield { event, data: data.join("\n") };
      event = undefined;
      data = [];
    } else if (line.startsWith(":")) {
      continue;
    } else if (line.startsWith("data:")) {
      data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    } else if (line.startsWith("event:")) {
      event = line.slice(6).trim();
    }
  }
  if (data.length > 0) yield { event, data: data.join("\n") };
}

/** Reads the whole JSON body within the timeout; a body that is not JSON is the server's fault. */
export async function readJson(open: OpenResponse, fail: (detail: string) => Error): Promise<unknown> {
  let text: string;
  try {
    text = await open.response.text();
  } catch (error) {
    throw open.bodyError(error);
  } finally {
    open.finish();
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw fail(`the response is not JSON: ${text.slice(0, 120)}`);
  }
}

/** Parses tool-call arguments that arrive as a JSON string. */
export function parseArguments(text: string | undefined, fail: (detail: string) => Error): Record<string, unknown> {
  if (text === undefined || text.trim() === "") return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw fail(`tool call arguments are not a JSON object: ${text.slice(0, 200)}`);
}
