/**
 * What the telegram-test-api emulator cannot show (it ignores getUpdates offsets, always answers at
 * once, never fails on demand and sends no webhook secret header), against a small local server
 * speaking the Bot API wire format.
 */
import { Writable } from "node:stream";
import { SocksProxyAgent } from "socks-proxy-agent";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalAgentError } from "../../errors/index.js";
import { createLogger } from "../../logger/index.js";
import { SqliteStore } from "../../store/index.js";
import { makeTempDir, waitFor } from "../../../test/helpers/index.js";
import { BotApiServer, Socks5Server } from "../../../test/helpers/telegram.js";
import type { InboundMessage } from "../types.js";
import { TelegramChannel, TELEGRAM_SECRET_HEADER, type TelegramChannelOptions } from "./telegram-channel.js";
import { createStoreUpdateOffset } from "./update-offset.js";

const TOKEN = "123456789:AAwireTOKENsecret_abcdefghijk";

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

function textUpdate(updateId: number, text: string) {
  return {
    update_id: updateId,
    message: {
      message_id: updateId * 10,
      date: 0,
      chat: { id: 42, type: "private" },
      from: { id: 42, is_bot: false, first_name: "Ada" },
      text,
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<LocalAgentError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LocalAgentError);
  return error as LocalAgentError;
}

describe("TelegramChannel on the Bot API wire", () => {
  let server: BotApiServer;
  const channels: TelegramChannel[] = [];
  const received: InboundMessage[] = [];
  const context = { receive: async (message: InboundMessage) => void received.push(message) };

  function createChannel(options: Partial<TelegramChannelOptions> = {}): TelegramChannel {
    const channel = new TelegramChannel({
      name: "tg",
      token: TOKEN,
      apiRoot: `${server.apiRoot}/`,
      polling: { timeoutSeconds: 1, minBackoffMs: 20, maxBackoffMs: 100 },
      ...options,
    });
    channels.push(channel);
    return channel;
  }

  beforeEach(async () => {
    received.length = 0;
    server = new BotApiServer();
    await server.start();
  });

  afterEach(async () => {
    for (const channel of channels.splice(0)) await channel.stop();
    await server.stop();
  });

  it("resumes from the stored offset after a restart: nothing lost, nothing repeated", async () => {
    // Like Telegram: getUpdates returns the updates at or after `offset` (an offset confirms the earlier ones).
    const pending = [textUpdate(7, "one"), textUpdate(8, "two"), textUpdate(9, "three")];
    server.on("getUpdates", ({ body }) => ({ result: pending.filter((update) => update.update_id >= Number(body.offset ?? 0)) }));
    const { dir, cleanup } = makeTempDir();
    let store = new SqliteStore({ path: `${dir}/state.db` });
    try {
      const first = createChannel({ offsetStore: createStoreUpdateOffset(store, "tg") });
      await first.start(context);
      await waitFor(() => received.length === 3);
      await first.stop();
      store.close();

      // A new process: the offset comes from the database file.
      store = new SqliteStore({ path: `${dir}/state.db` });
      pending.push(textUpdate(10, "four"));
      const callsBefore = server.callsOf("getUpdates").length;
      await createChannel({ offsetStore: createStoreUpdateOffset(store, "tg") }).start(context);
      await waitFor(() => received.length === 4);
      expect(received.map((message) => message.text)).toEqual(["one", "two", "three", "four"]);
      expect(server.callsOf("getUpdates")[callsBefore]!.body.offset).toBe(10);
      expect(server.callsOf("getUpdates")[0]!.body.allowed_updates).toEqual(["message", "callback_query"]);
      // The polling mode clears a webhook left registered before it polls.
      expect(server.callsOf("deleteWebhook").length).toBeGreaterThanOrEqual(2);
    } finally {
      for (const channel of channels.splice(0)) await channel.stop();
      store.close();
      cleanup();
    }
  });

  it("keeps the offset in the manager's channel state and reports ignored updates through reject", async () => {
    const pending: unknown[] = [textUpdate(3, "hi"), { update_id: 4, poll: {} }];
    server.on("getUpdates", ({ body }) => ({
      result: pending.filter((update) => (update as { update_id: number }).update_id >= Number(body.offset ?? 0)),
    }));
    const state = new Map<string, unknown>();
    const rejected: string[] = [];
    const managed = {
      receive: context.receive,
      state: { get: (key: string) => state.get(key), set: (key: string, value: unknown) => void state.set(key, value) },
      reject: (reason: string) => void rejected.push(reason),
    };
    await createChannel().start(managed);
    await waitFor(() => state.get("telegram.update_offset") === 5);
    expect(received.map((message) => message.text)).toEqual(["hi"]);
    expect(rejected).toEqual(['telegram update ignored: update type "poll" is not handled']);
  });

  it("does not move the offset past an update whose queueing failed", async () => {
    const pending = [textUpdate(1, "a"), textUpdate(2, "b")];
    server.on("getUpdates", ({ body }) => ({ result: pending.filter((update) => update.update_id >= Number(body.offset ?? 0)) }));
    let failOnce = true;
    const flaky = {
      receive: async (message: InboundMessage) => {
        if (message.text === "b" && failOnce) {
          failOnce = false;
          throw new Error("store is busy");
        }
        received.push(message);
      },
    };
    await createChannel().start(flaky);
    await waitFor(() => received.length === 2);
    expect(received.map((message) => message.text)).toEqual(["a", "b"]);
    expect(server.callsOf("getUpdates").some((call) => call.body.offset === 2)).toBe(true);
  });

  it("backs off when getUpdates answers at once with nothing, fails, or sends what it cannot confirm, and resets on updates", async () => {
    const { logger, lines } = captureLogger();
    // Empty at once, a 502, entries without an update_id (never confirmable), then a real update: none may make the loop spin.
    const script: Array<() => unknown> = [
      () => ({ result: [] }),
      () => ({ status: 502, description: "Bad Gateway" }),
      () => ({ result: ["garbage", { no: "id" }] }),
      () => ({ result: [] }),
      () => ({ result: [textUpdate(1, "finally")] }),
      () => ({ result: [] }),
    ];
    let call = 0;
    server.on("getUpdates", () => (script[call++] ?? (() => ({ result: [] })))() as never);
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
      await new Promise((done) => setImmediate(done));
    };
    const channel = createChannel({ logger, sleep, polling: { timeoutSeconds: 30, minBackoffMs: 100, maxBackoffMs: 300 } });
    await channel.start(context);
    await waitFor(() => call >= script.length + 2);
    await channel.stop();
    // One wait after each call that brought nothing new, doubling up to the maximum; none right after the update.
    expect(waits.slice(0, 5)).toEqual([100, 200, 300, 300, 100]);
    expect(received.map((message) => message.text)).toEqual(["finally"]);
    const failures = lines.filter((line) => line.includes("telegram polling failed"));
    expect(failures.join("\n")).toContain("502: Bad Gateway");
    expect(lines.join("\n")).toContain("update has no integer update_id");
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("tells the outbox when the Bot API is reachable again after failures", async () => {
    let calls = 0;
    server.on("getUpdates", () => (++calls <= 2 ? { status: 503, description: "Service Unavailable" } : { result: [] }));
    let woken = 0;
    await createChannel({ onReachable: () => void woken++ }).start(context);
    await waitFor(() => calls >= 4);
    expect(woken).toBe(1);
  });

  it("maps send errors for the outbox: 429 and 5xx retry, 400 and 403 do not, the token never shows", async () => {
    const channel = createChannel({ maxInlineRetryAfterSeconds: 1 });
    const answers: Array<() => unknown> = [];
    server.on("sendMessage", () => (answers.shift()?.() ?? { result: { message_id: 1, date: 0, chat: { id: 42 } } }) as never);

    answers.push(() => ({ status: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } }));
    expect(await channel.sendMessage({ chatId: "42", text: "waits out a short 429" })).toEqual({ messageIds: ["1"] });

    answers.push(() => ({ status: 429, description: "Too Many Requests: retry after 60", parameters: { retry_after: 60 } }));
    const tooMany = await failure(channel.sendMessage({ chatId: "42", text: "x" }));
    expect(tooMany.retryable).toBe(true);
    expect(tooMany.details).toMatchObject({ status: 429, retry_after: 60 });

    answers.push(() => ({ status: 500, description: "Internal Server Error" }));
    expect((await failure(channel.sendMessage({ chatId: "42", text: "x" }))).retryable).toBe(true);

    answers.push(() => ({ status: 400, description: "Bad Request: chat not found" }));
    const notFound = await failure(channel.sendMessage({ chatId: "42", text: "x" }));
    expect(notFound.retryable).toBe(false);
    expect(notFound.message).toBe('telegram channel "tg", chat 42: sendMessage: 400: Bad Request: chat not found');

    answers.push(() => ({ status: 403, description: "Forbidden: bot was blocked by the user" }));
    const blocked = await failure(channel.sendMessage({ chatId: "42", text: "x" }));
    expect(blocked.retryable).toBe(false);
    expect(blocked.message).toContain("bot was blocked by the user");

    answers.push(() => ({ status: 401, description: "Unauthorized" }));
    const unauthorized = await failure(channel.sendMessage({ chatId: "42", text: "x" }));
    expect(unauthorized.retryable).toBe(false);
    expect(unauthorized.message).toContain("the bot token was rejected");

    for (const error of [tooMany, notFound, blocked, unauthorized]) expect(JSON.stringify(error.toJSON())).not.toContain(TOKEN);

    await server.stop();
    const refused = await failure(channel.sendMessage({ chatId: "42", text: "x" }));
    expect(refused.retryable).toBe(true);
    expect(refused.message).toMatch(/Network request for 'sendMessage' failed/);
    expect(refused.message).not.toContain(TOKEN);
    expect(String(refused.cause ?? "")).not.toContain(TOKEN);
  });

  it("does not repeat the parts of a split message already sent when the outbox retries it", async () => {
    const channel = createChannel({ maxMessageLength: 20 });
    let count = 0;
    server.on("sendMessage", () =>
      ++count === 2 ? { status: 502, description: "Bad Gateway" } : { result: { message_id: count, date: 0, chat: { id: 42 } } },
    );
    const message = { chatId: "42", text: "first part here. second part here. third part here." };
    expect((await failure(channel.sendMessage(message))).retryable).toBe(true);
    const sent = await channel.sendMessage(message);
    const texts = server.callsOf("sendMessage").map((call) => call.body.text);
    expect(texts[1]).toBe(texts[2]); // the failed part again, not the first one
    expect(new Set(texts).size).toBe(sent.messageIds.length);
    expect(sent.messageIds).toHaveLength(3);
  });

  it("does not repeat the parts already sent when the daemon restarts half way through a split message", async () => {
    server.on("getUpdates", () => ({ result: [] }));
    let count = 0;
    server.on("sendMessage", () =>
      ++count === 2 ? { status: 502, description: "Bad Gateway" } : { result: { message_id: count, date: 0, chat: { id: 42 } } },
    );
    const state = new Map<string, unknown>();
    const managed = {
      receive: context.receive,
      state: {
        get: (key: string) => state.get(key),
        set: (key: string, value: unknown) => void state.set(key, value),
        delete: (key: string) => void state.delete(key),
      },
    };
    const message = { chatId: "42", text: "first part here. second part here. third part here." };
    const before = createChannel({ maxMessageLength: 20 });
    await before.start(managed);
    expect((await failure(before.sendMessage(message))).retryable).toBe(true);
    await before.stop();
    // A new adapter on the same durable state: the restarted daemon.
    const after = createChannel({ maxMessageLength: 20 });
    await after.start(managed);
    const sent = await after.sendMessage(message);
    const texts = server.callsOf("sendMessage").map((call) => call.body.text);
    expect(texts).toHaveLength(4);
    expect(texts[1]).toBe(texts[2]); // the failed part again, not the first one
    expect(sent.messageIds).toEqual(["1", "3", "4"]);
    expect([...state.keys()].filter((key) => key.startsWith("telegram.partial."))).toEqual([]);
  });

  it("answers a button press after queueing it, and puts buttons on the last part only", async () => {
    server.on("getUpdates", ({ body }) => ({
      result: [
        {
          update_id: 5,
          callback_query: {
            id: "cb-1",
            from: { id: 42, is_bot: false, first_name: "Ada" },
            message: { message_id: 3, chat: { id: 42 } },
            data: "deny:r1",
          },
        },
      ].filter((update) => update.update_id >= Number(body.offset ?? 0)),
    }));
    server.on("sendMessage", ({ body }) => ({
      result: { message_id: server.callsOf("sendMessage").length, date: 0, chat: { id: body.chat_id } },
    }));
    const channel = createChannel({ maxMessageLength: 30 });
    await channel.start(context);
    await waitFor(() => server.callsOf("answerCallbackQuery").length === 1);
    expect(received).toEqual([expect.objectContaining({ action: "deny:r1", chatId: "42", messageId: "callback:cb-1" })]);
    expect(server.callsOf("answerCallbackQuery")[0]!.body.callback_query_id).toBe("cb-1");

    await channel.sendMessage({
      chatId: "42",
      text: "a long question that needs two parts at least",
      buttons: [[{ text: "OK", action: "approve:r1" }]],
    });
    const sends = server.callsOf("sendMessage");
    expect(sends.length).toBeGreaterThan(1);
    expect(sends.slice(0, -1).every((call) => call.body.reply_markup === undefined)).toBe(true);
    expect(sends.at(-1)!.body.reply_markup).toEqual({ inline_keyboard: [[{ text: "OK", callback_data: "approve:r1" }]] });

    const tooLong = await failure(channel.sendMessage({ chatId: "42", text: "x", buttons: [[{ text: "B", action: "a".repeat(65) }]] }));
    expect(tooLong.retryable).toBe(false);
    expect(tooLong.message).toContain("longer than 64 bytes");
  });

  it("sends every Bot API call through a SOCKS5 proxy when given one", async () => {
    const proxy = new Socks5Server();
    await proxy.start();
    try {
      server.on("sendMessage", () => ({ result: { message_id: 9, date: 0, chat: { id: 42 } } }));
      const channel = createChannel({ agent: new SocksProxyAgent(`socks5://127.0.0.1:${proxy.port}`) });
      expect(await channel.sendMessage({ chatId: "42", text: "via proxy" })).toEqual({ messageIds: ["9"] });
      expect(server.callsOf("sendMessage")[0]!.body.text).toBe("via proxy");
      expect(proxy.connections).toContain(`127.0.0.1:${server.port}`);
    } finally {
      await proxy.stop();
    }
  });

  describe("webhook mode", () => {
    it("registers the URL with a secret token and accepts only calls carrying it", async () => {
      const { logger, lines } = captureLogger();
      const channel = createChannel({ webhookUrl: "https://bot.example.com/api/telegram", logger });
      expect(channel.webhookPath).toBe("/api/telegram");
      await channel.start(context);
      await waitFor(() => server.callsOf("setWebhook").length === 1);
      const registration = server.callsOf("setWebhook")[0]!.body;
      expect(registration.url).toBe("https://bot.example.com/api/telegram");
      const secret = String(registration.secret_token);
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      expect(server.callsOf("getUpdates")).toHaveLength(0);

      await channel.handleEvent(textUpdate(1, "via webhook"), { [TELEGRAM_SECRET_HEADER]: secret });
      expect(received.map((message) => message.text)).toEqual(["via webhook"]);

      for (const headers of [{}, { [TELEGRAM_SECRET_HEADER]: "wrong" }, { [TELEGRAM_SECRET_HEADER]: `${secret}x` }]) {
        const refused = await failure(channel.handleEvent(textUpdate(2, "forged"), headers));
        expect(refused.code).toBe("bad_request");
        expect(refused.details).toEqual({ httpStatus: 401 });
        expect(refused.message).toBe('telegram channel "tg": missing or wrong X-Telegram-Bot-Api-Secret-Token header');
        expect(refused.message).not.toContain(secret);
      }
      expect(received).toHaveLength(1);
      expect(lines.join("\n")).not.toContain(secret);
    });

    it("ignores malformed webhook bodies with a logged reason and never throws for them", async () => {
      const { logger, lines } = captureLogger();
      const channel = createChannel({ webhookUrl: "https://bot.example.com/hook", webhookSecret: "s3cret-value", logger });
      await channel.start(context);
      const headers = { [TELEGRAM_SECRET_HEADER]: "s3cret-value" };
      for (const body of [
        null,
        "text",
        [1, 2],
        {},
        { update_id: "1" },
        { update_id: 3, edited_message: {} },
        { update_id: 4, message: "x" },
        { update_id: 5, callback_query: { id: 1 } },
      ]) {
        await channel.handleEvent(body, headers);
      }
      expect(received).toHaveLength(0);
      const reasons = lines.filter((line) => line.includes("telegram update ignored")).join("\n");
      for (const reason of [
        "update is not a JSON object",
        "update has no integer update_id",
        'update type \\"edited_message\\" is not handled',
        "message is not an object",
        "callback_query has no id",
      ]) {
        expect(reasons).toContain(reason);
      }
    });
  });
});
