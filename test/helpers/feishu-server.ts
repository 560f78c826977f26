import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { decodeFrame, encodeFrame, type LarkFrame } from "./lark-frame.js";

/** A message the app sent, as the server received it. */
export interface FeishuSentMessage {
  path: string;
  /** The chat: `receive_id`, or for a reply the chat of the message replied to. */
  receiveId: string | undefined;
  replyTo: string | undefined;
  msgType: string;
  content: Record<string, unknown>;
  uuid: string | undefined;
  token: string;
}

/** A failure to answer instead of the next send: the HTTP status and the Feishu code. */
export interface FeishuFailure {
  status: number;
  code: number;
  msg: string;
}

/**
 * A local stand-in for the Feishu open platform: the tenant token endpoint, message send/reply,
 * the long-connection endpoint and its WebSocket speaking protobuf frames (events pushed, acks read,
 * pings answered). It checks credentials and tokens the way the platform does, so tests can revoke
 * tokens, make sends fail with chosen codes, and count connections.
 */
export class FeishuServer {
  readonly sent: FeishuSentMessage[] = [];
  readonly tokensIssued: string[] = [];
  /** HTTP requests by path (without the query). */
  readonly hits = new Map<string, number>();
  /** Answers for the next sends, in order (then success again). */
  readonly failures: FeishuFailure[] = [];
  /** The long connection's client config (seconds), in the endpoint answer and every pong; reconnects at once in tests. */
  clientConfig = { PingInterval: 120, ReconnectCount: -1, ReconnectInterval: 0, ReconnectNonce: 0 };
  /** Seconds the issued tokens live (`expire`). */
  tokenLifetime = 7200;
  port = 0;
  wsConnections = 0;
  /** TCP connections accepted (HTTP and WebSocket): compared with a proxy's tunnel count, it shows nothing came direct. */
  tcpConnections = 0;
  pings = 0;
  private readonly validTokens = new Set<string>();
  /** Chat of each message id the platform delivered (replies land in the same chat). */
  private readonly chats = new Map<string, string>();
  private readonly sockets = new Set<WebSocket>();
  private readonly acks = new Map<string, (frame: LarkFrame) => void>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private counter = 0;

  constructor(
    readonly appId: string,
    readonly appSecret: string,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on `port` (0: any free one; a restart passes the old port back). */
  async start(port = 0): Promise<this> {
    this.wss = new WebSocketServer({ noServer: true });
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.on("connection", () => (this.tcpConnections += 1));
    this.server.on("upgrade", (request, socket, head) => {
      if (!request.url?.startsWith("/ws")) return socket.destroy();
      this.wss?.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
    });
    await new Promise<void>((done) => this.server?.listen(port, "127.0.0.1", done));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    this.wss?.close();
    this.server?.closeAllConnections();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }

  /** Every issued token stops being valid (as when the platform rotates them). */
  revokeTokens(): void {
    this.validTokens.clear();
  }

  get openSockets(): number {
    return [...this.sockets].filter((socket) => socket.readyState === socket.OPEN).length;
  }

  /**
   * Pushes one event over every open long connection, in `fragments` data frames, and resolves with
   * the client's acknowledgement payload (`{code: 200}` when handled).
   */
  async pushEvent(event: unknown, fragments = 1): Promise<Record<string, unknown>> {
    this.remember(event);
    return this.pushPayload(Buffer.from(JSON.stringify(event)), { fragments });
  }

  /**
   * Pushes a payload as `fragments` data frames (header overrides for malformed-frame tests) and
   * resolves with the acknowledgement's payload.
   */
  async pushPayload(
    data: Buffer,
    options: { fragments?: number; headers?: Record<string, string> } = {},
  ): Promise<Record<string, unknown>> {
    const socket = [...this.sockets].find((candidate) => candidate.readyState === candidate.OPEN);
    if (!socket) throw new Error("no open long connection");
    const fragments = options.fragments ?? 1;
    this.counter += 1;
    const messageId = `msg-${this.counter}`;
    const size = Math.ceil(data.length / fragments);
    const acked = new Promise<LarkFrame>((resolve) => this.acks.set(messageId, resolve));
    for (let seq = 0; seq < fragments; seq += 1) {
      const headers = { type: "event", message_id: messageId, sum: String(fragments), seq: String(seq), trace_id: `trace-${this.counter}` };
      socket.send(
        encodeFrame({
          seqId: this.counter,
          logId: this.counter,
          service: 7,
          method: 1,
          headers: { ...headers, ...options.headers, message_id: messageId },
          payload: data.subarray(seq * size, (seq + 1) * size),
        }),
      );
    }
    const ack = await acked;
    return JSON.parse(ack.payload?.toString() ?? "{}") as Record<string, unknown>;
  }

  /** Notes the chat of an `im.message.receive_v1` event's message, so a reply to it is recorded as sent to that chat. */
  remember(event: unknown): void {
    const message = (event as { event?: { message?: { message_id?: unknown; chat_id?: unknown } } } | undefined)?.event?.message;
    if (typeof message?.message_id === "string" && typeof message.chat_id === "string") this.chats.set(message.message_id, message.chat_id);
  }

  /** Drops every long connection, as the platform does when it rebalances. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  /** Sends raw bytes over the long connection (malformed-frame tests). */
  pushRaw(data: Buffer): void {
    for (const socket of this.sockets) if (socket.readyState === socket.OPEN) socket.send(data);
  }

  private accept(socket: WebSocket): void {
    this.wsConnections += 1;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("message", (data: Buffer) => {
      let frame: LarkFrame;
      try {
        frame = decodeFrame(data);
      } catch {
        return;
      }
      if (frame.method === 0 && frame.headers.type === "ping") {
        this.pings += 1;
        const pong = this.clientConfig;
        socket.send(encodeFrame({ ...frame, headers: { type: "pong" }, payload: Buffer.from(JSON.stringify(pong)) }));
        return;
      }
      const id = frame.headers.message_id;
      if (frame.method === 1 && id) {
        this.acks.get(id)?.(frame);
        this.acks.delete(id);
      }
    });
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", this.baseUrl);
      this.hits.set(url.pathname, (this.hits.get(url.pathname) ?? 0) + 1);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as Record<string, unknown>;
      } catch {
        return this.reply(response, 400, { code: 9499, msg: "bad json" });
      }
      if (request.method !== "POST") return this.reply(response, 404, { code: 404, msg: "not found" });
      if (url.pathname === "/open-apis/auth/v3/tenant_access_token/internal") return this.token(body, response);
      if (url.pathname === "/callback/ws/endpoint") return this.endpoint(body, response);
      const reply = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/reply$/.exec(url.pathname);
      if (url.pathname === "/open-apis/im/v1/messages" || reply) return this.message(request, url, body, reply?.[1], response);
      this.reply(response, 404, { code: 404, msg: "not found" });
    });
  }

  private token(body: Record<string, unknown>, response: ServerResponse): void {
    if (body.app_id !== this.appId || body.app_secret !== this.appSecret)
      return this.reply(response, 200, { code: 10014, msg: "app secret invalid" });
    const token = `t-${randomBytes(8).toString("hex")}`;
    this.tokensIssued.push(token);
    this.validTokens.add(token);
    this.reply(response, 200, { code: 0, msg: "ok", tenant_access_token: token, expire: this.tokenLifetime });
  }

  private endpoint(body: Record<string, unknown>, response: ServerResponse): void {
    if (body.AppID !== this.appId || body.AppSecret !== this.appSecret)
      return this.reply(response, 200, { code: 1000040351, msg: "incorrect app secret" });
    this.reply(response, 200, {
      code: 0,
      msg: "ok",
      data: {
        URL: `ws://127.0.0.1:${this.port}/ws?device_id=device-1&service_id=7`,
        ClientConfig: this.clientConfig,
      },
    });
  }

  private message(
    request: IncomingMessage,
    url: URL,
    body: Record<string, unknown>,
    replyTo: string | undefined,
    response: ServerResponse,
  ): void {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1] ?? "";
    if (!this.validTokens.has(token)) return this.reply(response, 400, { code: 99991663, msg: "Invalid access token for authorization" });
    const failure = this.failures.shift();
    if (failure) return this.reply(response, failure.status, { code: failure.code, msg: failure.msg });
    if (!replyTo && url.searchParams.get("receive_id_type") !== "chat_id")
      return this.reply(response, 400, { code: 99992402, msg: "receive_id_type" });
    let content: Record<string, unknown>;
    try {
      content = JSON.parse(String(body.content)) as Record<string, unknown>;
    } catch {
      return this.reply(response, 400, { code: 230001, msg: "content is not a JSON string" });
    }
    this.sent.push({
      path: url.pathname,
      receiveId: replyTo ? this.chats.get(replyTo) : (body.receive_id as string | undefined),
      replyTo,
      msgType: String(body.msg_type),
      content,
      uuid: body.uuid as string | undefined,
      token,
    });
    const messageId = `om_${this.sent.length}`;
    const chat = this.sent[this.sent.length - 1]?.receiveId;
    if (chat) this.chats.set(messageId, chat);
    this.reply(response, 200, { code: 0, msg: "success", data: { message_id: messageId } });
  }

  private reply(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  }
}

/** Encrypts an event body the way the platform does with an encrypt_key: `{encrypt}`. */
export function encryptEvent(body: unknown, encryptKey: string): string {
  const key = createHash("sha256").update(encryptKey).digest();
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const data = Buffer.concat([iv, cipher.update(JSON.stringify(body)), cipher.final()]);
  return JSON.stringify({ encrypt: data.toString("base64") });
}

/** The headers the platform signs a callback with. */
export function signedHeaders(rawBody: string, encryptKey: string, timestamp = "1700000000", nonce = "nonce-1"): Record<string, string> {
  const signature = createHash("sha256")
    .update(timestamp + nonce + encryptKey + rawBody)
    .digest("hex");
  return {
    "content-type": "application/json",
    "x-lark-request-timestamp": timestamp,
    "x-lark-request-nonce": nonce,
    "x-lark-signature": signature,
  };
}

/** An `im.message.receive_v1` event as Feishu pushes it. */
export function messageEvent(options: {
  text: string;
  chatId?: string;
  userId?: string;
  messageId?: string;
  token?: string;
  type?: string;
}): Record<string, unknown> {
  return {
    schema: "2.0",
    header: {
      event_id: `ev-${options.messageId ?? "1"}`,
      token: options.token ?? "",
      create_time: "1700000000000",
      event_type: "im.message.receive_v1",
      tenant_key: "tenant",
      app_id: "cli_a1b2c3d4e5f6a7b8",
    },
    event: {
      sender: {
        sender_id: { open_id: options.userId ?? "ou_user1", user_id: "u1", union_id: "on_1" },
        sender_type: "user",
        tenant_key: "tenant",
      },
      message: {
        message_id: options.messageId ?? "om_in_1",
        create_time: "1700000000000",
        chat_id: options.chatId ?? "oc_chat1",
        chat_type: "p2p",
        message_type: options.type ?? "text",
        content: JSON.stringify({ text: options.text }),
      },
    },
  };
}
