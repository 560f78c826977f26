import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { encryptEvent, FeishuServer, messageEvent, signedHeaders } from "../../../test/helpers/feishu-server.js";
import { waitFor } from "../../../test/helpers/index.js";
import { Socks5Server } from "../../../test/helpers/socks5-server.js";
import { LocalAgentError } from "../../errors/index.js";
import { createLogger } from "../../logger/index.js";
import type { InboundMessage } from "../types.js";
import { FeishuChannel } from "./feishu-channel.js";
import type { FeishuChannelOptions } from "./feishu-options.js";

const APP_ID = "cli_a1b2c3d4e5f6a7b8";
const APP_SECRET = "s3cret-app-secret-value";
const ENCRYPT_KEY = "encrypt-key-0123";
const VERIFICATION_TOKEN = "verify-token-4567";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(): Promise<FeishuServer> {
  const server = await new FeishuServer(APP_ID, APP_SECRET).start();
  cleanups.push(() => server.stop());
  return server;
}

function captureLogs(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  let raw = "";
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines, text: () => raw };
}

async function startChannel(
  server: FeishuServer,
  overrides: Partial<FeishuChannelOptions> = {},
  services: ConstructorParameters<typeof FeishuChannel>[1] = {},
): Promise<{ channel: FeishuChannel; received: InboundMessage[] }> {
  const channel = new FeishuChannel(
    { name: "enterprise_im", appId: APP_ID, appSecret: APP_SECRET, baseUrl: server.baseUrl, mode: "webhook", ...overrides },
    services,
  );
  const received: InboundMessage[] = [];
  await channel.start({ receive: (message) => Promise.resolve(void received.push(message)) });
  cleanups.push(() => channel.stop());
  return { channel, received };
}

async function sendError(promise: Promise<unknown>): Promise<LocalAgentError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LocalAgentError);
  return error as LocalAgentError;
}

describe("FeishuChannel sending", () => {
  it("gets the tenant token once, sends text to the chat and reuses the token", async () => {
    const server = await startServer();
    const { channel } = await startChannel(server);
    const first = await channel.sendMessage({ chatId: "oc_chat1", text: "disk at 91%" });
    await channel.sendMessage({ chatId: "oc_chat1", text: "second" });
    expect(first.messageIds).toEqual(["om_1"]);
    expect(server.tokensIssued).toHaveLength(1);
    expect(server.sent.map((message) => [message.receiveId, message.msgType, message.content.text])).toEqual([
      ["oc_chat1", "text", "disk at 91%"],
      ["oc_chat1", "text", "second"],
    ]);
  });

  it("refreshes the token before it expires, and on the token-invalid code", async () => {
    const server = await startServer();
    let now = 1_000_000;
    const { channel } = await startChannel(server, { tokenRefreshMarginMs: 300_000 }, { now: () => now });
    await channel.sendMessage({ chatId: "oc_chat1", text: "one" });
    now += (7200 - 301) * 1000; // still valid for 301 s: more than the margin
    await channel.sendMessage({ chatId: "oc_chat1", text: "two" });
    expect(server.tokensIssued).toHaveLength(1);
    now += 2000; // 299 s left: inside the margin, refreshed
    await channel.sendMessage({ chatId: "oc_chat1", text: "three" });
    expect(server.tokensIssued).toHaveLength(2);
    server.revokeTokens();
    await channel.sendMessage({ chatId: "oc_chat1", text: "four" });
    expect(server.tokensIssued).toHaveLength(3);
    expect(server.sent.map((message) => message.token)).toEqual([
      server.tokensIssued[0],
      server.tokensIssued[0],
      server.tokensIssued[1],
      server.tokensIssued[2],
    ]);
  });

  it("sends buttons as an interactive card whose actions come back as the button's action", async () => {
    const server = await startServer();
    const { channel } = await startChannel(server);
    await channel.sendMessage({
      chatId: "oc_chat1",
      text: "Approve `rm -rf build`?",
      buttons: [
        [
          { text: "Approve", action: "approve:a1" },
          { text: "Deny", action: "deny:a1" },
        ],
      ],
      idempotencyKey: "delivery-7",
    });
    const [card] = server.sent;
    expect(card?.msgType).toBe("interactive");
    expect(card?.uuid).toMatch(/^[0-9a-f]{40}$/);
    const elements = card?.content.elements as { tag: string; content?: string; actions?: { value: { action: string }; type: string }[] }[];
    expect(elements[0]).toEqual({ tag: "markdown", content: "Approve `rm -rf build`?" });
    expect(elements[1]?.actions?.map((action) => [action.value.action, action.type])).toEqual([
      ["approve:a1", "primary"],
      ["deny:a1", "danger"],
    ]);
  });

  it("splits long text on line breaks and replies to a message with the first piece", async () => {
    const server = await startServer();
    const { channel } = await startChannel(server);
    const line = "x".repeat(99);
    const text = Array.from({ length: 200 }, () => line).join("\n"); // 19,999 characters
    const sent = await channel.sendMessage({ chatId: "oc_chat1", text, replyTo: "om_question" });
    expect(sent.messageIds.length).toBe(3);
    const pieces = server.sent.map((message) => String(message.content.text));
    expect(pieces.every((piece) => piece.length <= channel.capabilities.maxMessageLength)).toBe(true);
    expect(pieces.join("\n")).toBe(text);
    expect(server.sent.map((message) => message.replyTo)).toEqual(["om_question", undefined, undefined]);
    expect(server.sent[0]?.path).toBe("/open-apis/im/v1/messages/om_question/reply");
  });

  it("sends to the chat when the message replied to is gone", async () => {
    const server = await startServer();
    const { channel } = await startChannel(server);
    server.failures.push({ status: 400, code: 230011, msg: "The message was withdrawn." });
    const sent = await channel.sendMessage({ chatId: "oc_chat1", text: "answer", replyTo: "om_withdrawn" });
    expect(sent.messageIds).toEqual(["om_1"]);
    expect(server.sent.map((message) => [message.path, message.receiveId, message.content.text])).toEqual([
      ["/open-apis/im/v1/messages", "oc_chat1", "answer"],
    ]);
  });

  it("maps errors for the outbox: rate limits and 5xx retry, permissions are permanent, the secret never shows", async () => {
    const server = await startServer();
    const { channel } = await startChannel(server);
    server.failures.push(
      { status: 429, code: 99991400, msg: "request trigger frequency limit" },
      { status: 200, code: 230020, msg: "message send rate limit" },
      { status: 503, code: 1, msg: "internal" },
      { status: 400, code: 230002, msg: "Bot/User can NOT be out of the chat." },
    );
    const limited = await sendError(channel.sendMessage({ chatId: "oc_chat1", text: "a" }));
    expect(limited.retryable).toBe(true);
    expect((await sendError(channel.sendMessage({ chatId: "oc_chat1", text: "a" }))).retryable).toBe(true);
    expect((await sendError(channel.sendMessage({ chatId: "oc_chat1", text: "a" }))).retryable).toBe(true);
    const permission = await sendError(channel.sendMessage({ chatId: "oc_chat1", text: "a" }));
    expect(permission.retryable).toBe(false);
    expect(permission.message).toMatch(/code 230002.*not in the chat/);

    const wrong = await startChannel(server, { appSecret: "wrong-secret-value" });
    const refused = await sendError(wrong.channel.sendMessage({ chatId: "oc_chat1", text: "a" }));
    expect(refused.retryable).toBe(false);
    expect(refused.message).toMatch(/refused the app credentials.*code 10014/);
    expect(JSON.stringify(refused.toJSON())).not.toContain("wrong-secret-value");

    await server.stop();
    const down = await sendError(channel.sendMessage({ chatId: "oc_chat1", text: "a" }));
    expect(down.retryable).toBe(true);
  });
});

describe("FeishuChannel through a SOCKS5 proxy", () => {
  it("sends every request through the proxy, with username/password", async () => {
    const server = await startServer();
    const proxy = await new Socks5Server({ username: "agent", password: "proxy-pass-9" }).start();
    cleanups.push(() => proxy.stop());
    const logs = captureLogs();
    const { channel } = await startChannel(server, { proxy: proxy.url }, { logger: logs.logger });
    await channel.sendMessage({ chatId: "oc_chat1", text: "via proxy" });
    expect(server.sent).toHaveLength(1);
    expect(proxy.connections.length).toBeGreaterThanOrEqual(1);
    expect(proxy.connections.every((target) => target === `127.0.0.1:${server.port}`)).toBe(true);
    expect(server.tcpConnections).toBe(proxy.connections.length);
    expect(logs.text()).not.toContain("proxy-pass-9");
  });

  it("fails retryably, naming no credentials, when the proxy refuses them", async () => {
    const server = await startServer();
    const proxy = await new Socks5Server({ username: "agent", password: "right" }).start();
    cleanups.push(() => proxy.stop());
    const { channel } = await startChannel(server, { proxy: `socks5://agent:wrong-pass-1@127.0.0.1:${proxy.port}` });
    const error = await sendError(channel.sendMessage({ chatId: "oc_chat1", text: "a" }));
    expect(error.retryable).toBe(true);
    expect(error.message).not.toContain("wrong-pass-1");
    expect(proxy.refused).toBe(1);
    expect(server.sent).toHaveLength(0);
  });

  it("runs the long connection (endpoint and WebSocket) through the proxy", async () => {
    const server = await startServer();
    const proxy = await new Socks5Server().start();
    cleanups.push(() => proxy.stop());
    const { channel, received } = await startChannel(server, { proxy: proxy.url, mode: "websocket" });
    await waitFor(() => channel.connected);
    const ack = await server.pushEvent(messageEvent({ text: "hello over ws", messageId: "om_ws_1" }));
    expect(ack.code).toBe(200);
    expect(received.map((message) => message.text)).toEqual(["hello over ws"]);
    expect(server.hits.get("/callback/ws/endpoint")).toBe(1);
    // The endpoint POST and the WebSocket (which may reuse the kept-alive tunnel) all came through
    // the proxy: the server accepted no connection of its own.
    expect(proxy.connections.length).toBeGreaterThanOrEqual(1);
    expect(server.tcpConnections).toBe(proxy.connections.length);
    expect(server.wsConnections).toBe(1);
  });
});

describe("FeishuChannel long connection", () => {
  it("receives messages (also split over frames), acknowledges them, ignores unknown events and survives garbage", async () => {
    const server = await startServer();
    const logs = captureLogs();
    const { channel, received } = await startChannel(server, { mode: "websocket" }, { logger: logs.logger });
    await waitFor(() => channel.connected);
    expect((await server.pushEvent(messageEvent({ text: "first", messageId: "om_1" }))).code).toBe(200);
    expect((await server.pushEvent(messageEvent({ text: "in two frames ".repeat(50).trim(), messageId: "om_2" }), 2)).code).toBe(200);
    const unknown = { schema: "2.0", header: { event_type: "contact.user.created_v3", event_id: "ev-x" }, event: {} };
    expect((await server.pushEvent(unknown)).code).toBe(200);
    expect((await server.pushEvent({ nonsense: true })).code).toBe(200);
    server.pushRaw(Buffer.from([0xff, 0xff, 0xff]));
    expect((await server.pushEvent(messageEvent({ text: "after garbage", messageId: "om_3" }))).code).toBe(200);
    expect(received.map((message) => [message.channel, message.chatId, message.userId, message.messageId, message.text])).toEqual([
      ["enterprise_im", "oc_chat1", "ou_user1", "om_1", "first"],
      ["enterprise_im", "oc_chat1", "ou_user1", "om_2", "in two frames ".repeat(50).trim()],
      ["enterprise_im", "oc_chat1", "ou_user1", "om_3", "after garbage"],
    ]);
    expect(channel.counters).toMatchObject({ received: 3, ignored: 1, rejected: 2 });
    expect(logs.lines.some((line) => String(line.reason).includes("unhandled event type contact.user.created_v3"))).toBe(true);
    expect(logs.text()).not.toContain(APP_SECRET);
  });

  it("reports bad credentials on the endpoint without the secret", async () => {
    const server = await startServer();
    const logs = captureLogs();
    await startChannel(server, { mode: "websocket", appSecret: "not-the-secret-1" }, { logger: logs.logger });
    await waitFor(() => logs.lines.some((line) => line.msg === "Feishu long connection gave up"));
    expect(server.wsConnections).toBe(0);
    expect(logs.text()).not.toContain("not-the-secret-1");
  });

  it("reconnects when the platform drops the connection, and pings", async () => {
    const server = await startServer();
    const { channel, received } = await startChannel(server, { mode: "websocket" });
    await waitFor(() => channel.connected && server.pings > 0);
    server.dropConnections();
    await waitFor(() => server.wsConnections === 2 && channel.connected && server.pings > 1);
    expect((await server.pushEvent(messageEvent({ text: "after reconnect", messageId: "om_r" }))).code).toBe(200);
    expect(received.map((message) => message.text)).toEqual(["after reconnect"]);
    expect(server.hits.get("/callback/ws/endpoint")).toBe(2);
  });

  it("acknowledges and reports events it cannot read: bad JSON, bad fragment headers", async () => {
    const server = await startServer();
    const logs = captureLogs();
    const { channel, received } = await startChannel(server, { mode: "websocket" }, { logger: logs.logger });
    await waitFor(() => channel.connected);
    expect((await server.pushPayload(Buffer.from("{not json"))).code).toBe(200);
    expect((await server.pushPayload(Buffer.from("{}"), { headers: { sum: "0" } })).code).toBe(200);
    expect((await server.pushPayload(Buffer.from("{}"), { headers: { sum: "100000", seq: "5" } })).code).toBe(200);
    expect((await server.pushEvent(messageEvent({ text: "fine", messageId: "om_ok" }))).code).toBe(200);
    expect(received.map((message) => message.text)).toEqual(["fine"]);
    expect(channel.counters.rejected).toBe(3);
    const reasons = logs.lines.filter((line) => line.msg === "Feishu event rejected").map((line) => String(line.reason));
    expect(reasons).toEqual([
      expect.stringMatching(/is not JSON/),
      expect.stringMatching(/invalid fragments/),
      expect.stringMatching(/invalid fragments/),
    ]);
  });

  it("answers 500 when the event could not be queued, so the platform redelivers it", async () => {
    const server = await startServer();
    const channel = new FeishuChannel({ name: "feishu", appId: APP_ID, appSecret: APP_SECRET, baseUrl: server.baseUrl, mode: "websocket" });
    let fail = true;
    const received: string[] = [];
    await channel.start({
      receive: (message) => {
        if (fail) return Promise.reject(new Error("store unavailable"));
        received.push(message.text);
        return Promise.resolve();
      },
    });
    cleanups.push(() => channel.stop());
    await waitFor(() => channel.connected);
    const event = messageEvent({ text: "retry me", messageId: "om_retry" });
    expect((await server.pushEvent(event)).code).toBe(500);
    fail = false;
    expect((await server.pushEvent(event)).code).toBe(200);
    expect(received).toEqual(["retry me"]);
  });
});

describe("FeishuChannel HTTP callback", () => {
  const post = (channel: FeishuChannel, body: unknown, headers: Record<string, string> = {}) =>
    channel.handleCallback(typeof body === "string" ? body : JSON.stringify(body), { "content-type": "application/json", ...headers });

  it("answers url_verification with the challenge only when the verification token matches", async () => {
    const server = await startServer();
    const { channel } = await startChannel(server, { verificationToken: VERIFICATION_TOKEN });
    const ok = await post(channel, { type: "url_verification", challenge: "c-123", token: VERIFICATION_TOKEN });
    expect(ok).toEqual({ status: 200, body: { challenge: "c-123" } });
    const bad = await post(channel, { type: "url_verification", challenge: "c-123", token: "guess" });
    expect(bad.status).toBe(401);
  });

  it("takes a plain event carrying the verification token, and refuses one without it", async () => {
    const server = await startServer();
    const { channel, received } = await startChannel(server, { verificationToken: VERIFICATION_TOKEN });
    expect((await post(channel, messageEvent({ text: "hi", token: VERIFICATION_TOKEN }))).status).toBe(200);
    expect((await post(channel, messageEvent({ text: "forged", messageId: "om_2", token: "nope" }))).status).toBe(401);
    expect((await post(channel, messageEvent({ text: "forged", messageId: "om_3" }))).status).toBe(401);
    expect(received.map((message) => message.text)).toEqual(["hi"]);
  });

  it("decrypts encrypted events, checks X-Lark-Signature and rejects a bad one", async () => {
    const server = await startServer();
    const logs = captureLogs();
    const { channel, received } = await startChannel(
      server,
      { encryptKey: ENCRYPT_KEY, verificationToken: VERIFICATION_TOKEN },
      { logger: logs.logger },
    );
    const challenge = encryptEvent({ type: "url_verification", challenge: "enc-1", token: VERIFICATION_TOKEN }, ENCRYPT_KEY);
    expect(await post(channel, challenge)).toEqual({ status: 200, body: { challenge: "enc-1" } });

    const body = encryptEvent(messageEvent({ text: "secret hello", token: VERIFICATION_TOKEN }), ENCRYPT_KEY);
    expect((await post(channel, body, signedHeaders(body, ENCRYPT_KEY))).status).toBe(200);
    const tampered = { ...signedHeaders(body, ENCRYPT_KEY), "x-lark-signature": "0".repeat(64) };
    const forged = await post(channel, body, tampered);
    expect(forged.status).toBe(401);
    expect(String(forged.body.msg)).toMatch(/X-Lark-Signature does not match/);
    const wrongKey = encryptEvent(messageEvent({ text: "x", token: VERIFICATION_TOKEN }), "another-key");
    expect((await post(channel, wrongKey, signedHeaders(wrongKey, ENCRYPT_KEY))).status).toBe(400);
    expect(received.map((message) => message.text)).toEqual(["secret hello"]);
    expect(logs.lines.filter((line) => line.msg === "Feishu callback rejected").map((line) => line.reason)).toEqual([
      "X-Lark-Signature does not match (wrong encrypt_key, or a forged request)",
      "cannot decrypt the callback (wrong encrypt_key?)",
    ]);
    expect(logs.text()).not.toContain(ENCRYPT_KEY);
  });

  it("with only an encrypt_key, an event needs the signature", async () => {
    const server = await startServer();
    const { channel, received } = await startChannel(server, { encryptKey: ENCRYPT_KEY });
    const body = encryptEvent(messageEvent({ text: "signed" }), ENCRYPT_KEY);
    expect((await post(channel, body)).status).toBe(401);
    expect((await post(channel, body, signedHeaders(body, ENCRYPT_KEY))).status).toBe(200);
    expect(received.map((message) => message.text)).toEqual(["signed"]);
  });

  it("turns a card button press into an action from the operator", async () => {
    const server = await startServer();
    const { channel, received } = await startChannel(server, { verificationToken: VERIFICATION_TOKEN });
    const press = {
      schema: "2.0",
      header: { event_id: "ev-card-1", token: VERIFICATION_TOKEN, event_type: "card.action.trigger" },
      event: {
        operator: { open_id: "ou_owner" },
        action: { tag: "button", value: { action: "approve:a1" } },
        context: { open_message_id: "om_card", open_chat_id: "oc_chat1" },
      },
    };
    expect((await post(channel, press)).status).toBe(200);
    expect(received).toMatchObject([{ chatId: "oc_chat1", userId: "ou_owner", action: "approve:a1", messageId: "om_card:ev-card-1" }]);
  });

  it("rejects bad input with a logged reason and never throws", async () => {
    const server = await startServer();
    const logs = captureLogs();
    const { channel, received } = await startChannel(server, { verificationToken: VERIFICATION_TOKEN }, { logger: logs.logger });
    expect((await post(channel, "{not json")).status).toBe(400);
    expect((await post(channel, "[1,2]")).status).toBe(400);
    expect((await post(channel, { schema: "2.0", header: {} })).status).toBe(400);
    expect((await post(channel, "x".repeat(2 << 20))).status).toBe(413);
    const image = messageEvent({ text: "", type: "image", token: VERIFICATION_TOKEN });
    expect((await post(channel, image)).status).toBe(200);
    const noSender = messageEvent({ text: "x", token: VERIFICATION_TOKEN });
    delete (noSender.event as { sender?: unknown }).sender;
    expect((await post(channel, noSender)).status).toBe(400);
    expect(received).toEqual([]);
    expect(channel.counters).toMatchObject({ rejected: 5, ignored: 1 });
    const reasons = logs.lines.filter((line) => line.msg === "Feishu callback rejected").map((line) => String(line.reason));
    expect(reasons).toEqual([
      "callback body is not valid JSON",
      "event body is not a JSON object",
      "schema 2.0 event without header.event_type",
      expect.stringMatching(/over the 1048576-byte limit/),
      "im.message.receive_v1 without sender or message",
    ]);
    expect(logs.lines.some((line) => line.reason === "unsupported message type image")).toBe(true);
  });

  it("refuses callbacks when neither a verification token nor an encrypt key is configured", async () => {
    const server = await startServer();
    const { channel, received } = await startChannel(server);
    const answer = await post(channel, messageEvent({ text: "hi" }));
    expect(answer.status).toBe(403);
    expect(String(answer.body.msg)).toMatch(/need verification_token or encrypt_key/);
    expect(received).toEqual([]);
  });

  it("through the contract's handleEvent: refusals throw bad_request with the HTTP status", async () => {
    const server = await startServer();
    const { channel, received } = await startChannel(server, { encryptKey: ENCRYPT_KEY });
    const body = encryptEvent(messageEvent({ text: "via route" }), ENCRYPT_KEY);
    await channel.handleEvent(JSON.parse(body), signedHeaders(body, ENCRYPT_KEY), body);
    const error = await sendError(
      channel.handleEvent(JSON.parse(body), { ...signedHeaders(body, ENCRYPT_KEY), "x-lark-signature": "f".repeat(64) }, body),
    );
    expect(error.code).toBe("bad_request");
    expect(error.details.httpStatus).toBe(401);
    expect(received.map((message) => message.text)).toEqual(["via route"]);
  });
});
