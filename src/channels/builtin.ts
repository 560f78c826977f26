/**
 * Registers the built-in channel kinds. The daemon imports this module once. Telegram and Feishu
 * are loaded on first use (grammY alone adds ~19 MB of RSS), so a daemon without them stays lean.
 */
import { registerChannelKind } from "./registry.js";
import { createWebChatChannel } from "./webchat/index.js";
import { createWebhookChannel } from "./webhook/index.js";

registerChannelKind("webhook", createWebhookChannel);
registerChannelKind("webchat", createWebChatChannel);
registerChannelKind("telegram", async (platform, services) =>
  (await import("./telegram/index.js")).createTelegramChannelFromPlatform(platform, services),
);
registerChannelKind("feishu", async (platform, services) => (await import("./feishu/index.js")).createFeishuChannel(platform, services));
