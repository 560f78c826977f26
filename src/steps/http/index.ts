import { z } from "zod";
import type { StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";

export interface HttpConfig {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  body?: unknown;
  expect_status?: number[];
}

/** `http`: one request. Output `{status, headers, body}`; JSON bodies are parsed. 5xx/429/network errors retry. */
export const httpStep: StepRunner<HttpConfig> = {
  type: "http",
  configShape: {
    url: z.string().min(1).describe("Absolute http(s) URL; may use templates"),
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "get", "post", "put", "patch", "delete", "head"]).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    body: z.unknown().optional().describe("A string is sent as is; anything else as JSON"),
    expect_status: z.array(z.number().int()).optional().describe("Accepted status codes (default: any 2xx)"),
  },
  async run(context) {
    const { config, signal, services } = context;
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new LocalAgentError("step_failed", `http step "${context.step.name}": "${config.url}" is not an absolute URL`);
    }
    for (const [key, value] of Object.entries(config.query ?? {})) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { "user-agent": "localagent", ...config.headers };
    let body: string | undefined;
    if (config.body !== undefined && config.body !== null) {
      body = typeof config.body === "string" ? config.body : JSON.stringify(config.body);
      if (typeof config.body !== "string" && !hasHeader(headers, "content-type")) headers["content-type"] = "application/json";
    }
    let response: Response;
    try {
      response = await fetch(url, { method: (config.method ?? "GET").toUpperCase(), headers, body, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new LocalAgentError("step_failed", `${url.origin} unreachable: ${causeMessage(error)}`, { retryable: true, cause: error });
    }
    const text = await readCapped(response, services.settings.maxOutputBytes);
    const contentType = response.headers.get("content-type") ?? "";
    let parsed: unknown = text;
    if (contentType.includes("json") && text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const accepted = config.expect_status ? config.expect_status.includes(response.status) : response.ok;
    if (!accepted) {
      const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      throw new LocalAgentError("step_failed", `${config.method ?? "GET"} ${url.origin}${url.pathname} answered ${response.status}`, {
        retryable,
        details: { status: response.status, body: text.slice(0, 500) },
      });
    }
    return { output: { status: response.status, headers: Object.fromEntries(response.headers), body: parsed } };
  },
};

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function causeMessage(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

async function readCapped(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value: Uint8Array };
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      break;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
