/**
 * The channel contract: every IM adapter (Telegram, Feishu/Lark, generic webhook, web chat) implements
 * it, and one conformance suite checks them all. The seed's `send_message()` / `handle_event()`.
 */

export interface ChannelCapabilities {
  /** Longest text one message may carry; longer replies are split on safe boundaries. */
  maxMessageLength: number;
  /** Formats the adapter can render. */
  formats: readonly MessageFormat[];
  /** Inline buttons (used for approvals). */
  buttons: boolean;
  /** Can edit a sent message (used to stream replies). */
  edit: boolean;
}

export type MessageFormat = "plain" | "markdown" | "markdown_v2" | "html";

export interface InboundMessage {
  /** The configured channel name (`platforms[].name`). */
  channel: string;
  /** Platform chat / conversation id. */
  chatId: string;
  /** Platform user id of the sender. */
  userId: string;
  userName?: string;
  /** Platform message id, unique within the chat; used to deduplicate redeliveries. */
  messageId: string;
  text: string;
  /** A pressed button: its callback data (approvals: `approve:ID` / `deny:ID`). */
  action?: string;
  receivedAt: number;
}

export interface OutboundButton {
  text: string;
  /** Returned as InboundMessage.action when pressed. */
  action: string;
}

export interface OutboundMessage {
  chatId: string;
  text: string;
  format?: MessageFormat;
  buttons?: OutboundButton[][];
  /** Reply to this platform message id. */
  replyTo?: string;
  /** The outbox delivery's key: adapters whose platform deduplicates sends (Feishu's uuid) pass it on. */
  idempotencyKey?: string;
}

export interface SentMessage {
  /** Platform ids of the messages sent (more than one when the text was split). */
  messageIds: string[];
}

export interface ChannelContext {
  /** Called for each inbound message; resolves once it is durably queued (the adapter may then acknowledge). */
  receive(message: InboundMessage): Promise<void>;
  /**
   * Durable key/value state of this channel (in the store), e.g. the last processed update id, so a
   * restart neither loses nor repeats updates. Always given by the channel manager.
   */
  state?: ChannelState;
  /**
   * Reports an inbound event the adapter refused (bad signature, malformed body, unknown type): the
   * manager logs the reason (and audits it). Adapters call this instead of throwing out of a handler.
   */
  reject?(reason: string, details?: Record<string, unknown>): void;
}

/** Per-channel durable state (JSON values). */
export interface ChannelState {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  /** Removes a key (the manager's state always can; simple test states may not). */
  delete?(key: string): void;
}

export interface Channel {
  readonly name: string;
  /** telegram | enterprise_im | webhook | webchat */
  readonly kind: string;
  readonly capabilities: ChannelCapabilities;
  /** Starts receiving (polling, webhook route, WebSocket); inbound messages go to context.receive. */
  start(context: ChannelContext): Promise<void>;
  stop(): Promise<void>;
  /** Sends one logical message (split as needed). Throws LocalAgentError with retryable set for the outbox. */
  sendMessage(message: OutboundMessage, signal?: AbortSignal): Promise<SentMessage>;
  /**
   * Handles one raw platform event (a webhook body): validates it and hands messages to the context.
   * `event` is the body parsed as JSON (the text itself when it is not JSON); `rawBody` is the exact
   * text received, for signature checks. Throw a LocalAgentError `bad_request` to answer 400.
   */
  handleEvent?(event: unknown, headers: Record<string, string | undefined>, rawBody?: string): Promise<void | ChannelEventReply>;
}

/** What a channel's event route answers instead of `{"ok": true}` (Feishu's url_verification challenge). */
export interface ChannelEventReply {
  body: unknown;
}
