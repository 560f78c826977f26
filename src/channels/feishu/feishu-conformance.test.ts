import { waitFor } from "../../../test/helpers/index.js";
import { encryptEvent, FeishuServer, messageEvent, signedHeaders } from "../../../test/helpers/feishu-server.js";
import { describeChannelConformance, type ChannelHarness, type InboundSample } from "../channel.conformance.js";
import { FeishuChannel } from "./feishu-channel.js";

const APP_ID = "cli_0123456789abcdef";
const APP_SECRET = "conformance-secret";
const ENCRYPT_KEY = "conformance-encrypt-key";

function sampleEvent(sample: InboundSample): Record<string, unknown> {
  return messageEvent({ text: sample.text, chatId: sample.chatId, userId: sample.userId, messageId: sample.messageId });
}

async function harness(mode: "webhook" | "websocket"): Promise<ChannelHarness & { server: FeishuServer }> {
  const server = await new FeishuServer(APP_ID, APP_SECRET).start();
  const channel = new FeishuChannel({
    name: "lark",
    appId: APP_ID,
    appSecret: APP_SECRET,
    baseUrl: server.baseUrl,
    mode,
    encryptKey: ENCRYPT_KEY,
  });
  const post = async (body: string, headers: Record<string, string> = signedHeaders(body, ENCRYPT_KEY)): Promise<void> => {
    let parsed: unknown = body;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = body;
    }
    await channel.handleEvent(parsed, headers, body);
  };
  const push = async (event: unknown): Promise<void> => {
    await waitFor(() => channel.connected);
    await server.pushEvent(event);
  };
  const deliver =
    mode === "webhook"
      ? (sample: InboundSample) => post(encryptEvent(sampleEvent(sample), ENCRYPT_KEY))
      : (sample: InboundSample) => push(sampleEvent(sample));
  const valid = encryptEvent(sampleEvent({ chatId: "oc_c", userId: "ou_u", messageId: "bad-1", text: "x" }), ENCRYPT_KEY);
  const unknownType = { schema: "2.0", header: { event_type: "drive.file.edit_v1", event_id: "e" }, event: {} };
  const image = messageEvent({ text: "", type: "image", messageId: "bad-img" });
  const badEvents =
    mode === "webhook"
      ? [
          {
            name: "bad signature",
            deliver: () => post(valid, { ...signedHeaders(valid, ENCRYPT_KEY), "x-lark-signature": "a".repeat(64) }),
          },
          { name: "no signature", deliver: () => post(valid, {}) },
          { name: "malformed JSON", deliver: () => post("{nope") },
          { name: "not an event", deliver: () => post(encryptEvent({ hello: 1 }, ENCRYPT_KEY)) },
          { name: "unknown event type", deliver: () => post(encryptEvent(unknownType, ENCRYPT_KEY)) },
          { name: "unknown message type", deliver: () => post(encryptEvent(image, ENCRYPT_KEY)) },
          { name: "oversized", deliver: () => post(encryptEvent({ pad: "x".repeat(1 << 20) }, ENCRYPT_KEY)) },
        ]
      : [
          { name: "not an event", deliver: () => push({ hello: 1 }) },
          { name: "unknown event type", deliver: () => push(unknownType) },
          { name: "unknown message type", deliver: () => push(image) },
        ];
  return {
    server,
    channel,
    chatId: "oc_conformance",
    deliver,
    badEvents,
    async received(count) {
      await waitFor(() => server.sent.length >= count);
      return server.sent.map((message) => String(message.content.text));
    },
    close: () => server.stop(),
  };
}

describeChannelConformance("feishu (HTTP callback)", () => harness("webhook"));
describeChannelConformance("feishu (long connection)", () => harness("websocket"));
