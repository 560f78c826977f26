import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../clock/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { createSilentLogger } from "../../logger/index.js";
import "../builtin.js";
import { loadPlatforms } from "../platform-config.js";
import { createChannel } from "../registry.js";
import { TelegramChannel } from "./telegram-channel.js";

const TOKEN = "123456789:AAfactoryTOKEN_abcdefghijklm";
const services = { logger: createSilentLogger(), clock: systemClock, wake: () => undefined };

describe("telegram platform entries", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-telegram-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function platform(entry: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
    const file = join(dir, "platforms.json");
    writeFileSync(file, JSON.stringify({ platforms: [{ name: "telegram", ...entry }] }));
    return loadPlatforms({ file, env }).platforms[0]!;
  }

  async function refusal(entry: Record<string, unknown>): Promise<string> {
    const error = await createChannel(platform(entry), services).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(LocalAgentError);
    expect((error as LocalAgentError).code).toBe("config_invalid");
    return (error as LocalAgentError).message;
  }

  it("builds the adapter from the seed's entry shape with an env: token", async () => {
    const channel = await createChannel(
      platform(
        { auth: "env:TG_TOKEN", webhook: "https://bot.example.com/api/telegram", message_parser: "markdown_v2", secret: "hook_secret-1" },
        { TG_TOKEN: TOKEN },
      ),
      services,
    );
    expect(channel).toBeInstanceOf(TelegramChannel);
    expect(channel.kind).toBe("telegram");
    expect((channel as TelegramChannel).webhookPath).toBe("/api/telegram");
    expect((channel as TelegramChannel).verifySecret("hook_secret-1")).toBe(true);
    expect(channel.capabilities).toMatchObject({ maxMessageLength: 4096, buttons: true });
  });

  it("refuses the seed's BOT_TOKEN placeholder with a clear error naming where", async () => {
    const message = await refusal({ auth: "BOT_TOKEN", webhook: "https://your-domain/api/telegram" });
    expect(message).toMatch(/platforms\.json: platforms\[0\]\.auth: "BOT_TOKEN" is the example placeholder/);
  });

  it("refuses a webhook path the daemon does not serve for this channel", async () => {
    const message = await refusal({ auth: TOKEN, webhook: "https://bot.example.com/hooks/tg" });
    expect(message).toMatch(/platforms\[0\]\.webhook: the daemon serves this channel's webhook at \/api\/telegram or .* not \/hooks\/tg/);
  });

  it("names the bad field of api_root, polling, secret and proxy", async () => {
    expect(await refusal({ auth: TOKEN, api_root: "not a url" })).toMatch(/platforms\[0\]\.api_root: expected a URL/);
    expect(await refusal({ auth: TOKEN, polling: { timeout: "soon" } })).toMatch(/platforms\[0\]\.polling\.timeout: /);
    expect(await refusal({ auth: TOKEN, polling: { interval: 5 } })).toMatch(/platforms\[0\]\.polling\.interval: unknown field/);
    expect(await refusal({ auth: TOKEN, secret: "has spaces!" })).toMatch(/platforms\[0\]\.secret: Telegram allows/);
    expect(await refusal({ auth: TOKEN, proxy: "http://proxy:3128" })).toMatch(
      /platforms\[0\]\.proxy: the telegram adapter supports socks5/,
    );
  });

  it("takes api_root, polling, proxy and message_parser", async () => {
    const channel = await createChannel(
      platform({
        auth: TOKEN,
        api_root: "http://127.0.0.1:8081/",
        polling: { timeout: 5, min_backoff_ms: 100, max_backoff_ms: 1000 },
        proxy: "socks5://127.0.0.1:1080",
        message_parser: "html",
        max_message_length: 1000,
      }),
      services,
    );
    expect(channel.capabilities.maxMessageLength).toBe(1000);
  });
});
