import { createHash, randomBytes } from "node:crypto";
import { LocalAgentError } from "../../errors/index.js";
import type { ChatSession } from "../../server/index.js";
import type { PlatformConfig } from "../platform-config.js";
import type { ChannelServices } from "../registry.js";
import { splitMessage } from "../split.js";
import type { Channel, ChannelCapabilities, ChannelContext, OutboundMessage, SentMessage } from "../types.js";

/** Longest web chat text frame: the dashboard renders long text fine, but a frame stays bounded. */
const DEFAULT_MAX_LENGTH = 16_000;
const MAX_INBOUND_TEXT = 16_000;
/** How long a reply waits for a receipt from a client that sends them, before the outbox tries again. */
const DEFAULT_RECEIPT_TIMEOUT_MS = 10_000;

/** One connected client; `receipts` once it said it confirms replies (`chat.open` with `receipts: true`, or any `chat.received`). */
interface Client {
  send: (frame: string) => void;
  receipts: boolean;
}

/**
 * Web chat over the daemon's `/ws` (token on connect, like the rest of the API). Each connection is
 * one chat; `?chat=ID` (or `chat` in the first frame) resumes an earlier one, and replies queued
 * while no client was connected are delivered when one is (the outbox retries; reconnecting wakes it).
 *
 * Client → daemon: `{"type":"chat.message","id":"c1","text":"hi"}`, `{"type":"chat.action","id":"c2","action":"approve:ap_…"}`.
 * Daemon → client: `{"type":"chat.opened","chat":ID}`, `{"type":"chat.ack","id":"c1"}` (durably queued),
 * `{"type":"chat.reply","chat":ID,"id":…,"text":…,"replyTo"?,"buttons"?}`, `{"type":"chat.error","id"?,"reason":…}`.
 *
 * Receipts (opt-in): a client that sends `{"type":"chat.open","receipts":true}` (or any
 * `{"type":"chat.received","id":REPLY_ID}`) confirms each reply; a reply then counts as delivered
 * only once a client confirmed it, else the outbox sends it again (same `id`: the client drops repeats).
 */
export class WebChatChannel implements Channel {
  readonly kind = "webchat";
  readonly capabilities: ChannelCapabilities;
  private context: ChannelContext | undefined;
  private readonly sessions = new Map<string, Set<Client>>();
  private readonly awaiting = new Map<string, () => void>();
  private sequence = 0;

  constructor(
    readonly name: string,
    private readonly services: Pick<ChannelServices, "wake" | "clock">,
    maxMessageLength = DEFAULT_MAX_LENGTH,
    private readonly receiptTimeoutMs = DEFAULT_RECEIPT_TIMEOUT_MS,
  ) {
    this.capabilities = { maxMessageLength, formats: ["plain", "markdown"], buttons: true, edit: false };
  }

  start(context: ChannelContext): Promise<void> {
    this.context = context;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.context = undefined;
    return Promise.resolve();
  }

  /** Connected clients of a chat. */
  connections(chatId: string): number {
    return this.sessions.get(chatId)?.size ?? 0;
  }

  /** Chats with at least one client connected now. */
  connectedChats(): string[] {
    return [...this.sessions.keys()];
  }

  /** A /ws connection joins a chat (a new one, or `resume`). */
  attach(send: (frame: string) => void, resume: string | undefined): ChatSession {
    const chatId = resume && /^[A-Za-z0-9_-]{1,64}$/.test(resume) ? resume : `wc_${randomBytes(9).toString("base64url")}`;
    let set = this.sessions.get(chatId);
    if (!set) this.sessions.set(chatId, (set = new Set()));
    const client: Client = { send, receipts: false };
    set.add(client);
    send(JSON.stringify({ type: "chat.opened", chat: chatId }));
    // Replies that waited for a client go now.
    this.services.wake();
    return {
      chatId,
      receive: (frame) => void this.receiveFrame(chatId, frame, client),
      close: () => {
        set.delete(client);
        if (set.size === 0) this.sessions.delete(chatId);
      },
    };
  }

  async sendMessage(message: OutboundMessage): Promise<SentMessage> {
    const clients = this.sessions.get(message.chatId);
    if (!clients || clients.size === 0)
      throw new LocalAgentError("delivery_failed", `no web chat client connected to chat ${message.chatId}`, { retryable: true });
    const pieces = splitMessage(message.text, this.capabilities.maxMessageLength);
    const messageIds: string[] = [];
    pieces.forEach((text, index) => {
      // Derived from the delivery's key when there is one, so a resent reply keeps its id.
      const id = message.idempotencyKey
        ? `m_${createHash("sha256").update(`${message.idempotencyKey}\u0000${index}`).digest("base64url").slice(0, 16)}`
        : `m${this.services.clock.now().toString(36)}${(++this.sequence).toString(36)}`;
      messageIds.push(id);
      const last = index === pieces.length - 1;
      const frame = JSON.stringify({
        type: "chat.reply",
        chat: message.chatId,
        id,
        text,
        ...(message.replyTo ? { replyTo: message.replyTo } : {}),
        ...(last && message.buttons ? { buttons: message.buttons } : {}),
        ...(pieces.length > 1 ? { part: index + 1, parts: pieces.length } : {}),
      });
      for (const client of clients) client.send(frame);
    });
    if ([...clients].some((client) => client.receipts)) await this.receipt(message.chatId, messageIds.at(-1)!);
    return { messageIds };
  }

  /** Waits until a client confirms the reply `id` (its last part), or fails retryable after the timeout. */
  private receipt(chatId: string, id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.awaiting.delete(id);
        reject(new LocalAgentError("delivery_failed", `web chat ${chatId}: no client confirmed reply ${id}`, { retryable: true }));
      }, this.receiptTimeoutMs);
      timer.unref?.();
      this.awaiting.set(id, () => {
        clearTimeout(timer);
        this.awaiting.delete(id);
        resolve();
      });
    });
  }

  private async receiveFrame(chatId: string, frame: Record<string, unknown>, client: Client): Promise<void> {
    const send = client.send;
    const id = typeof frame.id === "string" || typeof frame.id === "number" ? String(frame.id).slice(0, 100) : undefined;
    const refuse = (reason: string): void => {
      this.context?.reject?.(reason, { chatId });
      send(JSON.stringify({ type: "chat.error", ...(id ? { id } : {}), reason }));
    };
    if (!this.context) return refuse("web chat is not running");
    let text = "";
    let action: string | undefined;
    if (frame.type === "chat.message") {
      if (typeof frame.text !== "string" || frame.text.trim() === "") return refuse("chat.message needs a non-empty text");
      if (frame.text.length > MAX_INBOUND_TEXT) return refuse(`text is longer than ${MAX_INBOUND_TEXT} characters`);
      text = frame.text;
    } else if (frame.type === "chat.action") {
      if (typeof frame.action !== "string" || frame.action === "" || frame.action.length > 200)
        return refuse("chat.action needs an action");
      action = frame.action;
    } else if (frame.type === "chat.received") {
      client.receipts = true;
      if (id) this.awaiting.get(id)?.();
      return;
    } else if (frame.type === "chat.resume" || frame.type === "chat.open") {
      if (frame.receipts === true) client.receipts = true;
      return;
    } else {
      return refuse(`unknown frame type "${String(frame.type).slice(0, 40)}"`);
    }
    try {
      await this.context.receive({
        channel: this.name,
        chatId,
        userId: "owner",
        userName: "web",
        messageId: id ?? `s${this.services.clock.now().toString(36)}${(++this.sequence).toString(36)}`,
        text,
        ...(action ? { action } : {}),
        receivedAt: this.services.clock.now(),
      });
      send(JSON.stringify({ type: "chat.ack", chat: chatId, ...(id ? { id } : {}) }));
    } catch (error) {
      refuse(error instanceof Error ? error.message : String(error));
    }
  }
}

export function createWebChatChannel(platform: PlatformConfig, services: ChannelServices): WebChatChannel {
  return new WebChatChannel(platform.name, services, platform.max_message_length);
}
