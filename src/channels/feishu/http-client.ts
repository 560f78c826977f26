import type { Agent } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { LocalAgentError, toError } from "../../errors/index.js";

/** One JSON answer: the HTTP status and the parsed body (undefined when it was not JSON). */
export interface JsonResponse {
  status: number;
  body: unknown;
}

export interface JsonRequest {
  method: "GET" | "POST";
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Answers larger than this are cut off and refused (the platform's replies are small). */
const MAX_RESPONSE_BYTES = 4 << 20;

/**
 * JSON over node:http/https with an optional agent. Node 20's fetch takes no http.Agent, and the
 * SOCKS5 proxy is an agent, so every Feishu request goes through here. Network failures become
 * retryable `delivery_failed` errors naming only the origin (never the body, which may hold the secret).
 */
export function createJsonClient(agent: Agent | undefined): (request: JsonRequest) => Promise<JsonResponse> {
  return (options) =>
    new Promise<JsonResponse>((resolve, reject) => {
      const url = new URL(options.url);
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const fail = (reason: string, cause?: unknown): void =>
        reject(new LocalAgentError("delivery_failed", `${url.origin} unreachable: ${reason}`, { retryable: true, cause }));
      if (options.signal?.aborted) return reject(toError(options.signal.reason));
      const request = send(
        url,
        {
          method: options.method,
          agent,
          headers: {
            accept: "application/json",
            "user-agent": "localagent",
            ...(payload ? { "content-type": "application/json; charset=utf-8", "content-length": String(payload.length) } : {}),
            ...options.headers,
          },
          signal: options.signal,
          timeout: options.timeoutMs ?? 15_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              response.destroy();
              fail(`answer larger than ${MAX_RESPONSE_BYTES} bytes`);
              return;
            }
            chunks.push(chunk);
          });
          response.on("error", (error) => fail(error.message, error));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let body: unknown;
            try {
              body = text === "" ? undefined : JSON.parse(text);
            } catch {
              body = undefined;
            }
            resolve({ status: response.statusCode ?? 0, body });
          });
        },
      );
      request.on("timeout", () => request.destroy(new Error(`no answer within ${options.timeoutMs ?? 15_000} ms`)));
      request.on("error", (error: NodeJS.ErrnoException) => {
        if (options.signal?.aborted) return reject(toError(options.signal.reason));
        fail(error.code ?? error.message, error);
      });
      request.end(payload);
    });
}
