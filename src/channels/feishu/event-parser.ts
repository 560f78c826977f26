import type { InboundMessage } from "../types.js";

/** Longest inbound text accepted (Feishu itself allows 150 KB per text message). */
export const MAX_INBOUND_TEXT = 150_000;

/** One decoded Feishu event, as the adapter sees it. */
export type FeishuEvent =
  | { kind: "challenge"; challenge: string; token: string | undefined }
  | { kind: "message"; message: Omit<InboundMessage, "channel" | "receivedAt">; token: string | undefined; eventId: string | undefined }
  | { kind: "ignored"; reason: string; token: string | undefined; eventId: string | undefined };

/** A body that is not a Feishu event at all; the message names what is wrong. */
export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedEventError";
  }
}

type Json = Record<string, unknown>;

/**
 * Reads a decrypted event body: `url_verification`, schema 2.0 events (`im.message.receive_v1`,
 * `card.action.trigger`), and the older card-callback shape. Unknown event and message types are
 * `ignored` with a reason; a body that is not an event throws MalformedEventError.
 */
export function parseFeishuEvent(body: unknown): FeishuEvent {
  if (!isObject(body)) throw new MalformedEventError("event body is not a JSON object");
  if (body.type === "url_verification") {
    if (typeof body.challenge !== "string") throw new MalformedEventError("url_verification without a challenge");
    return { kind: "challenge", challenge: body.challenge, token: stringOr(body.token) };
  }
  if (body.schema === "2.0") {
    const header = body.header;
    if (!isObject(header) || typeof header.event_type !== "string")
      throw new MalformedEventError("schema 2.0 event without header.event_type");
    const token = stringOr(header.token);
    const eventId = stringOr(header.event_id);
    const event = body.event;
    if (!isObject(event)) throw new MalformedEventError(`${header.event_type} event without an event object`);
    if (header.event_type === "im.message.receive_v1") return { ...parseMessageEvent(event), token, eventId };
    if (header.event_type === "card.action.trigger") return { ...parseCardAction(event, eventId), token, eventId };
    return { kind: "ignored", reason: `unhandled event type ${header.event_type.slice(0, 100)}`, token, eventId };
  }
  if (isObject(body.action) && typeof body.open_chat_id === "string") {
    // The older card callback: {open_id, open_chat_id, open_message_id, action: {value}}.
    const operator = { open_id: body.open_id, user_id: body.user_id };
    const context = { open_chat_id: body.open_chat_id, open_message_id: body.open_message_id };
    return { ...parseCardAction({ operator, context, action: body.action }, undefined), token: undefined, eventId: undefined };
  }
  if (isObject(body.event) && typeof body.event.type === "string") {
    return {
      kind: "ignored",
      reason: `schema 1.0 event ${body.event.type.slice(0, 100)} not handled`,
      token: stringOr(body.token),
      eventId: undefined,
    };
  }
  throw new MalformedEventError("not a Feishu event (no type, schema or card action)");
}

function parseMessageEvent(
  event: Json,
): { kind: "message"; message: Omit<InboundMessage, "channel" | "receivedAt"> } | { kind: "ignored"; reason: string } {
  const sender = event.sender;
  const message = event.message;
  if (!isObject(sender) || !isObject(message)) throw new MalformedEventError("im.message.receive_v1 without sender or message");
  if (sender.sender_type !== undefined && sender.sender_type !== "user")
    return { kind: "ignored", reason: `message from a ${String(sender.sender_type)}, not a user` };
  const userId = senderId(sender.sender_id);
  const chatId = stringOr(message.chat_id);
  const messageId = stringOr(message.message_id);
  if (!userId || !chatId || !messageId) throw new MalformedEventError("im.message.receive_v1 without sender id, chat_id or message_id");
  const messageType = stringOr(message.message_type) ?? "unknown";
  if (typeof message.content !== "string") throw new MalformedEventError("im.message.receive_v1 message.content is not a string");
  if (message.content.length > MAX_INBOUND_TEXT * 2)
    return { kind: "ignored", reason: `message of ${message.content.length} characters is over the limit` };
  let content: unknown;
  try {
    content = JSON.parse(message.content);
  } catch {
    throw new MalformedEventError("im.message.receive_v1 message.content is not JSON");
  }
  let text: string;
  if (messageType === "text" && isObject(content) && typeof content.text === "string") text = content.text;
  else if (messageType === "post" && isObject(content)) text = postText(content);
  else return { kind: "ignored", reason: `unsupported message type ${messageType.slice(0, 50)}` };
  for (const mention of Array.isArray(message.mentions) ? message.mentions : []) {
    if (isObject(mention) && typeof mention.key === "string" && mention.key !== "") text = text.split(mention.key).join("");
  }
  text = text.replace(/\s+/g, (space) => (space.includes("\n") ? "\n" : " ")).trim();
  if (text.length > MAX_INBOUND_TEXT) return { kind: "ignored", reason: `message of ${text.length} characters is over the limit` };
  return { kind: "message", message: { chatId, userId, messageId, text } };
}

function parseCardAction(
  event: Json,
  eventId: string | undefined,
): { kind: "message"; message: Omit<InboundMessage, "channel" | "receivedAt"> } {
  const operator = isObject(event.operator) ? event.operator : {};
  const context = isObject(event.context) ? event.context : {};
  const action = isObject(event.action) ? event.action : {};
  const value = action.value;
  const data = typeof value === "string" ? value : isObject(value) && typeof value.action === "string" ? value.action : undefined;
  const userId = senderId(operator);
  const chatId = stringOr(context.open_chat_id);
  const cardMessageId = stringOr(context.open_message_id) ?? "card";
  if (!data || !userId || !chatId) throw new MalformedEventError("card action without value.action, operator id or open_chat_id");
  // One press is one inbound message: the event id (or the action) keeps redeliveries of it deduplicated.
  const messageId = `${cardMessageId}:${eventId ?? data}`;
  return { kind: "message", message: { chatId, userId, messageId, text: "", action: data } };
}

function postText(content: Json): string {
  // A post is {title, content: [[{tag, text}]]}, possibly under a locale key (zh_cn, en_us).
  const post = Array.isArray(content.content)
    ? content
    : (Object.values(content).find((value) => isObject(value) && Array.isArray(value.content)) as Json | undefined);
  if (!post) return "";
  const lines: string[] = typeof post.title === "string" && post.title ? [post.title] : [];
  for (const paragraph of post.content as unknown[]) {
    if (!Array.isArray(paragraph)) continue;
    lines.push(paragraph.map((element) => (isObject(element) && typeof element.text === "string" ? element.text : "")).join(""));
  }
  return lines.join("\n");
}

function senderId(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  return stringOr(value.open_id) ?? stringOr(value.user_id) ?? stringOr(value.union_id);
}

function stringOr(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
