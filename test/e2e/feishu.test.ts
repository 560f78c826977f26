import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeishuServer, messageEvent } from "../helpers/feishu-server.js";
import { callApi, makeTempDir, startDaemon, waitFor, writeConfigDir, type DaemonProcess } from "../helpers/index.js";
import { Socks5Server } from "../helpers/socks5-server.js";

const APP_ID = "cli_a1b2c3d4e5f6a7b8";
const APP_SECRET = "e2e-feishu-app-secret";
const VERIFICATION_TOKEN = "e2e-verification-token";

const ALERT = `workflow:
  name: disk_alert
  trigger: manual
  tasks:
    - name: notify
      type: notification
      platform: enterprise_im
      message: "disk /data at 91%"
`;

const GATED = `workflow:
  name: gated
  trigger: manual
  tasks:
    - name: confirm
      type: approval
      message: "Restart the billing service?"
      timeout: 10m
    - name: after
      type: set
      values: { done: yes }
`;

describe("Feishu / Lark channel in the daemon (seed platform enterprise_im, SOCKS5 proxy)", () => {
  const temp = makeTempDir("localagent-feishu-");
  const feishu = new FeishuServer(APP_ID, APP_SECRET);
  const proxy = new Socks5Server({ username: "agent", password: "proxy-password-1" });
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    await feishu.start();
    await proxy.start();
    const configDir = writeConfigDir(join(temp.dir, "config"), {
      config: [
        "platforms:",
        "  - name: enterprise_im",
        "    auth: { app_id: env:FEISHU_APP_ID, app_secret: env:FEISHU_APP_SECRET }",
        `    proxy: "${proxy.url}"`,
        `    domain: "${feishu.baseUrl}"`,
        "    chat_id: oc_alerts",
        "    allow_users: [ou_owner]",
        "    verification_token: env:FEISHU_VERIFICATION_TOKEN",
        "outbox: { backoff: 100ms, max_backoff: 1s }",
        "",
      ].join("\n"),
      workflows: { "disk_alert.yaml": ALERT, "gated.yaml": GATED },
    });
    daemon = await startDaemon({
      configDir,
      dataDir: join(temp.dir, "data"),
      env: { FEISHU_APP_ID: APP_ID, FEISHU_APP_SECRET: APP_SECRET, FEISHU_VERIFICATION_TOKEN: VERIFICATION_TOKEN },
    });
    // The SDK pings as soon as its socket is open, after it started listening: the connection is ready.
    await waitFor(() => feishu.pings > 0, 15_000);
  });

  afterAll(async () => {
    await daemon?.stop();
    await feishu.stop();
    await proxy.stop();
    temp.cleanup();
  });

  const sentTo = (chatId: string): string[] =>
    feishu.sent.filter((message) => message.receiveId === chatId).map((message) => String(message.content.text));

  it("connects the long connection through the proxy", () => {
    expect(feishu.wsConnections).toBe(1);
    expect(feishu.hits.get("/callback/ws/endpoint")).toBe(1);
    expect(proxy.connections.length).toBeGreaterThanOrEqual(1);
    expect(feishu.tcpConnections).toBe(proxy.connections.length);
    expect(proxy.connections.every((target) => target === `127.0.0.1:${feishu.port}`)).toBe(true);
  });

  it("delivers a notification step with platform: enterprise_im to the chat, through the proxy", async () => {
    const run = await callApi(daemon!.url, "POST", "/api/workflows/disk_alert/run?wait=1", {});
    expect(run.status).toBe(200);
    await waitFor(() => sentTo("oc_alerts").length > 0);
    expect(sentTo("oc_alerts")).toEqual(["disk /data at 91%"]);
    expect(feishu.sent[0]?.uuid).toMatch(/^[0-9a-f]{40}$/);
    expect(feishu.hits.get("/open-apis/auth/v3/tenant_access_token/internal")).toBe(1);
    // Every TCP connection the platform saw came through the proxy: token, send and long connection.
    expect(feishu.tcpConnections).toBe(proxy.connections.length);
  });

  it("answers an allowed user's command that arrived over the long connection", async () => {
    const ack = await feishu.pushEvent(messageEvent({ text: "/help", chatId: "oc_owner", userId: "ou_owner", messageId: "om_help_1" }));
    expect(ack.code).toBe(200);
    await waitFor(() => sentTo("oc_owner").length > 0);
    expect(sentTo("oc_owner")[0]).toMatch(/\/status/);
  });

  it("gives a stranger a pairing code once and runs nothing for them", async () => {
    await feishu.pushEvent(messageEvent({ text: "/run disk_alert", chatId: "oc_stranger", userId: "ou_stranger", messageId: "om_s1" }));
    await waitFor(() => sentTo("oc_stranger").length > 0);
    await feishu.pushEvent(messageEvent({ text: "/run disk_alert", chatId: "oc_stranger", userId: "ou_stranger", messageId: "om_s2" }));
    // The owner's command after the stranger's second message: once it is answered, the stranger's was handled too.
    await feishu.pushEvent(messageEvent({ text: "/help", chatId: "oc_owner", userId: "ou_owner", messageId: "om_help_2" }));
    await waitFor(() => sentTo("oc_owner").length > 1);
    expect(sentTo("oc_stranger")).toHaveLength(1);
    expect(sentTo("oc_stranger")[0]).toMatch(/pairing code is \w+/);
    expect(sentTo("oc_alerts")).toHaveLength(1);
  });

  it("serves the HTTP callback: the url_verification challenge, and refuses a forged event with its reason", async () => {
    const challenge = await callApi(daemon!.url, "POST", "/api/channels/enterprise_im/events", {
      type: "url_verification",
      challenge: "challenge-42",
      token: VERIFICATION_TOKEN,
    });
    expect(challenge).toEqual({ status: 200, body: { challenge: "challenge-42" } });
    const forged = await callApi(
      daemon!.url,
      "POST",
      "/api/channels/enterprise_im/events",
      messageEvent({ text: "/run disk_alert", userId: "ou_owner", token: "guessed" }),
    );
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/verification token does not match/);
    const garbage = await callApi(daemon!.url, "POST", "/api/channels/enterprise_im/events", undefined, { raw: "{not json" });
    expect(garbage.status).toBe(400);
    const event = messageEvent({ text: "/help", chatId: "oc_http", userId: "ou_owner", messageId: "om_http_1", token: VERIFICATION_TOKEN });
    feishu.remember(event);
    const accepted = await callApi(daemon!.url, "POST", "/api/channels/enterprise_im/events", event);
    expect(accepted.status).toBe(200);
    await waitFor(() => sentTo("oc_http").length > 0);
    const health = await callApi(daemon!.url, "GET", "/healthz");
    expect(health.status).toBe(200);
  });

  it("announces an approval as a card with buttons; the owner's button press approves it", async () => {
    const run = await callApi(daemon!.url, "POST", "/api/workflows/gated/run", {});
    const runId = String(run.body.run_id);
    const isCard = (message: (typeof feishu.sent)[number]): boolean =>
      message.receiveId === "oc_alerts" &&
      message.msgType === "interactive" &&
      JSON.stringify(message.content).includes("Restart the billing service?");
    await waitFor(() => feishu.sent.some(isCard));
    const card = feishu.sent.find(isCard)!;
    const cardId = `om_${feishu.sent.indexOf(card) + 1}`;
    const elements = card.content.elements as { tag: string; actions?: { text: { content: string }; value: { action: string } }[] }[];
    const approve = elements[1]?.actions?.find((button) => button.text.content === "Approve")?.value.action ?? "";
    expect(approve).toMatch(/^approve:ap_[0-9a-f]+$/);
    const press = {
      schema: "2.0",
      header: { event_id: "ev-press-1", event_type: "card.action.trigger", token: VERIFICATION_TOKEN },
      event: {
        operator: { open_id: "ou_owner" },
        action: { tag: "button", value: { action: approve } },
        context: { open_message_id: cardId, open_chat_id: "oc_alerts" },
      },
    };
    expect((await feishu.pushEvent(press)).code).toBe(200);
    await waitFor(async () => (await callApi(daemon!.url, "GET", `/api/runs/${runId}`)).body.status === "succeeded");
    await waitFor(() => feishu.sent.some((message) => message.replyTo === cardId));
    expect(String(feishu.sent.find((message) => message.replyTo === cardId)?.content.text)).toMatch(/ approved$/);
    const approvals = (await callApi(daemon!.url, "GET", "/api/approvals?status=all")).body.approvals as {
      status: string;
      decidedBy: string;
    }[];
    expect(approvals[0]).toMatchObject({ status: "approved", decidedBy: "enterprise_im:ou_owner" });
  });

  it("delivers a notification queued while the platform was down once it is back, and reconnects", async () => {
    const port = feishu.port;
    await feishu.stop();
    const run = await callApi(daemon!.url, "POST", "/api/workflows/disk_alert/run?wait=1", {});
    expect(run.body.status).toBe("succeeded");
    const before = sentTo("oc_alerts").length;
    await feishu.start(port);
    await waitFor(() => sentTo("oc_alerts").length > before, 20_000);
    expect(sentTo("oc_alerts").slice(before)).toEqual(["disk /data at 91%"]);
    await waitFor(() => feishu.openSockets === 1, 20_000);
    expect(feishu.wsConnections).toBe(2);
  });

  it("keeps the app secret and proxy password out of the daemon's output", () => {
    expect(daemon!.output()).not.toContain(APP_SECRET);
    expect(daemon!.output()).not.toContain("proxy-password-1");
    expect(daemon!.output()).toMatch(/Feishu long connection ready/);
  });
});
