import type { ApprovalService } from "../approvals/index.js";
import type { AuditInput } from "../audit/index.js";
import type { Clock, TimerHandle } from "../clock/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import type { EventBus, LocalAgentEvent } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import type { Deliverer } from "../outbox/index.js";
import type { TriggerOutcome } from "../scheduler/index.js";
import type { ChatSession } from "../server/index.js";
import type { Store } from "../store/index.js";
import { ConversationHistory, noModelResponder, type ConversationResponder } from "./conversation.js";
import { CHANNEL_STATE_NAMESPACE, Inbox } from "./inbox.js";
import { Pairing, type PairingRecord } from "./pairing.js";
import type { PlatformConfig } from "./platform-config.js";
import { createChannel } from "./registry.js";
import type { Channel, ChannelContext, ChannelEventReply, InboundMessage, OutboundMessage } from "./types.js";
import { WebChatChannel } from "./webchat/index.js";

/** What the outbox carries for a `channel` delivery. */
export interface ChannelDeliveryPayload {
  channel: string;
  message: OutboundMessage;
}

/** Where the manager queues outbound messages (the durable outbox). */
export interface ChannelOutbox {
  enqueue(delivery: { destination: string; kind: string; payload: unknown; idempotencyKey: string }): number | undefined;
  register(deliverer: Deliverer): void;
  kick(now?: boolean): void;
}

/** The daemon functions the slash commands use. */
export interface ChannelCommandHost {
  runWorkflow(name: string, by: string): Promise<string>;
  status(): string;
  /** `chat:/command` triggers (Daemon.chatCommands.receive). */
  chatCommand?(message: { text: string; platform: string; user: string; chat: string }): TriggerOutcome | undefined;
}

export interface ChannelManagerOptions {
  platforms: PlatformConfig[];
  store: Store;
  outbox: ChannelOutbox;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  audit?: { record(input: AuditInput): unknown } | undefined;
  approvals?: ApprovalService | undefined;
  commands?: ChannelCommandHost;
  responder?: ConversationResponder;
  /** Turns of history kept per chat (default 20). */
  historyTurns?: number;
}

export type ChannelStatus = "starting" | "running" | "failed" | "stopped";

/** One configured channel as `GET /api/channels` shows it. */
export interface ChannelInfo {
  name: string;
  kind: string;
  status: ChannelStatus;
  error?: string;
  capabilities?: Channel["capabilities"];
}

interface Entry {
  platform: PlatformConfig;
  channel: Channel | undefined;
  status: ChannelStatus;
  error?: string;
  /** Failed starts in a row (for the retry backoff). */
  attempts?: number;
  retry?: TimerHandle | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
/** Pairing codes sent per channel and hour; more new strangers than that are only recorded. */
const PAIRING_CODES_PER_HOUR = 10;
/** First retry of a channel whose start failed for a reason other than its config; doubles up to 5 min. */
const START_RETRY_MS = 5000;
const MAX_START_RETRY_MS = 5 * 60 * 1000;
/** How long `stop` waits for messages being processed. */
const STOP_WAIT_MS = 5000;

/**
 * Builds the configured channels through the registry, starts and stops them with the daemon (one
 * that fails to start is reported and left out), queues every inbound message durably before the
 * adapter acknowledges it, and processes it: pairing and allow-list → slash commands → chat-command
 * triggers → conversation. Everything outbound goes through the outbox (`channel` deliverer).
 */
export class ChannelManager {
  private readonly entries = new Map<string, Entry>();
  private readonly inbox: Inbox;
  readonly pairing: Pairing;
  private readonly history: ConversationHistory;
  /** Per-chat processing chains: messages of one chat are handled in order. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Chats whose conversation turn is being answered now (the responder, maybe the agent loop waiting on an approval). */
  private readonly responding = new Set<string>();
  /** Aborted by stop(): the conversation turns in progress. */
  private turns = new AbortController();
  private unsubscribe: (() => void) | undefined;
  private running = false;
  private responder: ConversationResponder;
  private readonly codesSent = new Map<string, number[]>();

  constructor(private readonly options: ChannelManagerOptions) {
    const now = (): number => options.clock.now();
    this.inbox = new Inbox(options.store, now);
    this.pairing = new Pairing(options.store, now);
    this.history = new ConversationHistory(options.store, options.historyTurns ?? 20);
    this.responder = options.responder ?? noModelResponder;
    for (const platform of options.platforms) this.entries.set(platform.name, { platform, channel: undefined, status: "stopped" });
    options.outbox.register(this.deliverer());
  }

  /** Swaps the conversation responder (the daemon sets the router's once models are loaded). */
  setResponder(responder: ConversationResponder): void {
    this.responder = responder;
  }

  /** Names of the configured platforms (notification steps with `platform: NAME` go to these). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  platform(name: string): PlatformConfig | undefined {
    return this.entries.get(name)?.platform;
  }

  /** The running adapter named `name`, if any. */
  channel(name: string): Channel | undefined {
    const entry = this.entries.get(name);
    return entry?.status === "running" ? entry.channel : undefined;
  }

  list(): ChannelInfo[] {
    return [...this.entries.values()].map((entry) => ({
      name: entry.platform.name,
      kind: entry.platform.kind,
      status: entry.status,
      ...(entry.error ? { error: entry.error } : {}),
      ...(entry.channel ? { capabilities: entry.channel.capabilities } : {}),
    }));
  }

  /** Starts every channel; failures are logged and reported, never thrown. Then processes what a restart left queued. */
  async start(): Promise<void> {
    this.running = true;
    this.turns = new AbortController();
    this.inbox.prune(7 * DAY_MS);
    this.unsubscribe = this.options.events.subscribe((event) => this.onEvent(event));
    await Promise.all([...this.entries.values()].map((entry) => this.startOne(entry)));
    for (const { key, message } of this.inbox.pending()) this.schedule(key, message);
  }

  async stop(): Promise<void> {
    this.running = false;
    // Turns in progress (a model call, a chat's tool call, an approval it waits for) end now; their
    // messages stay in the inbox and are answered again after the restart.
    this.turns.abort(new LocalAgentError("unavailable", "the daemon is stopping"));
    this.unsubscribe?.();
    await Promise.all(
      [...this.entries.values()].map(async (entry) => {
        if (entry.retry) this.options.clock.clearTimeout(entry.retry);
        entry.retry = undefined;
        if (!entry.channel || entry.status !== "running") return;
        try {
          await entry.channel.stop();
        } catch (error) {
          this.options.logger.warn({ channel: entry.platform.name, err: error }, `channel stop failed: ${errorMessage(error)}`);
        }
        this.setStatus(entry, "stopped");
      }),
    );
    // Messages still being answered (a slow model) keep their inbox entries and are handled again
    // after the restart; shutdown waits for them only briefly.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.chains.values()]),
      new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS).unref())),
    ]);
    clearTimeout(timer);
  }

  /** Raw platform event from an HTTP route (`POST /api/channels/NAME/events`, `/api/channels/webhook/NAME`, `/api/NAME`). */
  async handleEvent(
    name: string,
    event: unknown,
    headers: Record<string, string | undefined>,
    rawBody: string,
  ): Promise<void | ChannelEventReply> {
    const entry = this.entries.get(name);
    if (!entry) throw new LocalAgentError("bad_request", `no channel named "${name}"`, { details: { httpStatus: 404 } });
    if (entry.status !== "running" || !entry.channel)
      throw new LocalAgentError("unavailable", `channel "${name}" is not running${entry.error ? `: ${entry.error}` : ""}`, {
        retryable: true,
      });
    if (!entry.channel.handleEvent) throw new LocalAgentError("bad_request", `channel "${name}" does not take HTTP events`);
    return entry.channel.handleEvent(event, headers, rawBody);
  }

  /** Queues a message for a chat through the outbox; `key` makes it idempotent. */
  send(channel: string, message: OutboundMessage, key: string): number | undefined {
    const payload: ChannelDeliveryPayload = { channel, message };
    return this.options.outbox.enqueue({
      destination: `channel:${channel}:${message.chatId}`,
      kind: "channel",
      payload,
      idempotencyKey: key,
    });
  }

  /** Chats approval requests and notifications without a chat go to: `chat_id:`, else the chats of allowed users. */
  ownerChats(name: string): string[] {
    const platform = this.entries.get(name)?.platform;
    if (!platform) return [];
    if (platform.chat_id) return [platform.chat_id];
    // Web chats come and go with their tabs: announce to the ones open now.
    const channel = this.channel(name);
    if (channel instanceof WebChatChannel) return channel.connectedChats();
    const chats = new Set<string>();
    for (const entry of this.options.store.listState(CHANNEL_STATE_NAMESPACE)) {
      const [channel, key] = entry.key.split("\u0000");
      if (channel === name && key?.startsWith("owner-chat:")) chats.add(key.slice("owner-chat:".length));
    }
    return [...chats];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Opens a web chat for a /ws connection on the first running webchat channel. */
  openChat(send: (frame: string) => void, chatId: string | undefined): ChatSession | undefined {
    for (const entry of this.entries.values()) {
      if (entry.status === "running" && entry.channel instanceof WebChatChannel) return entry.channel.attach(send, chatId);
    }
    return undefined;
  }

  /** An inbound event refused before it reached an adapter (body too large, not JSON): logged and audited. */
  reject(channel: string, reason: string): void {
    this.rejected(channel, reason);
  }

  // ---- pairing (API / CLI) ----

  listPairing(): PairingRecord[] {
    return this.pairing.list();
  }

  approvePairing(code: string, by: string): PairingRecord {
    const record = this.pairing.approve(code, by);
    this.audit({ type: "channel.paired", actor: { user: by }, details: { channel: record.channel, userId: record.userId } });
    this.send(
      record.channel,
      { chatId: record.chatId, text: "You are paired: you can now command this agent. Send /help." },
      `paired:${record.channel}:${record.userId}:${record.decidedAt ?? 0}`,
    );
    return record;
  }

  revokePairing(user: string, by: string): PairingRecord[] {
    const records = this.pairing.revoke(user, by);
    for (const record of records)
      this.audit({ type: "channel.revoked", actor: { user: by }, details: { channel: record.channel, userId: record.userId } });
    return records;
  }

  // ---- inside ----

  private async startOne(entry: Entry): Promise<void> {
    const { platform } = entry;
    entry.status = "starting";
    let channel: Channel | undefined;
    try {
      channel = await createChannel(platform, {
        logger: this.options.logger.child({ channel: platform.name }),
        clock: this.options.clock,
        wake: () => this.options.outbox.kick(true),
      });
      entry.channel = channel;
      await channel.start(this.contextFor(platform));
      if (!this.running) {
        await channel.stop();
        return this.setStatus(entry, "stopped");
      }
      entry.attempts = 0;
      this.setStatus(entry, "running");
      this.options.logger.info({ channel: platform.name, kind: platform.kind }, "channel started");
      // Replies that waited for it go now.
      this.options.outbox.kick(true);
    } catch (error) {
      await channel?.stop().catch(() => undefined);
      entry.error = errorMessage(error);
      this.setStatus(entry, "failed");
      // A configuration problem stays until the config changes; anything else (the platform
      // unreachable) is tried again with backoff.
      const retry = !(error instanceof LocalAgentError && !error.retryable) && this.running;
      const delay = Math.min(START_RETRY_MS * 2 ** (entry.attempts ?? 0), MAX_START_RETRY_MS);
      this.options.logger.error(
        { channel: platform.name, kind: platform.kind, ...(retry ? { retryInMs: delay } : {}) },
        `channel "${platform.name}" failed to start: ${entry.error}`,
      );
      if (retry) {
        entry.attempts = (entry.attempts ?? 0) + 1;
        entry.retry = this.options.clock.setTimeout(() => {
          entry.retry = undefined;
          if (this.running) void this.startOne(entry);
        }, delay);
      }
    }
  }

  private setStatus(entry: Entry, status: "running" | "failed" | "stopped"): void {
    entry.status = status;
    if (status === "running") delete entry.error;
    this.options.events.emit({
      type: "channel-status",
      channel: entry.platform.name,
      status,
      ...(entry.error ? { error: entry.error } : {}),
      at: this.options.clock.now(),
    });
  }

  private contextFor(platform: PlatformConfig): ChannelContext {
    const stateKey = (key: string): string => `${platform.name}\u0000${key}`;
    return {
      receive: (message) => this.receive(platform, message),
      state: {
        get: (key) => this.options.store.getState(CHANNEL_STATE_NAMESPACE, stateKey(key))?.value,
        set: (key, value) => {
          for (;;) {
            const current = this.options.store.getState(CHANNEL_STATE_NAMESPACE, stateKey(key));
            if (this.options.store.compareAndSetState(CHANNEL_STATE_NAMESPACE, stateKey(key), value, current?.version ?? null)) return;
          }
        },
        delete: (key) => void this.options.store.deleteState(CHANNEL_STATE_NAMESPACE, stateKey(key)),
      },
      reject: (reason, details) => this.rejected(platform.name, reason, details),
    };
  }

  private rejected(channel: string, reason: string, details: Record<string, unknown> = {}): void {
    const userId = typeof details.userId === "string" ? details.userId : undefined;
    this.options.logger.warn({ channel, ...details }, `channel event rejected: ${reason}`);
    this.options.events.emit({ type: "channel-rejected", channel, reason, ...(userId ? { userId } : {}), at: this.options.clock.now() });
    this.audit({ type: "channel.rejected", ...(userId ? { actor: { user: `${channel}:${userId}` } } : {}), details: { channel, reason } });
  }

  /** ChannelContext.receive: validated, deduplicated and durably queued before it resolves. */
  private receive(platform: PlatformConfig, message: InboundMessage): Promise<void> {
    const problem = invalidMessage(message);
    if (problem) {
      this.rejected(platform.name, problem);
      return Promise.reject(new LocalAgentError("bad_request", `${platform.name}: ${problem}`));
    }
    const normalised: InboundMessage = {
      ...message,
      channel: platform.name,
      chatId: String(message.chatId),
      userId: String(message.userId),
    };
    const key = this.inbox.add(normalised);
    if (key === undefined) {
      this.options.logger.debug({ channel: platform.name, messageId: message.messageId }, "duplicate message dropped");
      return Promise.resolve();
    }
    this.options.events.emit({
      type: "channel-message",
      channel: platform.name,
      chatId: normalised.chatId,
      userId: normalised.userId,
      messageId: normalised.messageId,
      ...(normalised.action ? { action: normalised.action } : {}),
      at: this.options.clock.now(),
    });
    if (this.running) this.schedule(key, normalised);
    return Promise.resolve();
  }

  private schedule(key: string, message: InboundMessage): void {
    const chat = `${message.channel}\u0000${message.chatId}`;
    // An approval answer does not wait behind the chat's conversation turn in progress: that turn
    // may be the agent loop waiting for exactly this approval (a chat's tool call the policy
    // answered `ask`). Otherwise the chat's messages keep their order.
    const answersApproval = isApprovalAnswer(message) && this.responding.has(chat);
    const previous = answersApproval ? Promise.resolve() : (this.chains.get(chat) ?? Promise.resolve());
    let completed = false;
    const next = previous
      .then(() => this.process(message, key))
      .then((done) => void (completed = done))
      .catch((error: unknown) =>
        this.options.logger.error({ channel: message.channel, err: error }, `chat message not handled: ${errorMessage(error)}`),
      )
      .finally(() => {
        // Stopped meanwhile: the entry stays queued and is handled after the restart.
        if (!completed && this.running) {
          try {
            this.inbox.done(key);
          } catch (error) {
            this.options.logger.error({ err: error }, `inbox entry not removed: ${errorMessage(error)}`);
          }
        }
        if (this.chains.get(chat) === next) this.chains.delete(chat);
      });
    if (!answersApproval) this.chains.set(chat, next);
  }

  private allowed(platform: PlatformConfig, userId: string): boolean {
    // Web chat clients authenticated with the API token: they are the owner.
    if (platform.kind === "webchat") return true;
    if ((platform.allow_users ?? []).some((user) => String(user) === userId)) return true;
    return this.pairing.isPaired(platform.name, userId);
  }

  /** Handles one queued message; true when its inbox entry was removed here (with the reply, in one transaction). */
  private async process(message: InboundMessage, key: string): Promise<boolean> {
    const platform = this.entries.get(message.channel)?.platform;
    if (!platform) return false;
    const reply = (text: string, suffix: string, extra: Partial<OutboundMessage> = {}): void => {
      this.send(
        platform.name,
        { chatId: message.chatId, text, replyTo: message.messageId, ...extra },
        `reply:${platform.name}:${message.chatId}:${message.messageId}:${suffix}`,
      );
    };
    if (!this.allowed(platform, message.userId)) {
      this.stranger(platform, message, reply);
      return false;
    }
    this.rememberOwnerChat(platform.name, message.chatId);
    // Buttons and commands act at most once: the inbox entry goes before they run, so a crash in
    // between does not start a workflow twice (the reply may be lost then).
    if (message.action) {
      this.inbox.done(key);
      this.action(platform, message, reply);
      return true;
    }
    const text = message.text.trim();
    if (text.startsWith("/") && /^\/[A-Za-z0-9_]+(?:@[\w.-]+)?(?:\s|$)/.test(text)) {
      this.inbox.done(key);
      const handled = await this.slashCommand(platform, message, text, reply);
      if (handled) return true;
    }
    const history = this.history.get(platform.name, message.chatId);
    let answer: string;
    const chat = `${message.channel}\u0000${message.chatId}`;
    this.responding.add(chat);
    try {
      answer = await this.responder.respond({ message, history, signal: this.turns.signal });
    } catch (error) {
      this.options.logger.warn({ channel: platform.name, err: error }, `conversation failed: ${errorMessage(error)}`);
      answer = `Sorry, I could not answer: ${errorMessage(error)}`;
    } finally {
      this.responding.delete(chat);
    }
    if (!this.running) return false;
    // History, reply and the inbox entry in one commit: a crash leaves either all or none of them.
    this.options.store.transaction(() => {
      this.history.append(
        platform.name,
        message.chatId,
        { role: "user", content: message.text, at: message.receivedAt },
        { role: "assistant", content: answer, at: this.options.clock.now() },
      );
      reply(answer === "" ? "(no answer)" : answer, "answer");
      this.inbox.done(key);
    });
    return true;
  }

  private stranger(platform: PlatformConfig, message: InboundMessage, reply: (text: string, suffix: string) => void): void {
    const { record, fresh } = this.pairing.request(platform.name, message.userId, message.chatId, message.userName);
    this.audit({
      type: "channel.stranger",
      actor: { user: `${platform.name}:${message.userId}` },
      details: { channel: platform.name, chatId: message.chatId, pairing: record.status, codeIssued: fresh },
    });
    if (record.status === "revoked") return;
    if (fresh && !this.codeAllowed(platform.name)) {
      // A flood of new strangers: the code is kept (the owner sees it in `pairing list`) but not sent.
      this.options.logger.warn({ channel: platform.name }, "pairing codes rate-limited: code not sent");
      return;
    }
    if (fresh) {
      reply(
        `This agent only answers people its owner has paired. Your pairing code is ${record.code}. Ask the owner to run: localagent pairing approve ${record.code}`,
        "pairing",
      );
    } else {
      this.options.logger.info({ channel: platform.name, userId: message.userId }, "message from an unpaired user ignored");
    }
  }

  /** At most PAIRING_CODES_PER_HOUR codes sent per channel and hour. */
  private codeAllowed(channel: string): boolean {
    const now = this.options.clock.now();
    const recent = (this.codesSent.get(channel) ?? []).filter((at) => now - at < HOUR_MS);
    if (recent.length >= PAIRING_CODES_PER_HOUR) return false;
    recent.push(now);
    this.codesSent.set(channel, recent);
    return true;
  }

  private action(platform: PlatformConfig, message: InboundMessage, reply: (text: string, suffix: string) => void): void {
    const match = /^(approve|deny):(.+)$/.exec(message.action ?? "");
    if (!match?.[1] || !match[2]) {
      this.rejected(platform.name, `unknown button action "${(message.action ?? "").slice(0, 60)}"`, { userId: message.userId });
      return;
    }
    reply(this.decide(platform, message, match[2], match[1] as "approve" | "deny"), `action:${message.action}`);
  }

  private decide(platform: PlatformConfig, message: InboundMessage, id: string, decision: "approve" | "deny"): string {
    if (!this.options.approvals) return "Approvals are not available.";
    try {
      const record = this.options.approvals.decide(id, decision, `${platform.name}:${message.userName ?? message.userId}`);
      return `${record.id}: ${record.status}`;
    } catch (error) {
      return errorMessage(error);
    }
  }

  /** True when the text was a command answered here (or by a chat-command trigger). */
  private async slashCommand(
    platform: PlatformConfig,
    message: InboundMessage,
    text: string,
    reply: (text: string, suffix: string) => void,
  ): Promise<boolean> {
    const match = /^\/([A-Za-z0-9_]+)(?:@[\w.-]+)?(?:\s+([\s\S]*))?$/.exec(text);
    if (!match?.[1]) return false;
    const command = match[1].toLowerCase();
    const args = (match[2] ?? "").trim();
    const commands = this.options.commands;
    switch (command) {
      case "help":
      case "start":
        reply(HELP_TEXT, "help");
        return true;
      case "status":
        reply(commands ? commands.status() : "The daemon is running.", "status");
        return true;
      case "run": {
        if (!args) return (reply("Usage: /run <workflow>", "run"), true);
        if (!commands) return (reply("Running workflows is not available here.", "run"), true);
        try {
          const runId = await commands.runWorkflow(args.split(/\s+/)[0] ?? "", `${platform.name}:${message.userId}`);
          reply(`Started ${args.split(/\s+/)[0]}: run ${runId}`, "run");
        } catch (error) {
          reply(errorMessage(error), "run");
        }
        return true;
      }
      case "approve":
      case "deny":
        if (!args) return (reply(`Usage: /${command} <approval id>`, command), true);
        reply(this.decide(platform, message, args.split(/\s+/)[0] ?? "", command), command);
        return true;
      case "reset":
        this.history.clear(platform.name, message.chatId);
        reply("Conversation history cleared.", "reset");
        return true;
      default: {
        let outcome: TriggerOutcome | undefined;
        try {
          outcome = commands?.chatCommand?.({ text, platform: platform.name, user: message.userId, chat: message.chatId });
        } catch (error) {
          reply(errorMessage(error), "command");
          return true;
        }
        if (!outcome) return false;
        if (outcome.runs.length > 0)
          reply(`Started ${outcome.runs.map((run) => `${run.workflow} (run ${run.runId})`).join(", ")}`, "command");
        else if (outcome.rejected.length > 0)
          reply(
            `Refused: ${outcome.rejected.map((entry) => `${entry.workflow}: ${entry.errors.map((e) => e.message).join("; ")}`).join("; ")}`,
            "command",
          );
        else if (outcome.skipped.length > 0)
          reply(`Skipped: ${outcome.skipped.map((entry) => `${entry.workflow}: ${entry.reason}`).join("; ")}`, "command");
        else reply(`Unknown command /${command}. Send /help.`, "command");
        return true;
      }
    }
  }

  private rememberOwnerChat(channel: string, chatId: string): void {
    const key = `${channel}\u0000owner-chat:${chatId}`;
    if (!this.options.store.getState(CHANNEL_STATE_NAMESPACE, key))
      this.options.store.compareAndSetState(CHANNEL_STATE_NAMESPACE, key, { at: this.options.clock.now() }, null);
  }

  private onEvent(event: LocalAgentEvent): void {
    if (event.type !== "approval-requested") return;
    for (const name of this.entries.keys()) {
      for (const chatId of this.ownerChats(name)) {
        this.send(
          name,
          {
            chatId,
            text: `Approval needed (${event.approvalId}): workflow ${event.workflow}, step ${event.step}\n${event.command}\n\nReply /approve ${event.approvalId} or /deny ${event.approvalId}`,
            buttons: [
              [
                { text: "Approve", action: `approve:${event.approvalId}` },
                { text: "Deny", action: `deny:${event.approvalId}` },
              ],
            ],
          },
          `approval:${event.approvalId}:${name}:${chatId}`,
        );
      }
    }
  }

  private deliverer(): Deliverer {
    return {
      kind: "channel",
      needsNetwork: (delivery) => {
        const name = (delivery.payload as ChannelDeliveryPayload).channel;
        return this.entries.get(name)?.platform.kind !== "webchat";
      },
      deliver: async (delivery, signal) => {
        const { channel: name, message } = delivery.payload as ChannelDeliveryPayload;
        const entry = this.entries.get(name);
        if (!entry) throw new LocalAgentError("delivery_failed", `no channel named "${name}" is configured`);
        if (message.chatId === "*") {
          // A notification without a chat: one delivery per owner chat, each idempotent on its own.
          const chats = this.ownerChats(name);
          if (chats.length === 0)
            throw new LocalAgentError(
              "delivery_failed",
              `channel "${name}" has no chat to send to: set chat_id in its platform entry, or pair a user`,
              {
                retryable: true,
              },
            );
          for (const chatId of chats) this.send(name, { ...message, chatId }, `${delivery.idempotencyKey}:${chatId}`);
          return;
        }
        const channel = this.channel(name);
        if (!channel)
          throw new LocalAgentError("delivery_failed", `channel "${name}" is not running${entry.error ? `: ${entry.error}` : ""}`, {
            retryable: true,
          });
        await channel.sendMessage({ ...message, idempotencyKey: delivery.idempotencyKey }, signal);
      },
    };
  }

  private audit(input: AuditInput): void {
    try {
      this.options.audit?.record(input);
    } catch (error) {
      this.options.logger.error({ err: error }, `audit entry not written: ${errorMessage(error)}`);
    }
  }
}

export const HELP_TEXT = [
  "Commands:",
  "/run <workflow> — start a workflow",
  "/status — what the daemon is doing",
  "/approve <id>, /deny <id> — answer an approval request",
  "/reset — forget this chat's conversation",
  "/help — this list",
  "Other /commands start the workflows listening for them (on: chat:/command). Anything else is answered by the agent.",
].join("\n");

/** A button press (approve:/deny:) or `/approve ID`, `/deny ID`. */
function isApprovalAnswer(message: InboundMessage): boolean {
  if (message.action !== undefined) return /^(approve|deny):/.test(message.action);
  return /^\/(approve|deny)(?:@[\w.-]+)?\s+\S/.test(message.text.trim());
}

/** Why an adapter's message cannot be queued, or undefined when it is well formed. */
export function invalidMessage(message: InboundMessage): string | undefined {
  if (typeof message !== "object" || message === null) return "message is not an object";
  for (const field of ["chatId", "userId", "messageId"] as const) {
    const value = message[field] as unknown;
    if ((typeof value !== "string" && typeof value !== "number") || String(value) === "") return `message has no ${field}`;
  }
  if (typeof message.text !== "string") return "message text is not a string";
  if (message.text.length > 64 * 1024) return "message text is longer than 64 KiB";
  if (message.action !== undefined && typeof message.action !== "string") return "message action is not a string";
  return undefined;
}
