import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Agent } from "node:http";
import { Api } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import { LocalAgentError } from "../../errors/index.js";
import { createSilentLogger, type Logger } from "../../logger/index.js";
import type { Channel, ChannelCapabilities, ChannelContext, InboundMessage, OutboundMessage, SentMessage } from "../types.js";
import { renderMessage, TELEGRAM_MAX_MESSAGE_LENGTH, type TelegramMessageParser } from "./render.js";
import { classifyTelegramError, redactToken, toDeliveryError } from "./telegram-errors.js";
import { createMemoryUpdateOffset, stateUpdateOffset, type UpdateOffsetStore } from "./update-offset.js";
import { parseUpdate } from "./updates.js";

/** The header Telegram sends with each webhook call when setWebhook was given a secret_token. */
export const TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token";

export interface TelegramPollingOptions {
  /** Long-poll timeout in seconds passed to getUpdates (default 30). */
  timeoutSeconds?: number;
  /** First wait after an error or an empty answer that came back early; doubles up to maxBackoffMs (default 500). */
  minBackoffMs?: number;
  /** Longest wait between two getUpdates calls that failed or came back empty at once (default 10,000). */
  maxBackoffMs?: number;
}

/** A resolved Telegram platform entry (config is validated before it gets here). */
export interface TelegramChannelOptions {
  /** The platform entry's name. */
  name: string;
  /** The bot token (already resolved from `env:`/`file:`). Never logged. */
  token: string;
  /** A self-hosted Bot API server instead of https://api.telegram.org (no trailing slash needed). */
  apiRoot?: string;
  /** How plain text is rendered (default markdown_v2). */
  messageParser?: TelegramMessageParser;
  /** Webhook mode: Telegram POSTs updates to this public URL; the daemon serves its path. Polling when absent. */
  webhookUrl?: string;
  /** Secret token for the webhook header; a random one per start when absent. */
  webhookSecret?: string;
  polling?: TelegramPollingOptions;
  /** Durable offset of the next update (default: in memory). */
  offsetStore?: UpdateOffsetStore;
  logger?: Logger;
  /** Longest wait for a 429's retry_after inside one send before handing the retry to the outbox (default 5 s). */
  maxInlineRetryAfterSeconds?: number;
  /** Longest part of a split message (default and maximum 4096). */
  maxMessageLength?: number;
  /** HTTP agent for every Bot API call (a SOCKS proxy from `proxy:`). */
  agent?: Agent;
  /** Called when getUpdates works again after failures: the outbox can send what waited at once. */
  onReachable?: () => void;
  /** Waits between polls and retries (default: a timer that an abort cuts short); tests record the waits. */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

const TOKEN_SHAPE = /^\d+:[\w-]{20,}$/;
const ALLOWED_UPDATES = ["message", "callback_query"] as const;

/**
 * The Telegram adapter (grammY's Api client): long polling with a durable offset and back-off, or a
 * webhook with a secret token; MarkdownV2/HTML/plain rendering split into 4096-character parts;
 * inline-keyboard buttons whose presses come back as InboundMessage.action.
 */
export class TelegramChannel implements Channel {
  readonly kind = "telegram";
  readonly name: string;
  readonly capabilities: ChannelCapabilities;
  /** The route the daemon serves for the webhook (the path of `webhook:`), undefined when polling. */
  readonly webhookPath: string | undefined;
  private readonly api: Api;
  private readonly logger: Logger;
  private readonly parser: TelegramMessageParser;
  private offsetStore: UpdateOffsetStore;
  private readonly secret: string;
  private context: ChannelContext | undefined;
  private controller = new AbortController();
  private loop: Promise<void> | undefined;
  /** Parts already sent of a split message whose send failed half way, so a retry does not repeat them. */
  private readonly partial = new Map<string, string[]>();
  private readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;

  constructor(private readonly options: TelegramChannelOptions) {
    this.name = options.name;
    this.parser = options.messageParser ?? "markdown_v2";
    this.sleep = options.sleep ?? sleep;
    this.logger = (options.logger ?? createSilentLogger()).child({ channel: options.name, kind: "telegram" });
    this.offsetStore = options.offsetStore ?? createMemoryUpdateOffset();
    this.secret = options.webhookSecret ?? randomBytes(32).toString("hex");
    this.webhookPath = options.webhookUrl === undefined ? undefined : new URL(options.webhookUrl).pathname;
    const maxMessageLength = Math.min(options.maxMessageLength ?? TELEGRAM_MAX_MESSAGE_LENGTH, TELEGRAM_MAX_MESSAGE_LENGTH);
    this.capabilities = { maxMessageLength, formats: ["plain", "markdown", "markdown_v2", "html"], buttons: true, edit: false };
    const apiRoot = options.apiRoot?.replace(/\/+$/, "");
    this.api = new Api(options.token, {
      ...(apiRoot === undefined ? {} : { apiRoot }),
      ...(options.agent === undefined ? {} : { baseFetchConfig: { agent: options.agent, compress: true } }),
    });
  }

  async start(context: ChannelContext): Promise<void> {
    if (!TOKEN_SHAPE.test(this.options.token)) {
      throw new LocalAgentError(
        "config_invalid",
        `telegram channel "${this.name}": auth is not a bot token (expected the form 123456789:AA…, from @BotFather); the channel is not started`,
      );
    }
    this.context = context;
    if (this.loop) return; // already running
    // The manager's durable state keeps the offset across restarts; an explicit offsetStore wins (tests).
    if (!this.options.offsetStore && context.state) this.offsetStore = stateUpdateOffset(context.state);
    if (this.controller.signal.aborted) this.controller = new AbortController();
    const signal = this.controller.signal;
    const loop = this.options.webhookUrl === undefined ? this.poll(signal) : this.registerWebhook(signal);
    // The loops handle their own errors; this only keeps a bug in them from becoming an unhandled rejection.
    this.loop = loop.catch((error: unknown) => {
      const failure = classifyTelegramError(error, this.options.token);
      this.logger.error({ reason: failure.reason }, `telegram channel stopped receiving: ${failure.reason}`);
    });
    await Promise.resolve();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
    this.loop = undefined;
    this.context = undefined;
  }

  async sendMessage(message: OutboundMessage, signal?: AbortSignal): Promise<SentMessage> {
    const rendered = renderMessage(message.text, message.format, this.parser, this.capabilities.maxMessageLength);
    if (rendered.parts.length === 0) throw this.permanent(message.chatId, "the message text is empty");
    const replyMarkup = message.buttons ? this.keyboard(message.chatId, message.buttons) : undefined;
    const key = partialKey(message);
    const sent = this.partial.get(key) ?? this.storedPartial(key);
    for (let index = sent.length; index < rendered.parts.length; index++) {
      const last = index === rendered.parts.length - 1;
      const replyTo = index === 0 && message.replyTo !== undefined ? Number(message.replyTo) : undefined;
      const other = {
        ...(rendered.parseMode ? { parse_mode: rendered.parseMode } : {}),
        ...(last && replyMarkup ? { reply_markup: replyMarkup } : {}),
        ...(replyTo !== undefined && Number.isSafeInteger(replyTo)
          ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } }
          : {}),
      };
      const result = await this.withRetryAfter(message.chatId, key, signal, () =>
        this.api.sendMessage(chatIdParameter(message.chatId), rendered.parts[index]!, other, apiSignal(signal)),
      );
      sent.push(String(result.message_id));
      this.remember(key, sent);
    }
    this.forget(key, sent.length > 1);
    return { messageIds: sent };
  }

  async handleEvent(event: unknown, headers: Record<string, string | undefined>, _rawBody?: string): Promise<void> {
    if (this.webhookPath === undefined) {
      throw new LocalAgentError("bad_request", `telegram channel "${this.name}" uses long polling, not a webhook`);
    }
    if (!this.verifySecret(headers[TELEGRAM_SECRET_HEADER])) {
      // The route reports the refusal (logged and audited by the manager); answering 401 makes Telegram retry later.
      throw new LocalAgentError("bad_request", `telegram channel "${this.name}": missing or wrong X-Telegram-Bot-Api-Secret-Token header`, {
        details: { httpStatus: 401 },
      });
    }
    await this.processUpdate(event);
  }

  /** Constant-time check of the webhook's secret token header. */
  verifySecret(given: string | undefined): boolean {
    if (given === undefined) return false;
    const digest = (value: string) => createHash("sha256").update(value).digest();
    return timingSafeEqual(digest(given), digest(this.secret));
  }

  /** Queues one update's message (if any), then answers a button press; ignored updates are logged. */
  private async processUpdate(update: unknown): Promise<void> {
    const parsed = parseUpdate(update, this.name, Date.now());
    if (parsed.kind === "ignored") {
      const details = { update_id: parsed.updateId };
      if (this.context?.reject) this.context.reject(`telegram update ignored: ${parsed.reason}`, details);
      else this.logger.warn({ ...details, reason: parsed.reason }, `telegram update ignored: ${parsed.reason}`);
      return;
    }
    const context = this.context;
    if (!context) throw new LocalAgentError("unavailable", `telegram channel "${this.name}" is not started`, { retryable: true });
    await context.receive(parsed.message);
    // Not awaited: a slow Bot API must not hold up a webhook answer or the next poll (it logs its own failure).
    if (parsed.callbackQueryId !== undefined) void this.answerCallback(parsed.callbackQueryId, parsed.message);
  }

  private async answerCallback(id: string, message: InboundMessage): Promise<void> {
    try {
      await this.api.answerCallbackQuery(id, {}, apiSignal(this.controller.signal));
    } catch (error) {
      // The press is queued already; a missing answer only leaves the button's spinner on for a while.
      const failure = classifyTelegramError(error, this.options.token);
      this.logger.warn({ chat: message.chatId, reason: failure.reason }, "answerCallbackQuery failed");
    }
  }

  /** Long polling: getUpdates from the stored offset, each update queued before the offset moves on. */
  private async poll(signal: AbortSignal): Promise<void> {
    const polling = this.options.polling ?? {};
    const timeoutSeconds = polling.timeoutSeconds ?? 30;
    const minBackoff = polling.minBackoffMs ?? 500;
    const maxBackoff = Math.max(minBackoff, polling.maxBackoffMs ?? 10_000);
    let backoff = 0;
    let webhookCleared = false;
    let failing = false;
    while (!signal.aborted) {
      const startedAt = Date.now();
      try {
        if (!webhookCleared) {
          // A webhook left registered makes getUpdates fail with 409; pending updates are kept.
          await this.api.deleteWebhook({ drop_pending_updates: false }, apiSignal(signal));
          webhookCleared = true;
        }
        const offset = this.offsetStore.load();
        const failedBefore = failing;
        const updates = await this.api.getUpdates(
          { ...(offset === undefined ? {} : { offset }), timeout: timeoutSeconds, allowed_updates: [...ALLOWED_UPDATES] },
          apiSignal(signal),
        );
        failing = false;
        if (failedBefore) this.options.onReachable?.();
        let confirmed = 0;
        for (const update of updates as unknown[]) {
          if (signal.aborted) return;
          await this.processUpdate(update);
          const updateId = (update as { update_id?: unknown } | null)?.update_id;
          if (typeof updateId === "number" && Number.isSafeInteger(updateId) && updateId >= (offset ?? 0)) {
            this.offsetStore.save(updateId + 1);
            confirmed++;
          }
        }
        // Nothing new long before the timeout: the server does not long-poll, or keeps sending what it
        // cannot be told is done (entries without an update_id). Back off instead of spinning.
        const early = confirmed === 0 && Date.now() - startedAt < (timeoutSeconds * 1000) / 2;
        backoff = early ? Math.min(maxBackoff, Math.max(minBackoff, backoff * 2)) : 0;
      } catch (error) {
        if (signal.aborted) return;
        const failure = classifyTelegramError(error, this.options.token);
        failing = failure.status === undefined || failure.status >= 500;
        backoff = failure.status === 401 || failure.status === 404 ? maxBackoff : Math.min(maxBackoff, Math.max(minBackoff, backoff * 2));
        const level = failure.status === 401 || failure.status === 404 ? "error" : "warn";
        this.logger[level]({ reason: failure.reason, retry_in_ms: backoff }, `telegram polling failed: ${failure.reason}`);
      }
      if (backoff > 0) await this.sleep(backoff, signal);
    }
  }

  /** Webhook mode: registers the URL with its secret token, retrying with back-off until it succeeds. */
  private async registerWebhook(signal: AbortSignal): Promise<void> {
    let backoff = 1000;
    while (!signal.aborted) {
      try {
        await this.api.setWebhook(
          this.options.webhookUrl!,
          { secret_token: this.secret, allowed_updates: [...ALLOWED_UPDATES], drop_pending_updates: false },
          apiSignal(signal),
        );
        this.logger.info({ path: this.webhookPath }, "telegram webhook registered");
        return;
      } catch (error) {
        if (signal.aborted) return;
        const failure = classifyTelegramError(error, this.options.token);
        this.logger.warn({ reason: failure.reason, retry_in_ms: backoff }, `telegram setWebhook failed: ${failure.reason}`);
        await this.sleep(backoff, signal);
        backoff = Math.min(backoff * 2, this.options.polling?.maxBackoffMs ?? 60_000);
      }
    }
  }

  /** One Bot API call; a short 429 is waited out here, anything else becomes the outbox's error. */
  private async withRetryAfter<T>(chatId: string, key: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const maxWait = this.options.maxInlineRetryAfterSeconds ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const failure = classifyTelegramError(error, this.options.token);
        if (failure.status === 429 && failure.retryAfter !== undefined && failure.retryAfter <= maxWait && attempt < 3) {
          await this.sleep(failure.retryAfter * 1000, signal);
          if (!signal?.aborted) continue;
        }
        if (!failure.retryable) this.forget(key, true);
        this.logger.warn({ chat: chatId, reason: failure.reason, retryable: failure.retryable }, "telegram send failed");
        throw toDeliveryError(this.name, failure, chatId);
      }
    }
  }

  private keyboard(chatId: string, rows: NonNullable<OutboundMessage["buttons"]>): InlineKeyboardMarkup {
    for (const row of rows) {
      for (const button of row) {
        // Telegram limits callback_data to 64 bytes; a longer one would be refused on every retry.
        if (Buffer.byteLength(button.action, "utf8") > 64) {
          throw this.permanent(chatId, `button "${button.text}" has an action longer than 64 bytes`);
        }
      }
    }
    return { inline_keyboard: rows.map((row) => row.map((button) => ({ text: button.text, callback_data: button.action }))) };
  }

  private permanent(chatId: string, reason: string): LocalAgentError {
    return new LocalAgentError(
      "delivery_failed",
      `telegram channel "${this.name}", chat ${chatId}: ${redactToken(reason, this.options.token)}`,
    );
  }

  private remember(key: string, sent: string[]): void {
    this.partial.delete(key);
    this.partial.set(key, sent);
    if (this.partial.size > 100) this.partial.delete(this.partial.keys().next().value!);
    // Durable too (the manager's channel state), so a daemon restarted half way through a split
    // message does not send its first parts again.
    this.context?.state?.set(PARTIAL_STATE_PREFIX + key, sent);
  }

  private storedPartial(key: string): string[] {
    const stored = this.context?.state?.get(PARTIAL_STATE_PREFIX + key);
    return Array.isArray(stored) ? stored.map(String) : [];
  }

  private forget(key: string, stored: boolean): void {
    this.partial.delete(key);
    if (stored) this.context?.state?.delete?.(PARTIAL_STATE_PREFIX + key);
  }
}

/** Channel-state key prefix of a split message's sent parts. */
const PARTIAL_STATE_PREFIX = "telegram.partial.";

function partialKey(message: OutboundMessage): string {
  const content = JSON.stringify([message.text, message.format ?? null, message.buttons ?? null, message.replyTo ?? null]);
  return `${message.chatId}\u0000${createHash("sha256").update(content).digest("hex")}`;
}

/** Telegram takes a numeric chat id or an `@channelusername`. */
function chatIdParameter(chatId: string): number | string {
  return /^-?\d+$/.test(chatId) ? Number(chatId) : chatId;
}

/** grammY types its signals with an AbortController polyfill; Node's own signal works the same at run time. */
type ApiSignal = Parameters<Api["getMe"]>[0];

function apiSignal(signal: AbortSignal | undefined): ApiSignal {
  return signal as unknown as ApiSignal;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Creates the Telegram adapter for one platform entry. */
export function createTelegramChannel(options: TelegramChannelOptions): TelegramChannel {
  return new TelegramChannel(options);
}
