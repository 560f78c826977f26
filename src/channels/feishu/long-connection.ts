import type { Agent } from "node:http";
import { LocalAgentError } from "../../errors/index.js";
import type { Logger } from "../../logger/index.js";
import type { JsonRequest, JsonResponse } from "./http-client.js";

export interface LongConnectionOptions {
  appId: string;
  appSecret: string;
  baseUrl: string;
  /** The SOCKS agent (or none): used for `POST /callback/ws/endpoint` (through `request`) and the WebSocket. */
  agent: Agent | undefined;
  request: (request: JsonRequest) => Promise<JsonResponse>;
  logger: Logger;
  /** Called with each event (already merged from its frames); the frame is acknowledged once it resolves. */
  onEvent: (event: unknown) => Promise<void>;
  /** Told about a connection the SDK gave up on (bad credentials, app not allowed a long connection). */
  onFailure?: (error: Error) => void;
  onReady?: () => void;
}

/** The running long connection. */
export interface LongConnection {
  close(): void;
}

const APP_ID_PATTERN = /^cli_[0-9a-fA-F]{16}$/;

/**
 * The event subscription over the WebSocket long connection, by the official SDK's WSClient
 * (protobuf frames, ping/pong, fragment merging, reconnects). The SDK is an optional dependency,
 * imported only here, so a daemon without Feishu never loads it. Its HTTP goes through our
 * client (so through the proxy) and its socket through the same agent.
 */
export async function startLongConnection(options: LongConnectionOptions): Promise<LongConnection> {
  if (!APP_ID_PATTERN.test(options.appId)) {
    throw new LocalAgentError(
      "config_invalid",
      `auth.app_id must look like cli_ followed by 16 hex digits for the long connection (got ${options.appId.slice(0, 40)})`,
    );
  }
  let sdk: typeof import("@larksuiteoapi/node-sdk");
  try {
    sdk = await import("@larksuiteoapi/node-sdk");
  } catch (error) {
    throw new LocalAgentError(
      "unavailable",
      "the Feishu long connection needs the optional package @larksuiteoapi/node-sdk (npm install @larksuiteoapi/node-sdk), or set mode: webhook",
      { cause: error },
    );
  }
  const httpInstance = {
    async request(request: { method?: string; url?: string; data?: unknown; headers?: Record<string, string>; timeout?: number }) {
      const response = await options.request({
        method: String(request.method ?? "post").toUpperCase() === "GET" ? "GET" : "POST",
        url: String(request.url),
        body: request.data,
        headers: request.headers,
        timeoutMs: request.timeout,
      });
      // The SDK destructures `data` before it looks at `code`: an error answer without it would be retried forever.
      const body = typeof response.body === "object" && response.body !== null ? (response.body as Record<string, unknown>) : {};
      return { data: {}, ...body };
    },
  };
  const sdkLogger = {
    error: (...parts: unknown[]) => options.logger.warn({ source: "feishu-sdk" }, describe(parts)),
    warn: (...parts: unknown[]) => options.logger.warn({ source: "feishu-sdk" }, describe(parts)),
    info: (...parts: unknown[]) => options.logger.debug({ source: "feishu-sdk" }, describe(parts)),
    debug: () => undefined,
    trace: () => undefined,
  };
  const client = new sdk.WSClient({
    appId: options.appId,
    appSecret: options.appSecret,
    domain: options.baseUrl,
    agent: options.agent,
    httpInstance: httpInstance as never,
    logger: sdkLogger,
    loggerLevel: sdk.LoggerLevel.warn,
    onReady: options.onReady,
    onError: options.onFailure,
  });
  const dispatcher = {
    async invoke(data: unknown): Promise<undefined> {
      await options.onEvent(data);
      return undefined;
    },
  };
  await client.start({ eventDispatcher: dispatcher as never });
  return { close: () => client.close({ force: true }) };
}

function describe(parts: unknown[]): string {
  return parts.map((part) => (part instanceof Error ? part.message : typeof part === "string" ? part : JSON.stringify(part))).join(" ");
}
