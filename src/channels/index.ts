export type {
  Channel,
  ChannelCapabilities,
  ChannelContext,
  ChannelEventReply,
  ChannelState,
  InboundMessage,
  MessageFormat,
  OutboundButton,
  OutboundMessage,
  SentMessage,
} from "./types.js";
export {
  CONVERSATION_TOOL_NAMES,
  conversationsConfigSchema,
  conversationTools,
  type ConversationToolName,
  type ConversationsConfig,
} from "./conversation-config.js";
export { KIND_ALIASES, platformEntrySchema, platformsConfigSchema, platformsFileSchema, type PlatformEntry } from "./platform-schema.js";
export { jsonPath, loadPlatforms, parsePlatformsFile, requireToken, type LoadedPlatforms, type PlatformConfig } from "./platform-config.js";
export { channelKind, channelKinds, createChannel, registerChannelKind, type ChannelFactory, type ChannelServices } from "./registry.js";
export { splitMessage } from "./split.js";
export { dedupKey, Inbox, INBOX_NAMESPACE, SEEN_NAMESPACE, CHANNEL_STATE_NAMESPACE } from "./inbox.js";
export { Pairing, PAIRING_NAMESPACE, type PairingRecord, type PairingStatus } from "./pairing.js";
export {
  AgentLoopResponder,
  conversationMessages,
  ConversationHistory,
  DEFAULT_SYSTEM_PROMPT,
  LanguageModelResponder,
  noModelResponder,
  type AgentTurn,
  type ConversationRequest,
  type ConversationResponder,
  type ConversationTurn,
} from "./conversation.js";
export {
  ChannelManager,
  HELP_TEXT,
  invalidMessage,
  type ChannelCommandHost,
  type ChannelDeliveryPayload,
  type ChannelInfo,
  type ChannelManagerOptions,
  type ChannelOutbox,
  type ChannelStatus,
} from "./manager.js";
