import type { FastifyInstance, FastifyRequest } from "fastify";
import { errorMessage, LocalAgentError } from "../errors/index.js";

/** A web chat connection as the channel layer sees it. */
export interface ChatSession {
  readonly chatId: string;
  /** One frame from the client (parsed JSON). */
  receive(frame: Record<string, unknown>): void;
  close(): void;
}

/** What the server needs from the channel layer (implemented by ChannelManager). */
export interface ChannelApi {
  list(): unknown[];
  /** True when `name` is a configured channel (its event routes skip the API token: the adapter authenticates them). */
  has(name: string): boolean;
  handleEvent(
    name: string,
    event: unknown,
    headers: Record<string, string | undefined>,
    rawBody: string,
  ): Promise<void | { body: unknown }>;
  listPairing(): unknown[];
  approvePairing(code: string, by: string): unknown;
  revokePairing(user: string, by: string): unknown;
  /** Opens a web chat on a /ws connection (`chatId`: resume that chat); undefined when no webchat channel runs. */
  openChat(send: (frame: string) => void, chatId: string | undefined): ChatSession | undefined;
  /** Reports a refused inbound event (logged and audited). */
  reject(channel: string, reason: string): void;
}

/** Largest platform event body the channel routes accept (Telegram and Feishu events are a few KiB). */
export const CHANNEL_BODY_LIMIT = 1 << 20;

/** Paths whose authentication is the channel adapter's (HMAC, secret token), not the API token. */
export function channelRouteName(url: string, channels: ChannelApi | undefined): string | undefined {
  if (!channels) return undefined;
  const path = url.split("?")[0] ?? "";
  const match =
    /^\/api\/channels\/webhook\/([^/]+)$/.exec(path) ?? /^\/api\/channels\/([^/]+)\/events$/.exec(path) ?? /^\/api\/([^/]+)$/.exec(path);
  const name = match?.[1] ? decodeURIComponent(match[1]) : undefined;
  return name !== undefined && channels.has(name) ? name : undefined;
}

/**
 * `GET /api/channels`, pairing, and the inbound event routes of the channels (raw body kept for
 * signature checks, 1 MiB limit): `POST /api/channels/webhook/:name`, `POST /api/channels/:name/events`,
 * and `POST /api/:name` (the seed's `webhook: https://…/api/telegram`).
 */
export function registerChannelRoutes(app: FastifyInstance, channels: () => ChannelApi | undefined): void {
  const require = (): ChannelApi => {
    const api = channels();
    if (!api) throw new LocalAgentError("unavailable", "the channel layer is not running");
    return api;
  };
  app.get("/api/channels", async () => ({ channels: channels()?.list() ?? [] }));
  app.get("/api/pairing", async () => ({ pairing: require().listPairing() }));
  app.post("/api/pairing/approve", async (request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body.code !== "string" || body.code === "") throw new LocalAgentError("bad_request", 'the body must be {"code": "CODE"}');
    return require().approvePairing(body.code, by(body));
  });
  app.post("/api/pairing/revoke", async (request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body.user !== "string" || body.user === "") throw new LocalAgentError("bad_request", 'the body must be {"user": "USER"}');
    return { revoked: require().revokePairing(body.user, by(body)) };
  });
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string", bodyLimit: CHANNEL_BODY_LIMIT }, (_request, body, done) => done(null, body));
    scope.setErrorHandler((error: unknown, request, reply) => {
      const name = channelName(request);
      const status = error instanceof LocalAgentError ? statusOf(error) : ((error as { statusCode?: number }).statusCode ?? 500);
      const reason = errorMessage(error);
      if (status < 500) channels()?.reject(name, reason);
      else request.log.error({ err: error }, "channel event failed");
      void reply.status(status).send({ error: { code: error instanceof LocalAgentError ? error.code : "bad_request", message: reason } });
    });
    const handle = async (request: FastifyRequest, name: string): Promise<unknown> => {
      const api = require();
      if (!api.has(name)) throw new LocalAgentError("bad_request", `no channel named "${name}"`, { details: { httpStatus: 404 } });
      const raw = typeof request.body === "string" ? request.body : "";
      let event: unknown = raw;
      try {
        event = raw.trim() === "" ? {} : JSON.parse(raw);
      } catch {
        event = raw;
      }
      const reply = await api.handleEvent(name, event, headersOf(request), raw);
      return reply ? reply.body : { ok: true };
    };
    scope.post("/api/channels/webhook/:name", async (request) => handle(request, channelName(request)));
    scope.post("/api/channels/:name/events", async (request) => handle(request, channelName(request)));
    scope.post("/api/:name", async (request) => handle(request, channelName(request)));
  });
}

function channelName(request: FastifyRequest): string {
  return String((request.params as Record<string, string> | undefined)?.name ?? "");
}

function statusOf(error: LocalAgentError): number {
  const explicit = error.details.httpStatus;
  if (typeof explicit === "number") return explicit;
  return error.code === "unavailable" ? 503 : error.code === "bad_request" || error.code === "payload_invalid" ? 400 : 500;
}

function headersOf(request: FastifyRequest): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(request.headers)) headers[key] = Array.isArray(value) ? value.join(", ") : value;
  return headers;
}

function by(body: Record<string, unknown>): string {
  return typeof body.by === "string" && body.by !== "" ? body.by.slice(0, 200) : "api";
}
