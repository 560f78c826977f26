import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unescapeMarkdownV2 } from "../../src/channels/telegram/index.js";
import {
  callApi,
  makeTempDir,
  ROOT,
  runCli,
  startDaemon,
  waitFor,
  waitForRun,
  writeConfigDir,
  writeFile,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";
import { ModelServer } from "../helpers/model-servers.js";
import { assertPlainMarkdownV2, TelegramEmulator } from "../helpers/telegram.js";

const TOKEN = "123456789:AAe2eTOKENsecretvalue_abcdef";
const OWNER = 42;
const STRANGER = 99;

describe("Telegram through the daemon, against the telegram-test-api emulator", () => {
  const temp = makeTempDir("localagent-telegram-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const logFile = join(temp.dir, "app.log");
  const model = new ModelServer("openai");
  let emulator: TelegramEmulator;
  let daemon: DaemonProcess;

  /** What the user sees in a chat: the bot's messages, MarkdownV2 unescaped. */
  const chat = (chatId: number): string[] => emulator.botMessages(chatId).map((message) => unescapeMarkdownV2(message.text));
  const owner = () => emulator.client(TOKEN, { userId: OWNER, firstName: "Owner", userName: "owner" });
  const stranger = () => emulator.client(TOKEN, { userId: STRANGER, firstName: "Stranger", userName: "stranger" });

  async function say(client: ReturnType<typeof owner>, text: string): Promise<void> {
    await client.sendMessage(client.makeMessage(text));
  }

  beforeAll(async () => {
    emulator = await TelegramEmulator.start();
    await model.start();
    // The seed file is used verbatim except for its log path (/var/log/app.log is not writable here).
    const seed = readFileSync(join(ROOT, "examples", "workflows", "log_monitor.yaml"), "utf8");
    writeFileSync(logFile, ["started", "ERROR disk full on /data", "request ok", "Error: connection reset (code 104)", ""].join("\n"));
    writeConfigDir(configDir, {
      config: [
        "outbox: { backoff: 100ms, max_backoff: 500ms }",
        // The seed tails a log outside the workspace: the sandbox may read it.
        `sandbox: { read_only: ["${logFile}"] }`,
        "models:",
        `  scripted: { provider: openai, base_url: "${model.url}", model: scripted-model }`,
        "routing:",
        "  general: [scripted]",
        "",
      ].join("\n"),
      workflows: {
        "log_monitor.yaml": seed.replace("/var/log/app.log", logFile),
        "greet.yaml": [
          "workflow:",
          "  name: greet",
          "  trigger: manual",
          "  tasks:",
          "    - name: hello",
          "      type: shell",
          "      command: echo hello",
          "",
        ].join("\n"),
        "gated.yaml": [
          "workflow:",
          "  name: gated",
          "  trigger: manual",
          "  tasks:",
          "    - name: confirm",
          "      type: approval",
          '      message: "Restart the web server?"',
          "      timeout: 10m",
          "    - name: after",
          "      type: shell",
          "      command: echo restarted",
          "",
        ].join("\n"),
        "notify.yaml": [
          "workflow:",
          "  name: notify",
          "  trigger: manual",
          "  tasks:",
          "    - name: tell",
          "      type: notification",
          "      platform: telegram",
          '      message: "queued while down: {{ inputs.n }}"',
          "",
        ].join("\n"),
      },
    });
    const platforms = writeFile(
      join(temp.dir, "platforms.json"),
      JSON.stringify({
        platforms: [
          {
            name: "telegram",
            auth: "env:TELEGRAM_TOKEN",
            api_root: emulator.apiRoot,
            message_parser: "markdown_v2",
            chat_id: OWNER,
            allow_users: [OWNER],
            polling: { timeout: 1, min_backoff_ms: 50, max_backoff_ms: 300 },
          },
        ],
      }),
    );
    daemon = await startDaemon({ configDir, dataDir, args: ["--platform-config", platforms], env: { TELEGRAM_TOKEN: TOKEN } });
    await waitFor(async () => {
      const { body } = await callApi(daemon.url, "GET", "/api/channels");
      return (body.channels as Json[]).some((channel) => channel.name === "telegram" && channel.status === "running");
    });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    await emulator?.stop();
    await model.stop();
    temp.cleanup();
  });

  it("delivers the seed's log_monitor alert (platform: telegram) to the emulated chat", async () => {
    const run = await callApi(daemon.url, "POST", "/api/workflows/log_monitor/run?wait=1", {});
    expect(run.body.status).toBe("succeeded");
    const alert = "发现错误日志:\nERROR disk full on /data\nError: connection reset (code 104)";
    await waitFor(() => chat(OWNER).includes(alert));
    const sent = emulator.botMessages(OWNER).find((message) => unescapeMarkdownV2(message.text) === alert)!;
    expect(sent.parse_mode).toBe("MarkdownV2");
    assertPlainMarkdownV2(sent.text);
    expect(sent.text).toContain("\\(code 104\\)");
  });

  it("answers an allowed user's message with the agent (scripted model)", async () => {
    model.reply({ text: "Hello Owner! v1.2 (beta) is *ready*." });
    await say(owner(), "hello, are you there?");
    await waitFor(() => chat(OWNER).includes("Hello Owner! v1.2 (beta) is *ready*."));
    const request = model.requests.at(-1)!;
    expect(JSON.stringify(request.body.messages)).toContain("hello, are you there?");
  });

  it("delivers a 10,000-character agent reply split into valid MarkdownV2 parts", async () => {
    let long = "";
    for (let line = 0; long.length < 10_000; line++)
      long += `Step ${line}: check /var/log/app_${line}.log (size > 1.5GB) and run \`du -sh\` [ok]!\n`;
    long = long.slice(0, 10_000);
    model.reply({ text: long });
    const before = emulator.botMessages(OWNER).length;
    await say(owner(), "give me the long report");
    await waitFor(() => chat(OWNER).slice(before).join("") === long);
    const parts = emulator.botMessages(OWNER).slice(before);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of parts) {
      expect(part.text.length).toBeLessThanOrEqual(4096);
      assertPlainMarkdownV2(part.text);
    }
  });

  it("announces an approval with buttons; pressing Approve resumes the run", async () => {
    const runId = String((await callApi(daemon.url, "POST", "/api/workflows/gated/run", {})).body.run_id);
    let prompt: Json;
    await waitFor(() => {
      prompt = emulator.botMessages(OWNER).find((message) => unescapeMarkdownV2(message.text).includes("Restart the web server?"));
      return prompt !== undefined;
    });
    const buttons = (
      prompt.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> }
    ).inline_keyboard.flat();
    const approve = buttons.find((button) => button.text === "Approve")!;
    expect(approve.callback_data).toMatch(/^approve:/);
    expect(buttons.map((button) => button.text)).toEqual(["Approve", "Deny"]);
    const client = owner();
    await client.sendCallback(client.makeCallbackQuery(approve.callback_data));
    const run = await waitForRun(daemon.url, runId);
    expect(run.status).toBe("succeeded");
    const approvalId = approve.callback_data.slice("approve:".length);
    await waitFor(() => chat(OWNER).includes(`${approvalId}: approved`));
  });

  it("pairing: a stranger's commands are not executed until the owner approves their code", async () => {
    const runsOf = async (): Promise<Json[]> => (await callApi(daemon.url, "GET", "/api/runs?workflow=greet")).body.runs;
    await say(stranger(), "/run greet");
    let code = "";
    await waitFor(() => {
      const match = chat(STRANGER)
        .join("\n")
        .match(/pairing code is (\w+)/);
      code = match?.[1] ?? "";
      return code !== "";
    });
    await say(stranger(), "/run greet");
    await say(stranger(), "/status");
    // Both later messages were processed, and ignored: the daemon logs each one it drops.
    await waitFor(() => (daemon.output().match(/message from an unpaired user ignored/g) ?? []).length >= 2);
    expect(await runsOf()).toEqual([]);
    expect(chat(STRANGER)).toHaveLength(1);

    const approved = await runCli([
      "pairing",
      "approve",
      code,
      "--port",
      String(daemon.port),
      "--config",
      configDir,
      "--data-dir",
      dataDir,
    ]);
    expect(approved.code, approved.stderr).toBe(0);
    await say(stranger(), "/run greet");
    await waitFor(() => chat(STRANGER).some((text) => text.startsWith("Started greet")));
    const runs = await runsOf();
    expect(runs).toHaveLength(1);
    expect((await waitForRun(daemon.url, String(runs[0].id))).status).toBe("succeeded");
  });

  it("queues messages while the Bot API is down and delivers them in order when it returns", async () => {
    await emulator.stop();
    for (const n of [1, 2, 3]) {
      const run = await callApi(daemon.url, "POST", "/api/workflows/notify/run?wait=1", { n });
      expect(run.body.status).toBe("succeeded");
    }
    await waitFor(async () => {
      const { body } = await callApi(daemon.url, "GET", "/api/outbox?status=pending");
      return (body.deliveries as Json[]).some((delivery) => delivery.attempts >= 1);
    });
    await emulator.restart();
    await waitFor(() => chat(OWNER).filter((text) => text.startsWith("queued while down")).length === 3, 20_000);
    expect(chat(OWNER).filter((text) => text.startsWith("queued while down"))).toEqual([
      "queued while down: 1",
      "queued while down: 2",
      "queued while down: 3",
    ]);
    // Polling resumed too: a message sent after the outage is answered.
    const statuses = () => chat(OWNER).filter((text) => text.startsWith("LocalAgent")).length;
    const before = statuses();
    await say(owner(), "/status");
    await waitFor(() => statuses() === before + 1);
    expect(daemon.output()).not.toContain(TOKEN);
  });
});

describe("Telegram webhook mode through the daemon", () => {
  const temp = makeTempDir("localagent-telegram-webhook-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const SECRET = "webhook_secret-0123456789";
  let emulator: TelegramEmulator;
  let daemon: DaemonProcess;
  let updateId = 500;

  const post = async (body: string, headers: Record<string, string>) => {
    const response = await fetch(`${daemon.url}/api/tgw`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    return { status: response.status, text: await response.text() };
  };
  const update = (text: string, from = OWNER) =>
    JSON.stringify({
      update_id: ++updateId,
      message: {
        message_id: updateId,
        date: 0,
        chat: { id: from, type: "private" },
        from: { id: from, is_bot: false, first_name: "Owner" },
        text,
      },
    });

  beforeAll(async () => {
    emulator = await TelegramEmulator.start();
    writeConfigDir(configDir, { config: "outbox: { backoff: 100ms, max_backoff: 500ms }\n", workflows: {} });
    const platforms = writeFile(
      join(temp.dir, "platforms.json"),
      JSON.stringify({
        platforms: [
          {
            name: "tgw",
            type: "telegram",
            auth: TOKEN,
            webhook: "https://bot.example.com/api/tgw",
            secret: SECRET,
            api_root: emulator.apiRoot,
            allow_users: [OWNER],
          },
        ],
      }),
    );
    daemon = await startDaemon({ configDir, dataDir, args: ["--platform-config", platforms] });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    await emulator?.stop();
    temp.cleanup();
  });

  it("registers the webhook with its secret token, and takes updates on the URL's path only with that token", async () => {
    await waitFor(
      () =>
        (emulator.server as unknown as { webhooks: Record<string, { url: string; secret_token?: string }> }).webhooks[TOKEN] !== undefined,
    );
    const registered = (emulator.server as unknown as { webhooks: Record<string, { url: string; secret_token?: string }> }).webhooks[
      TOKEN
    ]!;
    expect(registered).toMatchObject({ url: "https://bot.example.com/api/tgw", secret_token: SECRET });

    expect((await post(update("/status"), { "x-telegram-bot-api-secret-token": SECRET })).status).toBe(200);
    await waitFor(() => emulator.botMessages(OWNER).some((message) => unescapeMarkdownV2(message.text).startsWith("LocalAgent")));

    const before = emulator.botMessages(OWNER).length;
    expect((await post(update("/status"), {})).status).toBe(401);
    expect((await post(update("/status"), { "x-telegram-bot-api-secret-token": "guess" })).status).toBe(401);
    await waitFor(() => /channel event rejected: .*missing or wrong X-Telegram-Bot-Api-Secret-Token header/.test(daemon.output()));
    expect(daemon.output()).not.toContain(SECRET);
    expect(daemon.output()).not.toContain(TOKEN);
    expect(emulator.botMessages(OWNER)).toHaveLength(before);
  });

  it("ignores malformed and unknown updates with a logged reason and keeps serving", async () => {
    const headers = { "x-telegram-bot-api-secret-token": SECRET };
    for (const body of [
      "{not json",
      "[]",
      JSON.stringify({ update_id: 1, poll: {} }),
      JSON.stringify({ update_id: 2, message: { chat: { id: 1 } } }),
    ]) {
      expect((await post(body, headers)).status).toBeLessThan(500);
    }
    await waitFor(() => /telegram update ignored: update type \\?"poll\\?" is not handled/.test(daemon.output()));
    expect(daemon.output()).toMatch(/telegram update ignored: update is not a JSON object/);
    expect((await callApi(daemon.url, "GET", "/healthz")).status).toBe(200);
    const before = emulator.botMessages(OWNER).length;
    expect((await post(update("/help"), headers)).status).toBe(200);
    await waitFor(() => emulator.botMessages(OWNER).length > before);
  });
});
