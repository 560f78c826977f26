export { ChatCommandSource, parseChatCommand, type ChatMessage, type ParsedChatCommand } from "./chat-command-source.js";
