export { escapeHtml, escapeMarkdownV2, MARKDOWN_V2_SPECIAL, unescapeMarkdownV2 } from "./escape.js";
export { markdownToMarkdownV2 } from "./markdown.js";
export { renderMessage, TELEGRAM_MAX_MESSAGE_LENGTH, type RenderedMessage, type TelegramMessageParser } from "./render.js";
export {
  createTelegramChannel,
  TELEGRAM_SECRET_HEADER,
  TelegramChannel,
  type TelegramChannelOptions,
  type TelegramPollingOptions,
} from "./telegram-channel.js";
export { classifyTelegramError, redactToken, type TelegramFailure } from "./telegram-errors.js";
export { createMemoryUpdateOffset, createStoreUpdateOffset, UPDATE_OFFSET_NAMESPACE, type UpdateOffsetStore } from "./update-offset.js";
export { parseUpdate, type ParsedUpdate } from "./updates.js";
export { createTelegramChannelFromPlatform } from "./telegram-factory.js";
