import { describe, expect, it } from "vitest";
import { MalformedEventError, parseFeishuEvent } from "./event-parser.js";

function receive(
  message: Record<string, unknown>,
  sender: Record<string, unknown> = { sender_id: { open_id: "ou_1" }, sender_type: "user" },
) {
  return { schema: "2.0", header: { event_type: "im.message.receive_v1", event_id: "e1", token: "t" }, event: { sender, message } };
}

describe("parseFeishuEvent", () => {
  it("reads text, strips @mentions, and flattens rich-text posts", () => {
    const text = parseFeishuEvent(
      receive({
        message_id: "om_1",
        chat_id: "oc_1",
        message_type: "text",
        content: JSON.stringify({ text: "@_user_1  /status please" }),
        mentions: [{ key: "@_user_1", name: "LocalAgent" }],
      }),
    );
    expect(text).toMatchObject({
      kind: "message",
      token: "t",
      eventId: "e1",
      message: { chatId: "oc_1", userId: "ou_1", messageId: "om_1", text: "/status please" },
    });
    const post = parseFeishuEvent(
      receive({
        message_id: "om_2",
        chat_id: "oc_1",
        message_type: "post",
        content: JSON.stringify({
          zh_cn: {
            title: "Report",
            content: [
              [
                { tag: "text", text: "line " },
                { tag: "a", text: "one" },
              ],
              [{ tag: "text", text: "two" }],
            ],
          },
        }),
      }),
    );
    expect(post).toMatchObject({ kind: "message", message: { text: "Report\nline one\ntwo" } });
  });

  it("ignores other senders, message types and event types with a reason", () => {
    const fromBot = parseFeishuEvent(
      receive(
        { message_id: "m", chat_id: "c", message_type: "text", content: "{}" },
        { sender_id: { open_id: "ou_b" }, sender_type: "app" },
      ),
    );
    expect(fromBot).toMatchObject({ kind: "ignored", reason: "message from a app, not a user" });
    expect(parseFeishuEvent(receive({ message_id: "m", chat_id: "c", message_type: "sticker", content: "{}" }))).toMatchObject({
      kind: "ignored",
      reason: "unsupported message type sticker",
    });
    expect(parseFeishuEvent({ schema: "2.0", header: { event_type: "im.chat.disbanded_v1" }, event: {} })).toMatchObject({
      kind: "ignored",
    });
    expect(parseFeishuEvent({ uuid: "u", token: "t", event: { type: "message" } })).toMatchObject({ kind: "ignored" });
  });

  it("reads the older card callback shape", () => {
    const press = parseFeishuEvent({
      open_id: "ou_1",
      open_chat_id: "oc_1",
      open_message_id: "om_c",
      action: { value: { action: "deny:a9" } },
    });
    expect(press).toMatchObject({ kind: "message", message: { chatId: "oc_1", userId: "ou_1", action: "deny:a9", text: "" } });
  });

  it("throws MalformedEventError for bodies that are not events", () => {
    for (const body of [
      null,
      [],
      "text",
      {},
      { type: "url_verification" },
      { schema: "2.0", header: { event_type: "im.message.receive_v1" } },
    ]) {
      expect(() => parseFeishuEvent(body)).toThrow(MalformedEventError);
    }
    expect(() => parseFeishuEvent(receive({ message_id: "m", chat_id: "c", message_type: "text", content: "{oops" }))).toThrow(
      /content is not JSON/,
    );
    expect(() => parseFeishuEvent(receive({ message_id: "m", message_type: "text", content: "{}" }))).toThrow(/without sender id, chat_id/);
  });
});
