import { describe, expect, it } from "vitest";
import { waitFor } from "../../../test/helpers/index.js";
import { systemClock } from "../../clock/index.js";
import type { ChatSession } from "../../server/index.js";
import { conformanceContext, describeChannelConformance } from "../channel.conformance.js";
import { WebChatChannel } from "./webchat-channel.js";

interface Frame {
  type: string;
  [key: string]: unknown;
}

/** One connected web chat client (what /ws hands the channel), recording the frames it gets. */
function connect(channel: WebChatChannel, resume?: string): { session: ChatSession; frames: Frame[]; send(frame: Frame): Promise<void> } {
  const frames: Frame[] = [];
  const session = channel.attach((text) => frames.push(JSON.parse(text) as Frame), resume);
  return {
    session,
    frames,
    // Resolves when the daemon answered the frame (ack or error).
    async send(frame) {
      const before = frames.length;
      session.receive(frame);
      await waitFor(() => frames.slice(before).some((out) => out.type === "chat.ack" || out.type === "chat.error"));
    },
  };
}

describeChannelConformance("webchat", () => {
  let wakes = 0;
  const channel = new WebChatChannel("web", { clock: systemClock, wake: () => void wakes++ }, 300);
  const client = connect(channel, "chat-1");
  return Promise.resolve({
    channel,
    chatId: "chat-1",
    fixedUserId: "owner",
    deliver: (sample) => client.send({ type: "chat.message", id: sample.messageId, text: sample.text }),
    badEvents: [
      { name: "unknown frame type", deliver: () => client.send({ type: "chat.sticker", id: "b1" }) },
      { name: "message without text", deliver: () => client.send({ type: "chat.message", id: "b2" }) },
      { name: "text not a string", deliver: () => client.send({ type: "chat.message", id: "b3", text: 42 }) },
      { name: "oversized text", deliver: () => client.send({ type: "chat.message", id: "b4", text: "x".repeat(20_000) }) },
      { name: "action without action", deliver: () => client.send({ type: "chat.action", id: "b5" }) },
    ],
    received: async (count) => {
      await waitFor(() => client.frames.filter((frame) => frame.type === "chat.reply").length >= count);
      return client.frames.filter((frame) => frame.type === "chat.reply").map((frame) => String(frame.text));
    },
    close: () => Promise.resolve(void wakes),
  });
});

describe("web chat", () => {
  it("each connection is a chat; a reply waits for a client, and reconnecting by chat id resumes it", async () => {
    let wakes = 0;
    const channel = new WebChatChannel("web", { clock: systemClock, wake: () => void wakes++ });
    const context = conformanceContext();
    await channel.start(context);
    const first = connect(channel);
    const opened = first.frames[0];
    expect(opened).toMatchObject({ type: "chat.opened", chat: expect.stringMatching(/^wc_/) as unknown });
    const chatId = String(opened?.chat);
    const other = connect(channel);
    expect(other.frames[0]?.chat).not.toBe(chatId);
    await first.send({ type: "chat.message", id: "1", text: "hello" });
    expect(first.frames.at(-1)).toEqual({ type: "chat.ack", chat: chatId, id: "1" });
    expect(context.queued[0]).toMatchObject({ channel: "web", chatId, userId: "owner", messageId: "1", text: "hello" });
    first.session.close();
    // Nobody connected: retryable, so the outbox keeps it.
    await expect(channel.sendMessage({ chatId, text: "later" })).rejects.toMatchObject({ retryable: true });
    const back = connect(channel, chatId);
    expect(back.frames[0]).toEqual({ type: "chat.opened", chat: chatId });
    expect(wakes).toBe(3);
    await channel.sendMessage({ chatId, text: "later", buttons: [[{ text: "Approve", action: "approve:ap_1" }]] });
    expect(back.frames.at(-1)).toMatchObject({
      type: "chat.reply",
      chat: chatId,
      text: "later",
      buttons: [[{ text: "Approve", action: "approve:ap_1" }]],
    });
    expect(other.frames.some((frame) => frame.type === "chat.reply")).toBe(false);
    await back.send({ type: "chat.action", id: "2", action: "approve:ap_1" });
    expect(context.queued[1]).toMatchObject({ action: "approve:ap_1", text: "" });
    // A malformed chat id to resume gets a fresh chat instead.
    expect(connect(channel, "../etc").frames[0]?.chat).toMatch(/^wc_/);
  });
});

describe("web chat receipts", () => {
  it("with receipts a reply is delivered only once a client confirms it; unconfirmed, it fails retryable and is resent with the same id", async () => {
    const channel = new WebChatChannel("web", { clock: systemClock, wake: () => undefined }, 16_000, 150);
    await channel.start(conformanceContext());
    const closing = connect(channel, "chat-r");
    closing.session.receive({ type: "chat.open", receipts: true });
    // The tab is closing: the frame is written, nobody confirms it.
    await expect(channel.sendMessage({ chatId: "chat-r", text: "answer", idempotencyKey: "d1" })).rejects.toMatchObject({
      retryable: true,
    });
    const lost = closing.frames.find((frame) => frame.type === "chat.reply");
    closing.session.close();
    const back = connect(channel, "chat-r");
    back.session.receive({ type: "chat.open", receipts: true });
    const resent = channel.sendMessage({ chatId: "chat-r", text: "answer", idempotencyKey: "d1" });
    await waitFor(() => back.frames.some((frame) => frame.type === "chat.reply"));
    const reply = back.frames.find((frame) => frame.type === "chat.reply")!;
    expect(reply.id).toBe(lost?.id);
    back.session.receive({ type: "chat.received", id: reply.id });
    await expect(resent).resolves.toEqual({ messageIds: [reply.id] });
  });

  it("without receipts a reply counts as delivered when written (clients that never confirm keep working)", async () => {
    const channel = new WebChatChannel("web", { clock: systemClock, wake: () => undefined }, 16_000, 150);
    await channel.start(conformanceContext());
    const client = connect(channel, "chat-n");
    await expect(channel.sendMessage({ chatId: "chat-n", text: "hi" })).resolves.toMatchObject({ messageIds: [expect.any(String)] });
    expect(client.frames.at(-1)).toMatchObject({ type: "chat.reply", text: "hi" });
  });
});
