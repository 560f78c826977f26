import type { InboundMessage } from "../types.js";

/** One update taken apart: a message to queue, or why it is ignored. */
export type ParsedUpdate =
  | { kind: "message"; updateId: number; message: InboundMessage; callbackQueryId?: string }
  | { kind: "ignored"; updateId: number | undefined; reason: string };

/**
 * Reads one Bot API update defensively (it is untrusted input): text messages and button presses
 * (callback queries) become InboundMessages; anything else — other update types, messages without
 * text, fields of the wrong type — is ignored with a reason to log.
 */
export function parseUpdate(update: unknown, channel: string, now: number): ParsedUpdate {
  if (!isRecord(update)) return { kind: "ignored", updateId: undefined, reason: "update is not a JSON object" };
  const updateId = update.update_id;
  if (!isSafeInteger(updateId)) return { kind: "ignored", updateId: undefined, reason: "update has no integer update_id" };
  if ("message" in update) return parseTextMessage(update.message, updateId, channel, now);
  if ("callback_query" in update) return parseCallbackQuery(update.callback_query, updateId, channel, now);
  const type = Object.keys(update).find((key) => key !== "update_id") ?? "empty";
  return { kind: "ignored", updateId, reason: `update type "${type}" is not handled` };
}

function parseTextMessage(value: unknown, updateId: number, channel: string, now: number): ParsedUpdate {
  if (!isRecord(value)) return { kind: "ignored", updateId, reason: "message is not an object" };
  const chat = value.chat;
  const from = value.from;
  if (!isRecord(chat) || !isId(chat.id)) return { kind: "ignored", updateId, reason: "message has no chat.id" };
  if (!isRecord(from) || !isId(from.id)) return { kind: "ignored", updateId, reason: "message has no sender (from.id)" };
  if (from.is_bot === true) return { kind: "ignored", updateId, reason: "message comes from a bot" };
  if (!isId(value.message_id)) return { kind: "ignored", updateId, reason: "message has no message_id" };
  const text = typeof value.text === "string" ? value.text : typeof value.caption === "string" ? value.caption : undefined;
  if (text === undefined) {
    const type = MEDIA_TYPES.find((key) => key in value) ?? "unknown";
    return { kind: "ignored", updateId, reason: `message without text (${type}) is not handled` };
  }
  return {
    kind: "message",
    updateId,
    message: {
      channel,
      chatId: String(chat.id),
      userId: String(from.id),
      ...userName(from),
      messageId: String(value.message_id),
      text,
      receivedAt: now,
    },
  };
}

function parseCallbackQuery(value: unknown, updateId: number, channel: string, now: number): ParsedUpdate {
  if (!isRecord(value) || typeof value.id !== "string") return { kind: "ignored", updateId, reason: "callback_query has no id" };
  const from = value.from;
  if (!isRecord(from) || !isId(from.id)) return { kind: "ignored", updateId, reason: "callback_query has no sender (from.id)" };
  if (typeof value.data !== "string") return { kind: "ignored", updateId, reason: "callback_query has no data (a game button?)" };
  const message = value.message;
  // A button under an inline-mode message has no chat: answer in the presser's private chat.
  const chatId = isRecord(message) && isRecord(message.chat) && isId(message.chat.id) ? message.chat.id : from.id;
  return {
    kind: "message",
    updateId,
    callbackQueryId: value.id,
    message: {
      channel,
      chatId: String(chatId),
      userId: String(from.id),
      ...userName(from),
      messageId: `callback:${value.id}`,
      text: "",
      action: value.data,
      receivedAt: now,
    },
  };
}

const MEDIA_TYPES = ["sticker", "photo", "video", "voice", "audio", "document", "animation", "location", "contact", "poll", "dice"];

function userName(from: Record<string, unknown>): { userName?: string } {
  if (typeof from.username === "string") return { userName: from.username };
  if (typeof from.first_name === "string") return { userName: from.first_name };
  return {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSafeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

/** Telegram sends integers; an id-like string is accepted too (ids are only compared, never computed with). */
function isId(value: unknown): value is number | string {
  return isSafeInteger(value) || (typeof value === "string" && /^[\w@:.-]{1,64}$/.test(value));
}
