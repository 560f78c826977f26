import type { Agent } from "node:http";
import type { WebSocket } from "ws";
import { errorMessage, LocalAgentError } from "../../errors/index.js";
import type { Logger } from "../../logger/index.js";
import { decodeFrame, encodeFrame, FRAME_CONTROL, FRAME_DATA, frameHeader, type Frame } from "./frame.js";
import type { JsonRequest, JsonResponse } from "./http-client.js";

export interface LongConnectionOptions {
  appId: string;
  appSecret: string;
  baseUrl: string;
  /** The SOCKS agent (or none) for the WebSocket; `request` carries it for the endpoint call. */
  agent: Agent | undefined;
  request: (request: JsonRequest) => Promise<JsonResponse>;
  logger: Logger;
  /** Called with each event (merged from its frames); the frame is acknowledged once it resolves (500 when it throws). */
  onEvent: (event: unknown) => Promise<void>;
  /** An event that could not be read (bad JSON, bad fragments): acknowledged and reported, never handled. */
  onMalformed: (reason: string) => void;
  /** The connection gave up for good (credentials refused, app not allowed a long connection, retries exhausted). */
  onFailure?: (error: Error) => void;
  onReady?: () => void;
}

/** The running long connection. */
export interface LongConnection {
  readonly connected: boolean;
  close(): void;
}

/** Largest event accepted, all its frames together. */
export const MAX_EVENT_BYTES = 4 << 20;
const MAX_FRAGMENTS = 64;
const FRAGMENT_TTL_MS = 60_000;
/** Endpoint codes worth retrying: system busy, internal error, connection limit. Any other is a configuration problem. */
const RETRYABLE_ENDPOINT_CODES: ReadonlySet<number> = new Set([1, 1000040343, 1000040350]);

interface ClientConfig {
  pingIntervalMs: number;
  reconnectCount: number;
  reconnectIntervalMs: number;
  reconnectNonceMs: number;
}

class FatalConnectionError extends Error {}

/**
 * The event subscription over the WebSocket long connection, speaking the platform's protocol
 * directly (the official SDK does the same at ~48 MB more resident memory): `POST
 * /callback/ws/endpoint` for a URL and client config, then protobuf frames — pings every
 * PingInterval, pongs updating the config, data frames of type event/card split over `sum`
 * frames and each answered with the same frame carrying `{"code": 200}` — and reconnects after
 * ReconnectInterval (doubled per consecutive failure, at most 5 minutes, + a random part of
 * ReconnectNonce), ReconnectCount times (-1: forever).
 */
export function startLongConnection(options: LongConnectionOptions): LongConnection {
  const client = new LongConnectionClient(options);
  client.connect();
  return client;
}

class LongConnectionClient implements LongConnection {
  private closed = false;
  private socket: WebSocket | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private serviceId = 0;
  private config: ClientConfig = { pingIntervalMs: 120_000, reconnectCount: -1, reconnectIntervalMs: 10_000, reconnectNonceMs: 5_000 };
  private readonly fragments = new Map<string, { parts: (Buffer | undefined)[]; size: number; at: number }>();

  constructor(private readonly options: LongConnectionOptions) {}

  get connected(): boolean {
    return this.socket?.readyState === 1;
  }

  connect(): void {
    this.attempt().catch((error: unknown) => this.failed(error));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.pingTimer);
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.removeAllListeners();
      socket.on("error", () => undefined);
      socket.terminate();
    }
    this.fragments.clear();
  }

  private async attempt(): Promise<void> {
    const url = await this.pullEndpoint();
    if (this.closed) return;
    const { WebSocket: Client } = await import("ws");
    if (this.closed) return;
    const socket = new Client(url, { agent: this.options.agent, handshakeTimeout: 15_000, maxPayload: MAX_EVENT_BYTES });
    this.socket = socket;
    socket.on("open", () => {
      this.failures = 0;
      this.ping();
      this.options.onReady?.();
    });
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return this.options.onMalformed("text frame on the long connection");
      void this.receive(socket, data);
    });
    socket.on("unexpected-response", (_request, response) => {
      const status = String(response.headers["handshake-status"] ?? response.statusCode ?? "");
      const message = String(response.headers["handshake-msg"] ?? "").slice(0, 200);
      this.options.logger.warn({ status, reason: message }, "Feishu long connection handshake refused");
      response.resume();
      socket.terminate();
    });
    socket.on("error", (error) => this.options.logger.warn({ reason: error.message }, "Feishu long connection error"));
    socket.on("close", () => {
      clearTimeout(this.pingTimer);
      if (this.socket === socket) this.socket = undefined;
      if (!this.closed) this.retry("connection closed");
    });
  }

  /** `POST /callback/ws/endpoint`: the WebSocket URL (with the service id) and the client config. */
  private async pullEndpoint(): Promise<string> {
    const response = await this.options.request({
      method: "POST",
      url: `${this.options.baseUrl}/callback/ws/endpoint`,
      headers: { locale: "zh" },
      body: { AppID: this.options.appId, AppSecret: this.options.appSecret },
    });
    const body = (response.body ?? {}) as { code?: number; msg?: string; data?: { URL?: unknown; ClientConfig?: Record<string, unknown> } };
    const url = body.data?.URL;
    if (response.status < 300 && body.code === 0 && typeof url === "string") {
      this.serviceId = Number(new URL(url).searchParams.get("service_id") ?? 0) || 0;
      this.applyConfig(body.data?.ClientConfig);
      return url;
    }
    const reason = `Feishu /callback/ws/endpoint answered ${response.status}${body.code === undefined ? "" : `, code ${body.code}`}${body.msg ? ` (${String(body.msg).slice(0, 200)})` : ""}`;
    if (response.status >= 500 || response.status === 429 || (body.code !== undefined && RETRYABLE_ENDPOINT_CODES.has(body.code)))
      throw new LocalAgentError("unavailable", reason, { retryable: true });
    throw new FatalConnectionError(`${reason}: check auth.app_id/app_secret and that the app receives events by long connection`);
  }

  private applyConfig(config: Record<string, unknown> | undefined): void {
    const seconds = (value: unknown, fallback: number): number => (typeof value === "number" && value >= 0 ? value * 1000 : fallback);
    if (!config) return;
    this.config = {
      pingIntervalMs: Math.max(1000, seconds(config.PingInterval, this.config.pingIntervalMs)),
      reconnectCount: typeof config.ReconnectCount === "number" ? config.ReconnectCount : this.config.reconnectCount,
      reconnectIntervalMs: seconds(config.ReconnectInterval, this.config.reconnectIntervalMs),
      reconnectNonceMs: seconds(config.ReconnectNonce, this.config.reconnectNonceMs),
    };
  }

  private failed(error: unknown): void {
    if (this.closed) return;
    if (error instanceof FatalConnectionError) {
      this.closed = true;
      this.options.onFailure?.(error);
      return;
    }
    this.retry(errorMessage(error));
  }

  private retry(reason: string): void {
    this.failures += 1;
    const { reconnectCount, reconnectIntervalMs, reconnectNonceMs } = this.config;
    if (reconnectCount >= 0 && this.failures > reconnectCount) {
      this.closed = true;
      this.options.onFailure?.(new Error(`Feishu long connection: gave up after ${this.failures} attempts (${reason})`));
      return;
    }
    // The platform's interval (at least half a second), doubled per consecutive failure up to 5
    // minutes, so a daemon offline for hours neither spins, hammers the endpoint nor fills the log.
    const base = Math.max(reconnectIntervalMs, 500);
    const backoff = Math.min(base * 2 ** Math.min(this.failures - 1, 10), Math.max(base, 300_000));
    const delay = backoff + Math.floor(Math.random() * reconnectNonceMs);
    this.options.logger.warn({ reason, retry_in_ms: delay }, "Feishu long connection down, reconnecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }

  private ping(): void {
    this.send({ seqId: 0, logId: 0, service: this.serviceId, method: FRAME_CONTROL, headers: [["type", "ping"]] });
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.ping(), this.config.pingIntervalMs);
    this.pingTimer.unref();
  }

  private send(frame: Frame, socket = this.socket): void {
    if (socket?.readyState !== 1) return;
    socket.send(encodeFrame(frame), (error) => {
      if (error) this.options.logger.warn({ reason: error.message }, "Feishu long connection send failed");
    });
  }

  private async receive(socket: WebSocket, data: Buffer): Promise<void> {
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      return this.options.onMalformed(`undecodable frame: ${errorMessage(error)}`);
    }
    const type = frameHeader(frame, "type");
    if (frame.method === FRAME_CONTROL) {
      if (type === "pong" && frame.payload) {
        try {
          this.applyConfig(JSON.parse(frame.payload.toString("utf8")) as Record<string, unknown>);
        } catch {
          this.options.logger.debug("Feishu pong without a readable config");
        }
      }
      return;
    }
    if (frame.method !== FRAME_DATA || (type !== "event" && type !== "card")) return;
    const started = Date.now();
    const event = this.merge(frame);
    if (event === undefined) return;
    let code = 200;
    if (event instanceof Error) this.options.onMalformed(event.message);
    else {
      try {
        await this.options.onEvent(event);
      } catch (error) {
        // Not queued (the store failed): the platform redelivers it.
        code = 500;
        this.options.logger.error({ reason: errorMessage(error) }, "Feishu event not queued");
      }
    }
    const headers: [string, string][] = [...frame.headers, ["biz_rt", String(Date.now() - started)]];
    this.send({ ...frame, headers, payload: Buffer.from(JSON.stringify({ code })) }, socket);
  }

  /** Collects the frames of one event: the parsed JSON when complete, undefined while parts are missing, an Error when unusable. */
  private merge(frame: Frame): unknown {
    const messageId = frameHeader(frame, "message_id") ?? "";
    const sum = Number(frameHeader(frame, "sum") ?? "1");
    const seq = Number(frameHeader(frame, "seq") ?? "0");
    const payload = frame.payload ?? Buffer.alloc(0);
    if (!Number.isInteger(sum) || sum < 1 || sum > MAX_FRAGMENTS || !Number.isInteger(seq) || seq < 0 || seq >= sum)
      return new Error(`event ${messageId.slice(0, 60)} with invalid fragments (sum ${String(sum)}, seq ${String(seq)})`);
    const now = Date.now();
    for (const [id, entry] of this.fragments) if (now - entry.at > FRAGMENT_TTL_MS) this.fragments.delete(id);
    let parts: Buffer[];
    if (sum === 1) parts = [payload];
    else {
      const entry = this.fragments.get(messageId) ?? { parts: new Array<Buffer | undefined>(sum).fill(undefined), size: 0, at: now };
      if (entry.parts.length !== sum) {
        this.fragments.delete(messageId);
        return new Error(`event ${messageId.slice(0, 60)}: fragments disagree on their count`);
      }
      if (!entry.parts[seq]) entry.size += payload.length;
      entry.parts[seq] = payload;
      this.fragments.set(messageId, entry);
      if (entry.size > MAX_EVENT_BYTES) {
        this.fragments.delete(messageId);
        return new Error(`event ${messageId.slice(0, 60)} larger than ${MAX_EVENT_BYTES} bytes`);
      }
      if (entry.parts.some((part) => part === undefined)) return undefined;
      this.fragments.delete(messageId);
      parts = entry.parts as Buffer[];
    }
    try {
      return JSON.parse(Buffer.concat(parts).toString("utf8")) as unknown;
    } catch {
      return new Error(`event ${messageId.slice(0, 60)} is not JSON`);
    }
  }
}
