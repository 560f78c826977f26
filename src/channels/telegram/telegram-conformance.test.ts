import { BotApiServer } from "../../../test/helpers/telegram.js";
import { waitFor } from "../../../test/helpers/index.js";
import { describeChannelConformance, type InboundSample } from "../channel.conformance.js";
import { unescapeMarkdownV2 } from "./escape.js";
import { TelegramChannel } from "./telegram-channel.js";

const TOKEN = "123456789:AAconformanceTOKEN_abcdefghij";

describeChannelConformance("telegram", async () => {
  const server = new BotApiServer();
  const updates: Array<{ update_id: number } & Record<string, unknown>> = [];
  const sent: string[] = [];
  let nextUpdateId = 100;
  // Like Telegram: updates at or after the offset; an offset past an update means the bot is done with it.
  server.on("getUpdates", ({ body }) => ({ result: updates.filter((update) => update.update_id >= Number(body.offset ?? 0)) }));
  server.on("sendMessage", ({ body }) => {
    // What the user sees: MarkdownV2 unescaped, surrounding whitespace trimmed (as Telegram does).
    sent.push(unescapeMarkdownV2(String(body.text)).trim());
    return { result: { message_id: sent.length, date: 0, chat: { id: Number(body.chat_id) } } };
  });
  await server.start();
  const channel = new TelegramChannel({
    name: "telegram",
    token: TOKEN,
    apiRoot: server.apiRoot,
    polling: { timeoutSeconds: 1, minBackoffMs: 10, maxBackoffMs: 50 },
    maxMessageLength: 400,
  });

  /** Queues an update and resolves once the channel polled past it (it was handed over or refused). */
  async function push(update: Record<string, unknown>): Promise<void> {
    const updateId = nextUpdateId++;
    updates.push({ update_id: updateId, ...update });
    await waitFor(() => server.callsOf("getUpdates").some((call) => Number(call.body.offset ?? 0) > updateId));
  }

  const message = (sample: InboundSample) => ({
    message_id: sample.messageId,
    date: 0,
    chat: { id: sample.chatId, type: "private" },
    from: { id: sample.userId, is_bot: false, first_name: "User" },
    text: sample.text,
  });

  return {
    channel,
    chatId: "42",
    deliver: (sample) => push({ message: message(sample) }),
    badEvents: [
      { name: "unknown update type", deliver: () => push({ edited_channel_post: { text: "x" } }) },
      { name: "message is not an object", deliver: () => push({ message: "x" }) },
      {
        name: "sticker without text",
        deliver: () =>
          push({ message: { ...message({ chatId: "42", userId: "u1", messageId: "s1", text: "" }), text: undefined, sticker: {} } }),
      },
      { name: "message without sender", deliver: () => push({ message: { message_id: 5, chat: { id: 42 }, text: "who?" } }) },
      { name: "callback query without data", deliver: () => push({ callback_query: { id: "c1", from: { id: 42 } } }) },
    ],
    async received(count) {
      await waitFor(() => sent.length >= count);
      return [...sent];
    },
    close: () => server.stop(),
  };
});
