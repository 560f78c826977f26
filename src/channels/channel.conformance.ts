import { afterEach, describe, expect, it } from "vitest";
import { LocalAgentError } from "../errors/index.js";
import { MemoryStore } from "../store/index.js";
import { Inbox } from "./inbox.js";
import type { Channel, ChannelContext, InboundMessage } from "./types.js";

/** One inbound message as the platform would send it. */
export interface InboundSample {
  chatId: string;
  userId: string;
  messageId: string;
  text: string;
}

/**
 * What an adapter's test provides: a channel wired to its (local) platform, a way to make the
 * platform deliver a message or a broken event, and what the platform received.
 */
export interface ChannelHarness {
  channel: Channel;
  /** The chat `sendMessage` tests write to. */
  chatId: string;
  /** The user id every message carries when the platform fixes it (web chat: `owner`); default the sample's. */
  fixedUserId?: string;
  /** Makes the platform deliver this message to the started channel (a webhook POST, a poll answer, a frame). Resolves once handed over. */
  deliver(sample: InboundSample): Promise<void>;
  /** Bad events of this platform (bad signature, malformed body, unknown type, oversized): each must be refused with a reason. */
  badEvents: Array<{ name: string; deliver(): Promise<void> }>;
  /** Texts the platform received for `chatId`, in order (waits until at least `count` arrived). */
  received(count: number): Promise<string[]>;
  close(): Promise<void>;
}

/** A ChannelContext like the manager's: durable dedup through a real Inbox, rejections recorded. */
export function conformanceContext(): ChannelContext & { queued: InboundMessage[]; rejections: string[] } {
  const store = new MemoryStore();
  const inbox = new Inbox(store, () => Date.now());
  const queued: InboundMessage[] = [];
  const rejections: string[] = [];
  const state = new Map<string, unknown>();
  return {
    queued,
    rejections,
    receive(message) {
      if (inbox.add(message) !== undefined) queued.push(message);
      return Promise.resolve();
    },
    state: { get: (key) => state.get(key), set: (key, value) => void state.set(key, value) },
    reject(reason) {
      rejections.push(reason);
    },
  };
}

/** The suite every channel adapter passes (webhook, webchat here; telegram and feishu on their branches). */
export function describeChannelConformance(name: string, createHarness: () => Promise<ChannelHarness>): void {
  describe(`${name} channel conformance`, () => {
    let harness: ChannelHarness | undefined;
    afterEach(async () => {
      await harness?.channel.stop();
      await harness?.close();
      harness = undefined;
    });

    it("start and stop are idempotent", async () => {
      harness = await createHarness();
      const context = conformanceContext();
      await harness.channel.stop();
      await harness.channel.start(context);
      await harness.channel.stop();
      await harness.channel.stop();
      await harness.channel.start(context);
      await harness.deliver({ chatId: harness.chatId, userId: "u1", messageId: "restart-1", text: "after restart" });
      expect(context.queued.map((message) => message.text)).toEqual(["after restart"]);
    });

    it("declares its capabilities", async () => {
      harness = await createHarness();
      const { capabilities } = harness.channel;
      expect(capabilities.maxMessageLength).toBeGreaterThan(1);
      expect(capabilities.formats.length).toBeGreaterThan(0);
      expect(harness.channel.name).not.toBe("");
      expect(harness.channel.kind).not.toBe("");
    });

    it("splits a long message at capabilities.maxMessageLength on safe boundaries", async () => {
      harness = await createHarness();
      await harness.channel.start(conformanceContext());
      const max = harness.channel.capabilities.maxMessageLength;
      const paragraph = (index: number): string => `Paragraph ${index}: ${"word ".repeat(Math.max(1, Math.floor(max / 40)))}end.`;
      const paragraphs: string[] = [];
      while (paragraphs.join("\n\n").length < max * 2.5) paragraphs.push(paragraph(paragraphs.length));
      const text = paragraphs.join("\n\n");
      const sent = await harness.channel.sendMessage({ chatId: harness.chatId, text });
      const pieces = await harness.received(sent.messageIds.length);
      expect(sent.messageIds.length).toBeGreaterThanOrEqual(3);
      expect(pieces).toHaveLength(sent.messageIds.length);
      for (const piece of pieces) {
        expect(piece.length).toBeLessThanOrEqual(max);
        // Never a word cut in half: each piece ends at the end of a word.
        expect(piece).toMatch(/(end\.|word)$/);
      }
      expect(pieces.join(" ").replace(/\s+/g, " ")).toBe(text.replace(/\s+/g, " "));
    });

    it("sends a short message as one", async () => {
      harness = await createHarness();
      await harness.channel.start(conformanceContext());
      const sent = await harness.channel.sendMessage({ chatId: harness.chatId, text: "héllo 👋 <b>&amp;</b>" });
      expect(sent.messageIds).toHaveLength(1);
      expect(await harness.received(1)).toEqual(["héllo 👋 <b>&amp;</b>"]);
    });

    it("hands inbound messages to the context, and a redelivered one only once", async () => {
      harness = await createHarness();
      const context = conformanceContext();
      await harness.channel.start(context);
      const sample = { chatId: harness.chatId, userId: "u1", messageId: "m-1", text: "hello" };
      await harness.deliver(sample);
      await harness.deliver(sample);
      await harness.deliver({ ...sample, messageId: "m-2", text: "second" });
      const user = harness.fixedUserId ?? "u1";
      expect(context.queued.map((message) => [message.chatId, message.userId, message.messageId, message.text])).toEqual([
        [harness.chatId, user, "m-1", "hello"],
        [harness.chatId, user, "m-2", "second"],
      ]);
      expect(context.queued.every((message) => message.channel === harness?.channel.name && message.receivedAt > 0)).toBe(true);
    });

    it("refuses bad events with a reason, without throwing anything but a LocalAgentError, and keeps working", async () => {
      harness = await createHarness();
      const context = conformanceContext();
      await harness.channel.start(context);
      expect(harness.badEvents.length).toBeGreaterThan(0);
      for (const bad of harness.badEvents) {
        const before = context.rejections.length;
        let thrown: unknown;
        try {
          await bad.deliver();
        } catch (error) {
          thrown = error;
        }
        if (thrown !== undefined) {
          expect(thrown, bad.name).toBeInstanceOf(LocalAgentError);
          expect((thrown as LocalAgentError).message, bad.name).not.toBe("");
        } else {
          expect(context.rejections.length, `${bad.name}: refused with a reason`).toBeGreaterThan(before);
        }
      }
      expect(context.queued).toEqual([]);
      await harness.deliver({ chatId: harness.chatId, userId: "u1", messageId: "good-1", text: "still fine" });
      expect(context.queued.map((message) => message.text)).toEqual(["still fine"]);
    });
  });
}
