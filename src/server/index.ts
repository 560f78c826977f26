export type { DaemonApi, ModelsApi } from "./daemon-api.js";
export { parseChatRequest } from "./model-routes.js";
export { HttpServer, isLoopback, type ServerOptions } from "./server.js";
export { CHANNEL_BODY_LIMIT, type ChannelApi, type ChatSession } from "./channel-routes.js";
