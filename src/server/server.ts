import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { WebSocket, WebSocketServer } from "ws";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import type { LocalAgentEvent } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import { channelRouteName, registerChannelRoutes, type ChannelApi, type ChatSession } from "./channel-routes.js";
import type { DaemonApi } from "./daemon-api.js";

export interface ServerOptions {
  host: string;
  port: number;
  token: string | undefined;
  /** Secret values that must never appear in an API error message. */
  secrets?: readonly string[];
  api: DaemonApi;
  /** Where unexpected (5xx) errors are logged. */
  logger?: Logger;
  /** The chat channels: their routes, pairing and web chat on /ws. */
  channels?: ChannelApi | undefined;
}

const STATUS_BY_CODE: Partial<Record<LocalAgentError["code"], number>> = {
  workflow_not_found: 404,
  run_not_found: 404,
  approval_not_found: 404,
  bad_request: 400,
  payload_invalid: 400,
  workflow_invalid: 400,
  conflict: 409,
  unavailable: 503,
};

/** The HTTP + WebSocket interface on 127.0.0.1:8080: REST under /api, events on /ws, /healthz. */
export class HttpServer {
  readonly app: FastifyInstance;
  /** Loaded on the first WebSocket upgrade: an idle daemon without clients does not pay for ws. */
  private sockets: Promise<WebSocketServer> | undefined;

  constructor(private readonly options: ServerOptions) {
    if (!isLoopback(options.host) && !options.token) {
      throw new LocalAgentError(
        "config_invalid",
        `refusing to listen on ${options.host} without a token: set server.token in config.yaml (env:NAME works) or LOCALAGENT_TOKEN`,
      );
    }
    this.app = Fastify({ logger: false, bodyLimit: 4 << 20, forceCloseConnections: true });
    this.app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
      const text = String(body).trim();
      if (text === "") return done(null, {});
      try {
        done(null, JSON.parse(text));
      } catch {
        done(new LocalAgentError("bad_request", "request body is not valid JSON"), undefined);
      }
    });
    this.app.setErrorHandler((error: unknown, request, reply) => {
      const status =
        error instanceof LocalAgentError ? (STATUS_BY_CODE[error.code] ?? 500) : ((error as { statusCode?: number }).statusCode ?? 500);
      const code = error instanceof LocalAgentError ? error.code : status >= 500 ? "internal_error" : "bad_request";
      if (status >= 500 && status !== 503)
        this.options.logger?.error({ err: error, method: request.method, url: request.url.split("?")[0] }, "API request failed");
      // A client error's details are for the client (a refused payload's ajv errors, the missing inputs).
      const details = error instanceof LocalAgentError && status < 500 ? error.details : {};
      void reply.status(status).send({ error: { ...details, code, message: this.redact(errorMessage(error)) } });
    });
    this.app.setNotFoundHandler((request, reply) => {
      void reply.status(404).send({ error: { code: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` } });
    });
    if (options.token) this.app.addHook("onRequest", (request, reply, done) => this.authorize(request, reply, done));
    this.routes();
    this.app.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head));
  }

  async listen(): Promise<string> {
    return this.app.listen({ host: this.options.host, port: this.options.port });
  }

  get port(): number {
    const address = this.app.server.address();
    return typeof address === "object" && address ? address.port : this.options.port;
  }

  async close(): Promise<void> {
    if (this.sockets) {
      const sockets = await this.sockets;
      for (const client of sockets.clients) client.close(1001, "daemon stopping");
      sockets.close();
    }
    await this.app.close();
  }

  private routes(): void {
    const { api } = this.options;
    const app = this.app;
    app.get("/healthz", async () => api.health());
    app.get("/api/workflows", async () => ({ workflows: api.listWorkflows() }));
    app.get("/api/workflows/:name", async (request) => api.getWorkflow(param(request, "name")));
    app.post("/api/workflows/:name/run", async (request, reply) => {
      const body = request.body ?? {};
      if (typeof body !== "object" || Array.isArray(body))
        throw new LocalAgentError("bad_request", "the body must be a JSON object of inputs");
      const query = request.query as Record<string, string | undefined>;
      const wait = query.wait === "1" || query.wait === "true";
      const result = await api.runWorkflow(param(request, "name"), body as Record<string, unknown>, wait);
      return reply.status(wait ? 200 : 202).send(result);
    });
    app.get("/api/runs", async (request) => {
      const query = request.query as Record<string, string | undefined>;
      return {
        runs: api.listRuns({ workflow: query.workflow, status: query.status, limit: positiveInteger(query.limit, "limit") }),
      };
    });
    app.get("/api/runs/:id", async (request) => api.getRun(param(request, "id")));
    app.post("/api/runs/:id/cancel", async (request) => api.cancelRun(param(request, "id")));
    app.post("/api/runs/:id/resume", async (request) => api.resumeRun(param(request, "id")));
    app.post("/api/events/:name", async (request, reply) =>
      reply.status(202).send(api.fireEvent(param(request, "name"), request.body ?? {})),
    );
    app.get("/api/outbox", async (request) => {
      const query = request.query as Record<string, string | undefined>;
      return { deliveries: api.listDeliveries(query.status) };
    });
    app.get("/api/problems", async () => ({ problems: api.problems() }));
    app.get("/api/approvals", async (request) => {
      const query = request.query as Record<string, string | undefined>;
      return { approvals: api.listApprovals(query.status) };
    });
    app.post("/api/approvals/:id", async (request) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const decision = body.decision;
      if (decision !== "approve" && decision !== "deny")
        throw new LocalAgentError("bad_request", 'the body must be {"decision": "approve"} or {"decision": "deny"}');
      const by = typeof body.by === "string" && body.by !== "" ? body.by.slice(0, 200) : "api";
      return api.decideApproval(param(request, "id"), decision, by);
    });
    registerChannelRoutes(app, () => this.options.channels);
  }

  /** Removes configured secret values from text a client will see. */
  private redact(text: string): string {
    let result = text;
    for (const secret of [this.options.token, ...(this.options.secrets ?? [])]) {
      if (secret && secret.length >= 4) result = result.split(secret).join("[redacted]");
    }
    return result;
  }

  private authorize(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (request.url === "/healthz" || hasToken(request.headers.authorization, this.options.token)) return done();
    // A channel's event route is authenticated by its adapter (webhook HMAC, Telegram secret token).
    if (request.method === "POST" && channelRouteName(request.url, this.options.channels) !== undefined) return done();
    void reply.status(401).send({ error: { code: "unauthorized", message: "missing or wrong bearer token" } });
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== "/ws") return void socket.destroy();
    const token = url.searchParams.get("token");
    if (
      this.options.token &&
      !hasToken(request.headers.authorization, this.options.token) &&
      !(token !== null && sameSecret(token, this.options.token))
    ) {
      socket.write("HTTP/1.1 401 Unauthorized\r\n\r\n");
      return void socket.destroy();
    }
    this.sockets ??= import("ws").then(({ WebSocketServer: Server }) => new Server({ noServer: true, maxPayload: 1 << 20 }));
    this.sockets.then(
      (sockets) => sockets.handleUpgrade(request, socket, head, (client) => this.stream(client, url.searchParams.get("run"), url)),
      () => socket.destroy(),
    );
  }

  /** Streams typed events to one WebSocket client, optionally only those of one run. */
  private stream(client: WebSocket, runId: string | null, url: URL): void {
    const unsubscribe = this.options.api.subscribe((event: LocalAgentEvent) => {
      if (runId && (!("runId" in event) || event.runId !== runId)) return;
      if (client.readyState === client.OPEN && client.bufferedAmount < 8 << 20) client.send(JSON.stringify(event));
    });
    client.on("close", unsubscribe);
    client.on("error", unsubscribe);
    let chat: ChatSession | undefined;
    const resume = url.searchParams.get("chat") ?? undefined;
    client.on("close", () => chat?.close());
    client.on("message", (data) => {
      // Pings for liveness; `chat.*` frames are web chat (docs/channels.md), the connection being one chat.
      const text = data.toString();
      if (text === "ping") return void client.send("pong");
      let frame: unknown;
      try {
        frame = JSON.parse(text);
      } catch {
        return void client.send(JSON.stringify({ type: "error", reason: "frames must be JSON objects (or ping)" }));
      }
      if (typeof frame !== "object" || frame === null || Array.isArray(frame) || typeof (frame as { type?: unknown }).type !== "string")
        return void client.send(JSON.stringify({ type: "error", reason: "a frame needs a type" }));
      const record = frame as Record<string, unknown>;
      if (!String(record.type).startsWith("chat."))
        return void client.send(JSON.stringify({ type: "error", reason: `unknown frame type "${String(record.type).slice(0, 40)}"` }));
      const send = (out: string): void => {
        if (client.readyState === client.OPEN && client.bufferedAmount < 8 << 20) client.send(out);
      };
      chat ??= this.options.channels?.openChat(send, typeof record.chat === "string" ? record.chat : resume);
      if (!chat)
        return void client.send(JSON.stringify({ type: "chat.error", reason: "web chat is not enabled (add a webchat platform)" }));
      chat.receive(record);
    });
    client.send(JSON.stringify({ type: "hello", version: this.options.api.health().version }));
  }
}

/** A query parameter that must be a positive integer when given; anything else is the client's mistake. */
function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new LocalAgentError("bad_request", `${name} must be a positive integer, got "${value}"`);
  return number;
}

function param(request: FastifyRequest, name: string): string {
  return String((request.params as Record<string, string>)[name] ?? "");
}

/** A `Bearer <token>` header holding the token, compared in constant time. */
export function hasToken(header: string | undefined, token: string | undefined): boolean {
  if (token === undefined || header === undefined) return false;
  const match = /^Bearer (.+)$/.exec(header);
  return match?.[1] !== undefined && sameSecret(match[1], token);
}

/** Constant-time comparison: both sides are hashed first, so neither the content nor the length leaks through timing. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host.startsWith("127.") || host === "::1" || host === "[::1]";
}
