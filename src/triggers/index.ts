export { ChatCommandSource, parseChatCommand, type ChatMessage, type ParsedChatCommand } from "./chat/index.js";
export { DaemonStartSource } from "./daemon-start/index.js";
export { FileSource, compileGlob, globBase, type FileChangePayload, type FileSourceOptions } from "./file/index.js";
export { HttpEventSource } from "./http/index.js";
export { NetworkSource, type NetworkSourceOptions } from "./network/index.js";
export { TriggerHub, type LaunchResult, type TriggerHubOptions } from "./trigger-hub.js";
export { WorkflowFinishedSource } from "./workflow-finished/index.js";
