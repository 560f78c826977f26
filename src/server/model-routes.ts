import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply } from "fastify";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import type { ChatMessage, GenerateRequest, GenerateResult, StreamPart, ToolCall, ToolDefinition } from "../models/index.js";
import type { DaemonApi, ModelsApi } from "./daemon-api.js";

/**
 * The model routes: `/api/models` (overview, probe), `/api/config/models` (read, hot swap) and the
 * OpenAI-compatible `/v1/chat/completions` and `/v1/models`, so other local tools use the daemon's
 * routing, fallback and cache. Same bearer token as the rest of the API.
 */
export function registerModelRoutes(app: FastifyInstance, api: DaemonApi, redact: (text: string) => string): void {
  const models = (): ModelsApi => {
    const service = api.models?.();
    if (!service) throw new LocalAgentError("unavailable", "the model layer is not running");
    return service;
  };
  app.get("/api/models", async () => models().overview());
  app.post("/api/models/:name/test", async (request, reply) =>
    models().probe(String((request.params as { name: string }).name), abortOnClose(reply)),
  );
  app.get("/api/config/models", async () => models().configView());
  app.put("/api/config/models", async (request) => models().applyBody(request.body ?? {}));
  app.get("/v1/models", async () => {
    const overview = models().overview();
    const ids = [...Object.keys(overview.routing), ...overview.models.map((model) => model.name)];
    return { object: "list", data: [...new Set(ids)].map((id) => ({ id, object: "model", created: 0, owned_by: "localagent" })) };
  });
  app.post("/v1/chat/completions", async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const generate = parseChatRequest(body);
    generate.signal = abortOnClose(reply);
    generate.caller = { user: "api" };
    const id = `chatcmpl-${randomBytes(12).toString("hex")}`;
    const created = Math.floor(Date.now() / 1000);
    if (body.stream === true) {
      const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      return streamCompletion(reply, models().stream(generate), { id, created, includeUsage }, redact);
    }
    const result = await models().generate(generate);
    void reply.header("x-localagent-model", result.model).header("x-localagent-cached", String(result.cached === true));
    return completion(result, id, created);
  });
}

/** Aborts the model call when the client goes away before the answer was sent. */
function abortOnClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort(new Error("client closed the connection"));
  });
  return controller.signal;
}

function completion(result: GenerateResult, id: string, created: number): Record<string, unknown> {
  return {
    id,
    object: "chat.completion",
    created,
    model: result.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: result.text === "" && result.toolCalls.length > 0 ? null : result.text,
          ...(result.toolCalls.length > 0 ? { tool_calls: result.toolCalls.map(wireToolCall) } : {}),
        },
        finish_reason: wireFinishReason(result),
        logprobs: null,
      },
    ],
    usage: usage(result),
  };
}

/** Streams as OpenAI does: role chunk, content deltas, tool calls, finish chunk, optional usage chunk, `data: [DONE]`. */
async function streamCompletion(
  reply: FastifyReply,
  parts: AsyncIterable<StreamPart>,
  meta: { id: string; created: number; includeUsage: boolean },
  redact: (text: string) => string,
): Promise<void> {
  const iterator = parts[Symbol.asyncIterator]();
  // The first part is awaited before any byte is sent: a request no model can serve gets a proper HTTP error.
  let next = await iterator.next();
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
  let model = "";
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}): void => {
    raw.write(
      `data: ${JSON.stringify({ id: meta.id, object: "chat.completion.chunk", created: meta.created, model, choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }], ...extra })}\n\n`,
    );
  };
  let toolIndex = 0;
  let started = false;
  try {
    while (!next.done) {
      const part = next.value;
      if (!started) {
        started = true;
        chunk({ role: "assistant", content: "" }, null);
      }
      if (part.type === "text") chunk({ content: part.text }, null);
      else if (part.type === "tool-call") chunk({ tool_calls: [{ index: toolIndex++, ...wireToolCall(part.toolCall) }] }, null);
      else {
        model = part.result.model;
        chunk({}, wireFinishReason(part.result));
        if (meta.includeUsage) {
          raw.write(
            `data: ${JSON.stringify({ id: meta.id, object: "chat.completion.chunk", created: meta.created, model, choices: [], usage: usage(part.result) })}\n\n`,
          );
        }
      }
      next = await iterator.next();
    }
  } catch (error) {
    raw.write(
      `data: ${JSON.stringify({ error: { message: redact(errorMessage(error)), type: "model_error", code: errorCode(error) } })}\n\n`,
    );
  }
  raw.write("data: [DONE]\n\n");
  raw.end();
}

function errorCode(error: unknown): string {
  return error instanceof LocalAgentError ? error.code : "internal_error";
}

function wireToolCall(call: ToolCall): Record<string, unknown> {
  return { id: call.id, type: "function", function: { name: call.name, arguments: JSON.stringify(call.arguments) } };
}

function wireFinishReason(result: GenerateResult): string {
  if (result.toolCalls.length > 0 || result.finishReason === "tool_calls") return "tool_calls";
  return result.finishReason === "length" ? "length" : "stop";
}

function usage(result: GenerateResult): Record<string, number> {
  return {
    prompt_tokens: result.usage.inputTokens,
    completion_tokens: result.usage.outputTokens,
    total_tokens: result.usage.inputTokens + result.usage.outputTokens,
  };
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);

/** An OpenAI chat completion request as our GenerateRequest; each problem names its field. */
export function parseChatRequest(body: Record<string, unknown>): GenerateRequest {
  const fail = (field: string, message: string): never => {
    throw new LocalAgentError("bad_request", `${field}: ${message}`);
  };
  if (typeof body.model !== "string" || body.model === "")
    fail("model", "required: a task type or a model name (GET /v1/models lists them)");
  if (!Array.isArray(body.messages) || body.messages.length === 0) fail("messages", "required: a non-empty array");
  const messages: ChatMessage[] = (body.messages as unknown[]).map((raw, index) => {
    const at = `messages[${index}]`;
    if (!raw || typeof raw !== "object") return fail(at, "expected an object");
    const message = raw as Record<string, unknown>;
    const role = message.role;
    if (typeof role !== "string" || !ROLES.has(role)) return fail(`${at}.role`, "expected system, user, assistant or tool");
    const content = contentText(message.content, `${at}.content`, fail);
    const result: ChatMessage = { role: role === "developer" ? "system" : (role as ChatMessage["role"]), content };
    if (role === "assistant" && Array.isArray(message.tool_calls)) {
      result.toolCalls = message.tool_calls.map((call: unknown, callIndex) => parseToolCall(call, `${at}.tool_calls[${callIndex}]`, fail));
    }
    if (role === "tool") {
      if (typeof message.tool_call_id !== "string") fail(`${at}.tool_call_id`, "required on tool messages");
      result.toolCallId = message.tool_call_id as string;
      if (typeof message.name === "string") result.name = message.name;
    }
    return result;
  });
  const request: GenerateRequest = { model: body.model as string, messages };
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) fail("tools", "expected an array");
    request.tools = (body.tools as unknown[]).map((raw, index): ToolDefinition => {
      const fn = (raw as { function?: Record<string, unknown> } | null)?.function;
      if (!fn || typeof fn.name !== "string") return fail(`tools[${index}].function.name`, "required");
      return {
        name: fn.name,
        description: typeof fn.description === "string" ? fn.description : "",
        parameters: (fn.parameters as Record<string, unknown> | undefined) ?? { type: "object", properties: {} },
      };
    });
  }
  if (body.temperature !== undefined && body.temperature !== null) {
    if (typeof body.temperature !== "number") fail("temperature", "expected a number");
    request.temperature = body.temperature as number;
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) {
    if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens <= 0) fail("max_tokens", "expected a positive integer");
    request.maxTokens = maxTokens as number;
  }
  if (typeof body.stop === "string") request.stop = [body.stop];
  else if (Array.isArray(body.stop)) request.stop = body.stop.map(String);
  const format = body.response_format as { type?: string; json_schema?: { schema?: Record<string, unknown> } } | undefined;
  if (format?.type === "json_object") request.json = true;
  else if (format?.type === "json_schema") request.json = format.json_schema?.schema ?? true;
  return request;
}

function contentText(value: unknown, at: string, fail: (field: string, message: string) => never): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    return value
      .map((part: unknown, index) => {
        const text = (part as { type?: string; text?: unknown } | null)?.text;
        if (typeof text !== "string") return fail(`${at}[${index}]`, "only text parts are supported");
        return text;
      })
      .join("");
  }
  return fail(at, "expected a string or an array of text parts");
}

function parseToolCall(raw: unknown, at: string, fail: (field: string, message: string) => never): ToolCall {
  const call = raw as { id?: unknown; function?: { name?: unknown; arguments?: unknown } } | null;
  if (!call || typeof call.function?.name !== "string") return fail(`${at}.function.name`, "required");
  let args: Record<string, unknown> = {};
  const text = call.function.arguments;
  if (typeof text === "string" && text.trim() !== "") {
    try {
      args = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return fail(`${at}.function.arguments`, "not valid JSON");
    }
  }
  return { id: typeof call.id === "string" ? call.id : "", name: call.function.name, arguments: args };
}
