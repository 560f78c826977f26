import { describe, expect, it } from "vitest";
import { Receiver, waitFor } from "../../../test/helpers/index.js";
import { systemClock } from "../../clock/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { describeChannelConformance, type InboundSample } from "../channel.conformance.js";
import { signatureHeaders, signBody, verifySignature } from "./signature.js";
import { createWebhookChannel, WebhookChannel } from "./webhook-channel.js";

const SECRET = "a-webhook-secret-of-32-characters";

function signed(body: string, at = Date.now(), secret = SECRET): Record<string, string> {
  return { "content-type": "application/json", ...signatureHeaders(secret, body, at) };
}

function eventBody(sample: InboundSample): string {
  return JSON.stringify({ chat_id: sample.chatId, user_id: sample.userId, message_id: sample.messageId, text: sample.text });
}

describeChannelConformance("webhook", async () => {
  const receiver = await new Receiver().start();
  const channel = new WebhookChannel("hook", { secret: SECRET, url: receiver.url, maxMessageLength: 500 }, { clock: systemClock });
  const post = (body: string, headers: Record<string, string>): Promise<void> => {
    let parsed: unknown = body;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = body;
    }
    return channel.handleEvent(parsed, headers, body);
  };
  const valid = eventBody({ chatId: "c1", userId: "u1", messageId: "bad-x", text: "hi" });
  return {
    channel,
    chatId: "c1",
    deliver: (sample) => {
      const body = eventBody(sample);
      return post(body, signed(body));
    },
    badEvents: [
      { name: "no signature", deliver: () => post(valid, { "content-type": "application/json" }) },
      { name: "wrong signature", deliver: () => post(valid, signed(valid, Date.now(), "another-secret-entirely-000000")) },
      { name: "signature of another body", deliver: () => post(valid.replace("hi", "rm -rf /"), signed(valid)) },
      { name: "replayed (old timestamp)", deliver: () => post(valid, signed(valid, Date.now() - 10 * 60_000)) },
      { name: "malformed JSON", deliver: () => post("{not json", signed("{not json")) },
      { name: "array body", deliver: () => post("[1,2]", signed("[1,2]")) },
      {
        name: "unknown message type",
        deliver: () => {
          const body = JSON.stringify({ type: "sticker", chat_id: "c1", user_id: "u1", message_id: "9", text: "x" });
          return post(body, signed(body));
        },
      },
      {
        name: "missing fields",
        deliver: () => {
          const body = JSON.stringify({ text: "x" });
          return post(body, signed(body));
        },
      },
      {
        name: "oversized text",
        deliver: () => {
          const body = JSON.stringify({ chat_id: "c1", user_id: "u1", message_id: "big", text: "x".repeat(70_000) });
          return post(body, signed(body));
        },
      },
    ],
    received: async (count) => {
      await waitFor(() => receiver.requests.length >= count);
      return receiver.requests.map((request) => String((request.body as { text: string }).text));
    },
    close: () => receiver.stop(),
  };
});

describe("webhook signatures", () => {
  it("signs TIMESTAMP.BODY with HMAC-SHA256 and checks it in constant time within a 5-minute window", () => {
    const now = 1_700_000_000_000;
    const headers = signatureHeaders(SECRET, '{"a":1}', now);
    expect(headers["x-localagent-timestamp"]).toBe("1700000000");
    expect(headers["x-localagent-signature"]).toBe(signBody(SECRET, "1700000000", '{"a":1}'));
    expect(headers["x-localagent-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(SECRET, headers, '{"a":1}', now)).toBeUndefined();
    expect(verifySignature(SECRET, headers, '{"a":1}', now + 4 * 60_000)).toBeUndefined();
    expect(verifySignature(SECRET, headers, '{"a":1}', now + 6 * 60_000)).toMatch(/outside the 5-minute window/);
    expect(verifySignature(SECRET, headers, '{"a":2}', now)).toBe("signature does not match");
    expect(verifySignature(SECRET, { ...headers, "x-localagent-timestamp": "1700000001" }, '{"a":1}', now)).toBe(
      "signature does not match",
    );
    expect(verifySignature(SECRET, {}, "", now)).toMatch(/missing x-localagent-signature/);
  });

  it("signs outbound POSTs the same way and retries 5xx and unreachable receivers", async () => {
    const receiver = await new Receiver().start();
    const channel = new WebhookChannel("hook", { secret: SECRET, url: receiver.url }, { clock: systemClock });
    await channel.sendMessage({ chatId: "c9", text: "deploy done", replyTo: "m1", buttons: [[{ text: "OK", action: "ok" }]] });
    const request = receiver.requests[0]!;
    const raw = JSON.stringify(request.body);
    expect(request.body).toMatchObject({
      channel: "hook",
      chat_id: "c9",
      text: "deploy done",
      reply_to: "m1",
      buttons: [[{ text: "OK", action: "ok" }]],
    });
    expect(verifySignature(SECRET, request.headers as Record<string, string>, raw, Date.now())).toBeUndefined();
    receiver.status = 503;
    await expect(channel.sendMessage({ chatId: "c9", text: "x" })).rejects.toMatchObject({ retryable: true });
    receiver.status = 400;
    await expect(channel.sendMessage({ chatId: "c9", text: "x" })).rejects.toMatchObject({ retryable: false });
    await receiver.stop();
    await expect(channel.sendMessage({ chatId: "c9", text: "x" })).rejects.toMatchObject({
      retryable: true,
      message: expect.stringMatching(/unreachable/) as unknown,
    });
  });

  it("refuses to start without a usable secret, naming where", () => {
    const base = { name: "hook", kind: "webhook", where: "platforms.json: platforms[2]" };
    const services = { clock: systemClock, logger: undefined as never, wake: () => undefined };
    expect(() => createWebhookChannel(base, services)).toThrow(/platforms\[2\]\.secret: a webhook channel needs secret:/);
    expect(() => createWebhookChannel({ ...base, secret: "short" }, services)).toThrow(LocalAgentError);
    expect(() => createWebhookChannel({ ...base, secret: SECRET, webhook: "not a url" }, services)).toThrow(/webhook: not a URL/);
    expect(createWebhookChannel({ ...base, secret: SECRET }, services).kind).toBe("webhook");
  });
});
