/**
 * Registers the built-in channel kinds. The daemon imports this module once; each adapter adds its
 * line here (telegram and feishu register themselves the same way).
 */
import { createFeishuChannel } from "./feishu/index.js";
import { registerChannelKind } from "./registry.js";
import { createTelegramChannelFromPlatform } from "./telegram/index.js";
import { createWebChatChannel } from "./webchat/index.js";
import { createWebhookChannel } from "./webhook/index.js";

registerChannelKind("webhook", createWebhookChannel);
registerChannelKind("webchat", createWebChatChannel);
registerChannelKind("telegram", createTelegramChannelFromPlatform);
registerChannelKind("feishu", createFeishuChannel);
