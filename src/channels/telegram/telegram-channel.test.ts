import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../clock/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { EventBus } from "../../events/index.js";
import { createLogger } from "../../logger/index.js";
import { Outbox, type Deliverer } from "../../outbox/index.js";
import { SqliteStore } from "../../store/index.js";
import { makeTempDir, waitFor } from "../../../test/helpers/index.js";
import { assertPlainMarkdownV2, TelegramEmulator } from "../../../test/helpers/telegram.js";
import type { InboundMessage, OutboundMessage } from "../types.js";
import { unescapeMarkdownV2 } from "./escape.js";
import { TelegramChannel, type TelegramChannelOptions } from "./telegram-channel.js";
import { createStoreUpdateOffset } from "./update-offset.js";

const TOKEN = "123456789:AAtestTOKENvalue_abcdefghijk";
const FAST_POLLING = { timeoutSeconds: 1, minBackoffMs: 20, maxBackoffMs: 100 };

/** A logger whose lines the test can read. */
function captureLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

describe("TelegramChannel against the telegram-test-api emulator", () => {
  let emulator: TelegramEmulator;
  let channel: TelegramChannel | undefined;
  const received: InboundMessage[] = [];
  const context = { receive: async (message: InboundMessage) => void received.push(message) };

  function createChannel(options: Partial<TelegramChannelOptions> = {}): TelegramChannel {
    channel = new TelegramChannel({ name: "telegram", token: TOKEN, apiRoot: emulator.apiRoot, polling: FAST_POLLING, ...options });
    return channel;
  }

  beforeEach(async () => {
    received.length = 0;
    emulator = await TelegramEmulator.start();
  });

  afterEach(async () => {
    await channel?.stop();
    channel = undefined;
    await emulator.stop();
  });

  it("receives a user's message by long polling", async () => {
    await createChannel().start(context);
    const user = emulator.client(TOKEN, { userId: 42, firstName: "Ada", userName: "ada" });
    await user.sendMessage(user.makeMessage("hello bot"));
    await waitFor(() => received.length === 1);
    expect(received[0]).toMatchObject({ channel: "telegram", chatId: "42", userId: "42", userName: "ada", text: "hello bot" });
    expect(received[0]!.messageId).toMatch(/^\d+$/);
  });

  it("sends a message that arrives escaped in the emulated chat", async () => {
    const sent = await createChannel().sendMessage({ chatId: "42", text: "Disk 95% full (sda1)!" });
    expect(sent.messageIds).toHaveLength(1);
    const user = emulator.client(TOKEN, { userId: 42 });
    const updates = await user.getUpdates();
    expect(updates.result).toHaveLength(1);
    expect(updates.result[0]!.message).toMatchObject({ text: "Disk 95% full \\(sda1\\)\\!", parse_mode: "MarkdownV2" });
  });

  it("splits a 10,000-character reply into valid MarkdownV2 parts that join to the text", async () => {
    let text = "";
    for (let line = 0; text.length < 10_000; line++) text += `${line}. price_1 = 2*3 [ok] (done) ~ #tag {x|y} a-b+c! back\\slash\n`;
    text = text.slice(0, 10_000);
    const sent = await createChannel().sendMessage({ chatId: "42", text });
    const messages = emulator.botMessages(42);
    expect(messages.length).toBeGreaterThanOrEqual(3);
    expect(sent.messageIds).toHaveLength(messages.length);
    for (const message of messages) {
      expect(message.parse_mode).toBe("MarkdownV2");
      expect(message.text.length).toBeLessThanOrEqual(4096);
      assertPlainMarkdownV2(message.text);
    }
    expect(messages.map((message) => unescapeMarkdownV2(message.text)).join("")).toBe(text);
  });

  it("sends inline buttons and turns a press into an action", async () => {
    await createChannel().start(context);
    await channel!.sendMessage({
      chatId: "42",
      text: "Run `rm -rf /tmp/x`?",
      buttons: [
        [
          { text: "Approve", action: "approve:abc" },
          { text: "Deny", action: "deny:abc" },
        ],
      ],
    });
    const [prompt] = emulator.botMessages(42);
    expect(prompt!.reply_markup).toEqual({
      inline_keyboard: [
        [
          { text: "Approve", callback_data: "approve:abc" },
          { text: "Deny", callback_data: "deny:abc" },
        ],
      ],
    });
    const user = emulator.client(TOKEN, { userId: 42 });
    await user.sendCallback(user.makeCallbackQuery("approve:abc"));
    await waitFor(() => received.length === 1);
    expect(received[0]).toMatchObject({ chatId: "42", userId: "42", action: "approve:abc", text: "" });
    expect(received[0]!.messageId).toMatch(/^callback:/);
  });

  it("ignores messages without text and malformed ones with a logged reason, and keeps polling", async () => {
    const { logger, lines } = captureLogger();
    await createChannel({ logger }).start(context);
    const user = emulator.client(TOKEN, { userId: 42 });
    const sticker = user.makeMessage("");
    delete (sticker as { text?: string }).text;
    await user.sendMessage({ ...sticker, sticker: { file_id: "x" } } as never);
    await user.sendMessage({ ...user.makeMessage("no chat"), chat: "not an object" } as never);
    await user.sendMessage({ ...user.makeMessage("from a bot"), from: { id: 7, is_bot: true, first_name: "b" } } as never);
    await user.sendMessage(user.makeMessage("still alive"));
    await waitFor(() => received.length === 1);
    expect(received[0]!.text).toBe("still alive");
    const ignored = lines.filter((line) => line.includes("telegram update ignored"));
    expect(ignored.join("\n")).toContain("message without text (sticker)");
    expect(ignored.join("\n")).toContain("message has no chat.id");
    expect(ignored.join("\n")).toContain("message comes from a bot");
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("delivers messages queued in the outbox while the emulator was down, in order, once it is back", async () => {
    const { dir, cleanup } = makeTempDir();
    const store = new SqliteStore({ path: `${dir}/state.db` });
    const telegram = createChannel();
    const deliverer: Deliverer = {
      kind: "channel",
      needsNetwork: () => false,
      async deliver(delivery, signal) {
        await telegram.sendMessage(delivery.payload as OutboundMessage, signal);
      },
    };
    const outbox = new Outbox({
      store,
      clock: systemClock,
      events: new EventBus(),
      logger: createLogger({ level: "silent" }),
      deliverers: [deliverer],
      backoffMs: 50,
      maxBackoffMs: 200,
    });
    try {
      await emulator.stop();
      outbox.start();
      for (const index of [1, 2, 3]) {
        outbox.enqueue({
          destination: "telegram:42",
          kind: "channel",
          payload: { chatId: "42", text: `alert ${index}` },
          idempotencyKey: `k${index}`,
        });
      }
      await waitFor(() => store.listDeliveries({ status: "pending" }).some((delivery) => delivery.attempts >= 2));
      expect(store.listDeliveries({ status: "pending" })[0]!.lastError).toMatch(/Network request for 'sendMessage' failed/);
      expect(store.listDeliveries({ status: "pending" })[0]!.lastError).not.toContain(TOKEN);
      await emulator.restart();
      await waitFor(() => emulator.botMessages(42).length === 3);
      expect(emulator.botMessages(42).map((message) => message.text)).toEqual(["alert 1", "alert 2", "alert 3"]);
      expect(store.listDeliveries({ status: "delivered" })).toHaveLength(3);
    } finally {
      await outbox.stop();
      store.close();
      cleanup();
    }
  });

  it("refuses to start with the seed's BOT_TOKEN placeholder, with a clear error", async () => {
    const placeholder = createChannel({ token: "BOT_TOKEN" });
    const error = await placeholder.start(context).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(LocalAgentError);
    expect((error as LocalAgentError).code).toBe("config_invalid");
    expect((error as LocalAgentError).message).toMatch(/telegram channel "telegram": auth is not a bot token/);
    expect((error as LocalAgentError).message).not.toContain("BOT_TOKEN");
  });

  it("keeps the update offset in the store", async () => {
    const { dir, cleanup } = makeTempDir();
    const store = new SqliteStore({ path: `${dir}/state.db` });
    try {
      await createChannel({ offsetStore: createStoreUpdateOffset(store, "telegram") }).start(context);
      const user = emulator.client(TOKEN, { userId: 42 });
      await user.sendMessage(user.makeMessage("one"));
      await waitFor(() => received.length === 1);
      await waitFor(() => typeof createStoreUpdateOffset(store, "telegram").load() === "number");
      expect(createStoreUpdateOffset(store, "telegram").load()).toBeGreaterThan(1);
    } finally {
      await channel?.stop();
      store.close();
      cleanup();
    }
  });
});
