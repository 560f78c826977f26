import type { Agent } from "node:http";
import { errorMessage, LocalAgentError } from "../../errors/index.js";
import { createSilentLogger, type Logger } from "../../logger/index.js";
import type { Channel, ChannelCapabilities, ChannelContext, ChannelEventReply, OutboundMessage, SentMessage } from "../types.js";
import { decryptEvent, eventSignature, sameSecret, signatureMatches } from "./event-crypto.js";
import { MalformedEventError, parseFeishuEvent, type FeishuEvent } from "./event-parser.js";
import { buildCard, FeishuApi, messageUuid, type FeishuMessageBody } from "./feishu-api.js";
import { feishuOptionsFromPlatform, redactProxy, type FeishuChannelOptions, type FeishuPlatform } from "./feishu-options.js";
import { createJsonClient, type JsonRequest, type JsonResponse } from "./http-client.js";
import { startLongConnection, type LongConnection } from "./long-connection.js";
import { TenantTokenCache } from "./tenant-token.js";
import { splitText } from "./text-split.js";

/** Longest callback body accepted (Feishu's own events are a few KB). */
export const MAX_CALLBACK_BYTES = 1 << 20;

/** The HTTP answer to one event callback. */
export interface CallbackResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface FeishuChannelServices {
  logger?: Logger;
  /** The time (ms), for token expiry; default the clock's, else Date.now. */
  now?: () => number;
  clock?: { now(): number };
}

/** Signals that this callback was refused, and why (logged, and answered with `status`). */
class RejectedEvent extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The Feishu / Lark channel: the tenant token, text and card messages, the event subscription by
 * the WebSocket long connection (mode websocket) and by the HTTP callback (handleEvent, served by
 * the daemon at `POST /api/channels/NAME/events`), all of it through the SOCKS5 proxy when one is
 * configured. An outbound message's `idempotencyKey` becomes Feishu's `uuid` (a resend within the
 * hour is shown once).
 */
export class FeishuChannel implements Channel {
  readonly name: string;
  readonly kind: string;
  readonly capabilities: ChannelCapabilities;
  readonly tokens: TenantTokenCache;
  private readonly api: FeishuApi;
  /**
   * The SOCKS agent, created on first use (socks-proxy-agent is loaded only when a proxy is
   * configured), with keep-alive: without it every request opened a new tunnel (bench/feishu: 0.23×
   * the direct rate, 2,002 tunnels for 2,000 messages; with it 10 tunnels and 0.5–1.2× on a busy 2-core machine).
   */
  private agent: Promise<Agent | undefined> | undefined;
  private readonly request: (request: JsonRequest) => Promise<JsonResponse>;
  private readonly logger: Logger;
  private readonly now: () => number;
  private context: ChannelContext | undefined;
  private connection: LongConnection | undefined;
  /** Inbound events by outcome, for diagnostics and tests. */
  readonly counters = { received: 0, ignored: 0, rejected: 0 };

  constructor(
    private readonly options: FeishuChannelOptions,
    private readonly services: FeishuChannelServices = {},
  ) {
    this.name = options.name;
    this.kind = options.kind ?? "enterprise_im";
    this.capabilities = { maxMessageLength: options.maxMessageLength ?? 7000, formats: ["plain", "markdown"], buttons: true, edit: false };
    this.logger = services.logger ?? createSilentLogger();
    const clock = services.clock;
    this.now = services.now ?? (clock ? () => clock.now() : Date.now);
    let client: Promise<(request: JsonRequest) => Promise<JsonResponse>> | undefined;
    this.request = async (request) => {
      client ??= this.proxyAgent().then((agent) => createJsonClient(agent));
      return (await client)(request);
    };
    const timeoutMs = options.requestTimeoutMs ?? 15_000;
    this.tokens = new TenantTokenCache({
      baseUrl: options.baseUrl,
      appId: options.appId,
      appSecret: options.appSecret,
      request: this.request,
      refreshMarginMs: options.tokenRefreshMarginMs ?? 5 * 60_000,
      now: this.now,
      timeoutMs,
    });
    this.api = new FeishuApi({ baseUrl: options.baseUrl, tokens: this.tokens, request: this.request, timeoutMs });
  }

  async start(context: ChannelContext): Promise<void> {
    this.context = context;
    this.logger.info(
      { mode: this.options.mode, base_url: this.options.baseUrl, proxy: this.options.proxy ? redactProxy(this.options.proxy) : undefined },
      "Feishu channel starting",
    );
    if (this.options.mode !== "websocket") return;
    this.connection?.close();
    this.connection = startLongConnection({
      appId: this.options.appId,
      appSecret: this.options.appSecret,
      baseUrl: this.options.baseUrl,
      agent: await this.proxyAgent(),
      request: this.request,
      logger: this.logger,
      onEvent: (body) => this.dispatchBody(body),
      onMalformed: (reason) => this.report("rejected", reason),
      onReady: () => this.logger.info("Feishu long connection ready"),
      onFailure: (error) => this.logger.error({ reason: this.redact(error.message) }, "Feishu long connection gave up"),
    });
  }

  /** True while the long connection is open (mode websocket). */
  get connected(): boolean {
    return this.connection?.connected ?? false;
  }

  async stop(): Promise<void> {
    this.connection?.close();
    this.connection = undefined;
    this.context = undefined;
    // The proxy agent keeps its tunnels alive between requests; close the idle ones.
    (await this.agent)?.destroy();
  }

  async sendMessage(message: OutboundMessage, signal?: AbortSignal): Promise<SentMessage> {
    if (!message.chatId) throw new LocalAgentError("delivery_failed", `channel ${this.name}: no chat id to send to (set chat_id)`);
    const hasButtons = (message.buttons ?? []).some((row) => row.length > 0);
    if (message.text.trim() === "" && !hasButtons) throw new LocalAgentError("delivery_failed", `channel ${this.name}: empty message`);
    const pieces = splitText(message.text, this.capabilities.maxMessageLength);
    const messageIds: string[] = [];
    // A button press's message id is `CARD_MESSAGE_ID:EVENT_ID` (see the parser): the reply goes to the card.
    const replyTo = message.replyTo?.split(":")[0] || undefined;
    try {
      for (const [index, piece] of pieces.entries()) {
        const last = index === pieces.length - 1;
        const card = message.format === "markdown" || (last && hasButtons);
        const body: FeishuMessageBody = card
          ? { msgType: "interactive", content: buildCard(piece, last ? message.buttons : undefined) }
          : { msgType: "text", content: { text: piece } };
        if (message.idempotencyKey) body.uuid = messageUuid(message.idempotencyKey, index);
        messageIds.push(await this.send(message.chatId, body, index === 0 ? replyTo : undefined, signal));
      }
    } catch (error) {
      throw this.redactError(error);
    }
    return { messageIds };
  }

  /** One API send; a reply whose target is gone (withdrawn, not found) goes to the chat instead. */
  private async send(chatId: string, body: FeishuMessageBody, replyTo: string | undefined, signal?: AbortSignal): Promise<string> {
    if (!replyTo) return this.api.send(chatId, body, undefined, signal);
    try {
      return await this.api.send(chatId, body, replyTo, signal);
    } catch (error) {
      if (!(error instanceof LocalAgentError) || error.retryable) throw error;
      this.logger.warn({ reason: this.redact(error.message), reply_to: replyTo }, "Feishu reply refused; sending to the chat instead");
      return this.api.send(chatId, body, undefined, signal);
    }
  }

  /**
   * The contract's webhook entry (the daemon's channel routes): `rawBody` is the exact text received
   * (else `event` itself when a string, else its JSON). Resolves with the answer to send (the
   * url_verification challenge); a refused callback throws `bad_request` with the HTTP status in
   * `details.httpStatus`, and the route logs and audits its reason.
   */
  async handleEvent(event: unknown, headers: Record<string, string | undefined>, rawBody?: string): Promise<void | ChannelEventReply> {
    const raw = rawBody ?? (typeof event === "string" || Buffer.isBuffer(event) ? event : JSON.stringify(event));
    try {
      const reply = await this.verifyAndDispatch(raw, headers);
      if (reply.body.challenge !== undefined) return { body: reply.body };
    } catch (error) {
      const { status, reason } = this.rejection(error);
      if (status >= 500) throw error;
      throw new LocalAgentError("bad_request", reason, { details: { httpStatus: status } });
    }
  }

  /**
   * One HTTP event callback, answered here: size, signature (encrypt_key), decryption, verification
   * token, then url_verification is answered and messages are queued. Never throws; a refused
   * callback is logged with its reason and answered 4xx.
   */
  async handleCallback(rawBody: string | Buffer, headers: Record<string, string | string[] | undefined>): Promise<CallbackResponse> {
    try {
      return await this.verifyAndDispatch(rawBody, headers);
    } catch (error) {
      const { status, reason } = this.rejection(error);
      this.logger.warn({ reason, status }, "Feishu callback rejected");
      return { status, body: { code: status, msg: reason } };
    }
  }

  /** A refused callback: counted, with the HTTP status to answer and its reason (no secret in it). */
  private rejection(error: unknown): { status: number; reason: string } {
    this.counters.rejected += 1;
    const status = error instanceof RejectedEvent ? error.status : error instanceof MalformedEventError ? 400 : 500;
    return { status, reason: this.redact(errorMessage(error)) };
  }

  private async verifyAndDispatch(
    rawBody: string | Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<CallbackResponse> {
    if (!this.context) throw new RejectedEvent(503, `channel ${this.name} is not running`);
    const { encryptKey, verificationToken } = this.options;
    if (!encryptKey && !verificationToken)
      throw new RejectedEvent(403, `channel ${this.name}: HTTP callbacks need verification_token or encrypt_key configured`);
    const size = Buffer.byteLength(rawBody);
    if (size > MAX_CALLBACK_BYTES)
      throw new RejectedEvent(413, `callback body of ${size} bytes is over the ${MAX_CALLBACK_BYTES}-byte limit`);
    const text = rawBody.toString();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RejectedEvent(400, "callback body is not valid JSON");
    }
    const header = (name: string): string | undefined => {
      const value = headers[name] ?? headers[name.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    };
    let signed = false;
    const signature = header("x-lark-signature");
    if (encryptKey && signature !== undefined) {
      const expected = eventSignature(header("x-lark-request-timestamp") ?? "", header("x-lark-request-nonce") ?? "", encryptKey, text);
      if (!signatureMatches(expected, signature))
        throw new RejectedEvent(401, "X-Lark-Signature does not match (wrong encrypt_key, or a forged request)");
      signed = true;
    }
    if (typeof body === "object" && body !== null && typeof (body as { encrypt?: unknown }).encrypt === "string") {
      if (!encryptKey) throw new RejectedEvent(400, "encrypted callback but no encrypt_key is configured");
      try {
        body = JSON.parse(decryptEvent((body as { encrypt: string }).encrypt, encryptKey));
      } catch {
        throw new RejectedEvent(400, "cannot decrypt the callback (wrong encrypt_key?)");
      }
    }
    const event = parseFeishuEvent(body);
    const tokenOk = verificationToken ? sameSecret(verificationToken, event.token) : false;
    if (verificationToken && event.token !== undefined && !tokenOk) throw new RejectedEvent(401, "verification token does not match");
    if (event.kind === "challenge") {
      if (!tokenOk && !(encryptKey && !verificationToken)) throw new RejectedEvent(401, "url_verification without the verification token");
      return { status: 200, body: { challenge: event.challenge } };
    }
    // An event is authentic when its signature checks out, or when it carries the verification token.
    if (!signed && !tokenOk) {
      throw new RejectedEvent(401, encryptKey ? "event without a valid X-Lark-Signature" : "event without the verification token");
    }
    await this.dispatch(event);
    return { status: 200, body: {} };
  }

  /** An event body from the long connection (authenticated by the connection itself). */
  private async dispatchBody(body: unknown): Promise<void> {
    let event: FeishuEvent;
    try {
      event = parseFeishuEvent(body);
    } catch (error) {
      // Malformed: reported and acknowledged, never redelivered forever.
      this.report("rejected", errorMessage(error));
      return;
    }
    await this.dispatch(event);
  }

  /** Hands a verified event to the context; the caller acknowledges once this resolves. */
  private async dispatch(event: FeishuEvent): Promise<void> {
    const context = this.context;
    if (!context) throw new LocalAgentError("unavailable", `channel ${this.name} is not running`);
    if (event.kind === "ignored" || event.kind === "challenge") {
      // Acknowledged (so the platform does not redeliver it), and reported with its reason.
      const reason = event.kind === "ignored" ? event.reason : "url_verification on the long connection";
      this.report("ignored", reason, event.kind === "ignored" && event.eventId ? { event_id: event.eventId } : {});
      return;
    }
    this.counters.received += 1;
    await context.receive({ ...event.message, channel: this.name, receivedAt: this.now() });
  }

  /**
   * An event refused or ignored: counted, and reported through the context's `reject` when it has
   * one (the channel manager logs and audits it), else logged here.
   */
  private report(outcome: "rejected" | "ignored", reason: string, details: Record<string, unknown> = {}): void {
    this.counters[outcome] += 1;
    const context = this.context;
    if (context?.reject) context.reject(outcome === "ignored" ? `ignored: ${reason}` : reason, details);
    else if (outcome === "ignored") this.logger.info({ reason, ...details }, "Feishu event ignored");
    else this.logger.warn({ reason, ...details }, "Feishu event rejected");
  }

  private proxyAgent(): Promise<Agent | undefined> {
    const proxy = this.options.proxy;
    this.agent ??= proxy
      ? import("socks-proxy-agent").then(({ SocksProxyAgent }) => new SocksProxyAgent(proxy, { keepAlive: true }))
      : Promise.resolve(undefined);
    return this.agent;
  }

  private redact(text: string): string {
    let result = text;
    for (const secret of [this.options.appSecret, this.options.encryptKey, this.options.verificationToken]) {
      if (secret && secret.length >= 4) result = result.split(secret).join("[redacted]");
    }
    if (this.options.proxy) {
      const password = safeUrl(this.options.proxy)?.password;
      if (password) result = result.split(decodeURIComponent(password)).join("[redacted]");
    }
    return result;
  }

  private redactError(error: unknown): unknown {
    if (!(error instanceof LocalAgentError))
      return new LocalAgentError("delivery_failed", this.redact(errorMessage(error)), { retryable: true });
    const message = this.redact(error.message);
    return message === error.message
      ? error
      : new LocalAgentError(error.code, message, { retryable: error.retryable, details: error.details });
  }
}

/** The channel factory (`registerChannelKind("feishu", createFeishuChannel)`): throws `config_invalid` naming the field. */
export function createFeishuChannel(platform: FeishuPlatform, services: FeishuChannelServices = {}): FeishuChannel {
  return new FeishuChannel(feishuOptionsFromPlatform(platform), services);
}

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
