import { SocksProxyAgent } from "socks-proxy-agent";
import { z } from "zod";
import { LocalAgentError } from "../../errors/index.js";
import { requireToken, type PlatformConfig } from "../platform-config.js";
import type { ChannelServices } from "../registry.js";
import type { TelegramMessageParser } from "./render.js";
import { TelegramChannel, type TelegramChannelOptions } from "./telegram-channel.js";

const pollingSchema = z
  .object({
    timeout: z.number().int().min(0).max(600).optional(),
    min_backoff_ms: z.number().int().min(1).optional(),
    max_backoff_ms: z.number().int().min(1).optional(),
  })
  .strict();

/**
 * Builds the Telegram adapter from its platform entry (registered as kind `telegram`): the token
 * (`auth`, checked here so the seed's `BOT_TOKEN` placeholder fails this channel only, with a clear
 * error), `webhook` (whose path must be one the daemon serves for this channel), `api_root`,
 * `message_parser`, `polling`, `secret`, `proxy` (socks5://) and `max_message_length`.
 */
export function createTelegramChannelFromPlatform(platform: PlatformConfig, services: ChannelServices): TelegramChannel {
  const token = requireToken(platform);
  const options: TelegramChannelOptions = {
    name: platform.name,
    token,
    logger: services.logger,
    onReachable: () => services.wake(),
    messageParser: parserOf(platform.message_parser),
  };
  if (platform.api_root !== undefined) options.apiRoot = url(platform, "api_root", platform.api_root).replace(/\/+$/, "");
  if (platform.webhook !== undefined) {
    const webhook = new URL(url(platform, "webhook", platform.webhook));
    const served = [`/api/${platform.name}`, `/api/channels/${platform.name}/events`, `/api/channels/webhook/${platform.name}`];
    if (!served.includes(webhook.pathname)) {
      throw new LocalAgentError(
        "config_invalid",
        `${platform.where}.webhook: the daemon serves this channel's webhook at ${served.join(" or ")}, not ${webhook.pathname}`,
      );
    }
    options.webhookUrl = webhook.href;
  }
  if (platform.secret !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(platform.secret)) {
      throw new LocalAgentError(
        "config_invalid",
        `${platform.where}.secret: Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and - in a secret token`,
      );
    }
    options.webhookSecret = platform.secret;
  }
  if (platform.polling !== undefined) {
    const parsed = pollingSchema.safeParse(platform.polling);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".");
      throw new LocalAgentError(
        "config_invalid",
        `${platform.where}.polling${field ? `.${field}` : ""}: ${issue.code === "unrecognized_keys" ? "unknown field (timeout, min_backoff_ms, max_backoff_ms)" : issue.message}`,
      );
    }
    options.polling = {
      ...(parsed.data.timeout === undefined ? {} : { timeoutSeconds: parsed.data.timeout }),
      ...(parsed.data.min_backoff_ms === undefined ? {} : { minBackoffMs: parsed.data.min_backoff_ms }),
      ...(parsed.data.max_backoff_ms === undefined ? {} : { maxBackoffMs: parsed.data.max_backoff_ms }),
    };
  }
  if (platform.max_message_length !== undefined) options.maxMessageLength = platform.max_message_length;
  if (platform.proxy !== undefined) {
    const proxy = url(platform, "proxy", platform.proxy);
    if (!/^socks(4a?|5h?)?:\/\//.test(proxy)) {
      throw new LocalAgentError(
        "config_invalid",
        `${platform.where}.proxy: the telegram adapter supports socks5:// (or socks4://) proxies`,
      );
    }
    options.agent = new SocksProxyAgent(proxy);
  }
  return new TelegramChannel(options);
}

function parserOf(value: string | undefined): TelegramMessageParser {
  // Telegram's legacy Markdown is deprecated: markdown means MarkdownV2.
  if (value === "html" || value === "plain") return value;
  return "markdown_v2";
}

function url(platform: PlatformConfig, field: string, value: string): string {
  try {
    const parsed = new URL(value);
    if (!/^(https?|socks[45]?[ah]?):$/.test(parsed.protocol)) throw new Error("unsupported scheme");
    return value;
  } catch {
    throw new LocalAgentError("config_invalid", `${platform.where}.${field}: expected a URL, got "${value}"`);
  }
}
