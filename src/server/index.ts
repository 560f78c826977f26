export type { DaemonApi } from "./daemon-api.js";
export { HttpServer, isLoopback, type ServerOptions } from "./server.js";
export { CHANNEL_BODY_LIMIT, type ChannelApi, type ChatSession } from "./channel-routes.js";
