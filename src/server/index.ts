export type { DaemonApi } from "./daemon-api.js";
export { HttpServer, isLoopback, type ServerOptions } from "./server.js";
