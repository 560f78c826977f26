export type { DaemonApi, ModelsApi } from "./daemon-api.js";
export { parseChatRequest } from "./model-routes.js";
export { HttpServer, isLoopback, type ServerOptions } from "./server.js";
