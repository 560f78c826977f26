import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { signatureHeaders } from "../../src/channels/webhook/index.js";
import {
  callApi,
  makeTempDir,
  Receiver,
  runCli,
  startDaemon,
  waitFor,
  writeConfigDir,
  writeFile,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

const SECRET = "hook-secret-0123456789abcdef-xyz";

describe("channels through the daemon: webhook and web chat", () => {
  const temp = makeTempDir("localagent-channels-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const receiver = new Receiver();
  let daemon: DaemonProcess;
  let counter = 0;

  const texts = (): string[] => receiver.requests.map((request) => String((request.body as { text?: string }).text ?? ""));

  async function post(body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${daemon.url}/api/channels/webhook/hook`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signatureHeaders(SECRET, body, Date.now()), ...headers },
      body,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: response.status, body: parsed };
  }

  const say = (user: string, text: string): Promise<{ status: number; body: Json }> =>
    post(JSON.stringify({ chat_id: `chat-${user}`, user_id: user, message_id: `m${++counter}`, text }));

  beforeAll(async () => {
    await receiver.start();
    writeConfigDir(configDir, {
      config: ["platforms:", "  - name: web", "    type: webchat", ""].join("\n"),
      workflows: {
        "gated.yaml": [
          "workflow:",
          "  name: gated",
          "  trigger: manual",
          "  tasks:",
          "    - name: confirm",
          "      type: approval",
          '      message: "Restart the billing service?"',
          "      timeout: 10m",
          "    - name: after",
          "      type: set",
          "      values: { done: yes }",
          "",
        ].join("\n"),
        "alert.yaml": [
          "workflow:",
          "  name: alert",
          "  trigger: manual",
          "  tasks:",
          "    - name: notify",
          "      type: notification",
          "      platform: hook",
          '      message: "disk almost full"',
          "",
        ].join("\n"),
      },
    });
    const platforms = writeFile(
      join(temp.dir, "platforms.json"),
      JSON.stringify({
        platforms: [
          { name: "telegram", auth: "BOT_TOKEN", webhook: "https://your-domain/api/telegram", message_parser: "markdown_v2" },
          { name: "hook", type: "webhook", secret: "env:HOOK_SECRET", webhook: receiver.url, chat_id: "ops" },
        ],
      }),
    );
    daemon = await startDaemon({ configDir, dataDir, args: ["--platform-config", platforms], env: { HOOK_SECRET: SECRET } });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    await receiver.stop();
    temp.cleanup();
  });

  it("starts the channels it can; the seed's placeholder telegram entry is reported, the daemon runs on", async () => {
    const { body } = await callApi(daemon.url, "GET", "/api/channels");
    const byName = new Map((body.channels as Json[]).map((channel) => [channel.name, channel]));
    expect(byName.get("hook")).toMatchObject({ kind: "webhook", status: "running" });
    expect(byName.get("web")).toMatchObject({ kind: "webchat", status: "running" });
    expect(byName.get("telegram")).toMatchObject({ kind: "telegram", status: "failed" });
    expect(String(byName.get("telegram")?.error)).not.toBe("");
    expect((await callApi(daemon.url, "GET", "/healthz")).status).toBe(200);
    const cli = await runCli(["channels", "--json", "--config", configDir, "--data-dir", dataDir, "--port", String(daemon.port)]);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toEqual(
      expect.arrayContaining([
        { name: "hook", kind: "webhook", status: "running" },
        expect.objectContaining({ name: "telegram", status: "failed" }),
      ]),
    );
  });

  it("a notification step with platform: hook is delivered, signed, to the platform's chat", async () => {
    const run = await callApi(daemon.url, "POST", "/api/workflows/alert/run?wait=1", {});
    expect(run.body.status).toBe("succeeded");
    await waitFor(() => texts().includes("disk almost full"));
    const request = receiver.requests.find((entry) => (entry.body as { text?: string }).text === "disk almost full");
    expect(request?.body).toMatchObject({ channel: "hook", chat_id: "ops" });
    expect(String(request?.headers["x-localagent-signature"])).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it("refuses bad input with a reason and never crashes", async () => {
    const good = JSON.stringify({ chat_id: "c", user_id: "u", message_id: "x1", text: "hi" });
    expect((await post(good, { "x-localagent-signature": "sha256=00" })).status).toBe(401);
    expect((await post(good, { "x-localagent-timestamp": "1" })).status).toBe(401);
    expect((await post("{nope")).status).toBe(400);
    const unknownType = await post(JSON.stringify({ type: "sticker", chat_id: "c", user_id: "u", message_id: "x2" }));
    expect(unknownType.status).toBe(400);
    expect(JSON.stringify(unknownType.body)).toMatch(/type/);
    const huge = await fetch(`${daemon.url}/api/channels/webhook/hook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "x".repeat(2 << 20),
    });
    expect(huge.status).toBe(413);
    expect((await callApi(daemon.url, "POST", "/api/channels/webhook/nobody", {})).status).toBe(404);
    expect((await callApi(daemon.url, "GET", "/healthz")).status).toBe(200);
    await waitFor(() => /channel event rejected: signature does not match/.test(daemon.output()));
    expect(daemon.output()).toMatch(/channel event rejected: timestamp outside/);
    expect(daemon.output()).not.toContain(SECRET);
  });

  it("a stranger gets one pairing code and nothing runs; after `pairing approve` their commands run", async () => {
    const before = receiver.requests.length;
    expect((await say("eve", "/run alert")).status).toBe(200);
    await waitFor(() => texts().some((text) => text.includes("pairing code")));
    const code = /pairing code is ([A-Z0-9]{8})/.exec(texts().find((text) => text.includes("pairing code")) ?? "")?.[1] ?? "";
    expect(code).toMatch(/^[A-Z0-9]{8}$/);
    await say("eve", "/run alert");
    await say("eve", "please?");
    await waitFor(async () => JSON.stringify((await callApi(daemon.url, "GET", "/api/pairing")).body).includes('"ignored":2'));
    const list = await runCli(["pairing", "list", "--json", "--config", configDir, "--data-dir", dataDir]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject([{ channel: "hook", userId: "eve", status: "pending", ignored: 2 }]);
    // Only the pairing code went out: the stranger's /run started nothing.
    expect(receiver.requests.length).toBe(before + 1);
    const runs = (await callApi(daemon.url, "GET", "/api/runs?workflow=alert")).body.runs as Json[];
    expect(runs).toHaveLength(1);

    const approve = await runCli(["pairing", "approve", code, "--config", configDir, "--data-dir", dataDir, "--port", String(daemon.port)]);
    expect(approve.stderr).toBe("");
    expect(approve.stdout).toBe("hook:eve paired\n");
    await waitFor(() => texts().some((text) => text.startsWith("You are paired")));
    await say("eve", "/run alert");
    await waitFor(() => texts().some((text) => text.startsWith("Started alert: run ")));
    await waitFor(async () => ((await callApi(daemon.url, "GET", "/api/runs?workflow=alert")).body.runs as Json[]).length === 2);
    await say("eve", "/status");
    await waitFor(() => texts().some((text) => /^LocalAgent .*: 2 workflows, \d+ runs active/.test(text)));

    const revoke = await runCli(["pairing", "revoke", "eve", "--config", configDir, "--data-dir", dataDir, "--port", String(daemon.port)]);
    expect(revoke.stdout).toBe("hook:eve revoked\n");
    const count = receiver.requests.length;
    await say("eve", "/run alert");
    await waitFor(async () => JSON.stringify((await callApi(daemon.url, "GET", "/api/pairing")).body).includes('"ignored":3'));
    const audit = await runCli(["audit", "tail", "-n", "50", "--config", configDir, "--data-dir", dataDir]);
    expect(audit.stdout).toMatch(/channel\.stranger/);
    expect(audit.stdout).toMatch(/channel\.paired/);
    expect(audit.stdout).toMatch(/channel\.revoked/);
    expect(audit.stdout).not.toContain(SECRET);
    expect(receiver.requests.length).toBe(count);
  });

  it("web chat over /ws: a message gets a reply on the same connection, and a reconnect resumes the chat", async () => {
    const frames: Array<Record<string, unknown>> = [];
    const open = (query: string): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${daemon.port}/ws?events=0${query}`);
        socket.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
        socket.once("open", () => resolve(socket));
        socket.once("error", reject);
      });
    const socket = await open("");
    socket.send(JSON.stringify({ type: "chat.message", id: "w1", text: "/status" }));
    await waitFor(() => frames.some((frame) => frame.type === "chat.reply"));
    const chat = String(frames.find((frame) => frame.type === "chat.opened")?.chat);
    expect(frames.find((frame) => frame.type === "chat.ack")).toEqual({ type: "chat.ack", chat, id: "w1" });
    expect(frames.find((frame) => frame.type === "chat.reply")).toMatchObject({
      chat,
      replyTo: "w1",
      text: expect.stringMatching(/^LocalAgent /) as unknown,
    });
    socket.send(JSON.stringify({ type: "chat.dance" }));
    socket.send("not json");
    await waitFor(() => frames.some((frame) => frame.type === "chat.error") && frames.some((frame) => frame.type === "error"));
    socket.send(JSON.stringify({ type: "chat.message", id: "w2", text: "hello there" }));
    await waitFor(() => frames.some((frame) => frame.type === "chat.ack" && frame.id === "w2"));
    socket.close();
    // The reply to w2 is queued while nobody is connected, or arrived already; a reconnect gets the rest.
    const again = await open(`&chat=${chat}`);
    await waitFor(() => frames.some((frame) => frame.type === "chat.reply" && frame.replyTo === "w2"));
    // The client's "open" can come before the daemon's first frame on the new connection.
    await waitFor(() => frames.filter((frame) => frame.type === "chat.opened").length === 2);
    expect(frames.filter((frame) => frame.type === "chat.opened").map((frame) => frame.chat)).toEqual([chat, chat]);
    expect(String(frames.find((frame) => frame.replyTo === "w2")?.text)).toMatch(/No language model is configured/);
    again.close();
  });

  it("announces an approval to the web chat with buttons; pressing Approve lets the run finish", async () => {
    const frames: Array<Record<string, unknown>> = [];
    const socket = new WebSocket(`ws://127.0.0.1:${daemon.port}/ws?events=0`);
    socket.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ type: "chat.message", id: "a1", text: "/help" }));
    await waitFor(() => frames.some((frame) => frame.type === "chat.reply" && frame.replyTo === "a1"));
    const run = await callApi(daemon.url, "POST", "/api/workflows/gated/run", {});
    const runId = String(run.body.run_id);
    await waitFor(() => frames.some((frame) => String(frame.text ?? "").startsWith("Approval needed")));
    const announcement = frames.find((frame) => String(frame.text ?? "").startsWith("Approval needed"));
    expect(String(announcement?.text)).toContain("Restart the billing service?");
    const buttons = announcement?.buttons as Array<Array<{ text: string; action: string }>>;
    const approve = buttons[0]?.find((button) => button.text === "Approve")?.action ?? "";
    expect(approve).toMatch(/^approve:ap_[0-9a-f]+$/);
    socket.send(JSON.stringify({ type: "chat.action", id: "a2", action: approve }));
    await waitFor(async () => (await callApi(daemon.url, "GET", `/api/runs/${runId}`)).body.status === "succeeded");
    await waitFor(() => frames.some((frame) => frame.replyTo === "a2"));
    expect(String(frames.find((frame) => frame.replyTo === "a2")?.text)).toMatch(/ approved$/);
    const approvals = (await callApi(daemon.url, "GET", "/api/approvals?status=all")).body.approvals as Json[];
    expect(approvals[0]).toMatchObject({ status: "approved", decidedBy: "web:web" });
    socket.close();
  });
});
