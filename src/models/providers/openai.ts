import type { ChatMessage, FinishReason, GenerateRequest, GenerateResult, LanguageModel, StreamPart, ToolCall, Usage } from "../types.js";
import { HttpTransport, parseArguments, readJson, readSse, type HttpModelSettings, type ProviderDeps } from "./http-transport.js";

interface OpenAiToolCall {
  id?: string;
  index?: number;
  type?: string;
  function?: { name?: string; arguments?: string };
}

interface OpenAiChoice {
  message?: { content?: string | null; tool_calls?: OpenAiToolCall[] };
  delta?: { content?: string | null; tool_calls?: OpenAiToolCall[] };
  finish_reason?: string | null;
}

interface OpenAiResponse {
  choices?: OpenAiChoice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

/**
 * OpenAI-compatible chat completions (`POST {base_url}/chat/completions`): OpenAI, vLLM, llama.cpp
 * server, LM Studio, LocalAI. Streaming is SSE ending with `data: [DONE]`; tool-call arguments
 * arrive as string deltas keyed by index and are parsed once complete.
 */
export class OpenAiModel implements LanguageModel {
  readonly specificationVersion = 1 as const;
  readonly provider = "openai";
  readonly name: string;
  private readonly transport: HttpTransport;

  constructor(
    private readonly settings: HttpModelSettings,
    deps: ProviderDeps = {},
  ) {
    this.name = settings.name;
    this.transport = new HttpTransport("openai", settings, deps);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const open = await this.transport.post("/chat/completions", this.body(request, false), this.headers(), request.signal);
    const body = (await readJson(open, (detail) => this.transport.error("server_error", detail))) as OpenAiResponse;
    const choice = body.choices?.[0];
    if (!choice?.message) throw this.transport.error("server_error", "the response has no choices[0].message");
    const toolCalls = (choice.message.tool_calls ?? []).map((call, index) => this.toolCall(call, index));
    return {
      text: choice.message.content ?? "",
      toolCalls,
      finishReason: finishReason(choice.finish_reason, toolCalls.length > 0),
      usage: usage(body.usage),
      model: this.name,
    };
  }

  async *stream(request: GenerateRequest): AsyncGenerator<StreamPart> {
    const open = await this.transport.post("/chat/completions", this.body(request, true), this.headers(), request.signal);
    let text = "";
    let reason: string | null | undefined;
    let tokens: Usage = { inputTokens: 0, outputTokens: 0 };
    const pending = new Map<number, { id?: string; name: string; arguments: string }>();
    let done = false;
    for await (const event of readSse(open)) {
      if (event.data === "[DONE]") {
        done = true;
        break;
      }
      let chunk: OpenAiResponse;
      try {
        chunk = JSON.parse(event.data) as OpenAiResponse;
      } catch {
        throw this.transport.error("server_error", `a stream chunk is not JSON: ${event.data.slice(0, 120)}`);
      }
      if (chunk.error) throw this.transport.error("server_error", chunk.error.message ?? "error in the stream");
      if (chunk.usage) tokens = usage(chunk.usage);
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = choice.delta ?? {};
      if (delta.content) {
        text += delta.content;
        yield { type: "text", text: delta.content };
      }
      for (const call of delta.tool_calls ?? []) {
        const index = call.index ?? 0;
        const entry = pending.get(index) ?? { name: "", arguments: "" };
        if (call.id) entry.id = call.id;
        if (call.function?.name) entry.name += call.function.name;
        if (call.function?.arguments) entry.arguments += call.function.arguments;
        pending.set(index, entry);
      }
      if (choice.finish_reason) reason = choice.finish_reason;
    }
    if (!done && reason === undefined) throw this.transport.error("unreachable", "the stream ended before [DONE]");
    const toolCalls = [...pending.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => this.toolCall({ id: call.id, function: { name: call.name, arguments: call.arguments } }, index));
    for (const toolCall of toolCalls) yield { type: "tool-call", toolCall };
    yield {
      type: "finish",
      result: { text, toolCalls, finishReason: finishReason(reason, toolCalls.length > 0), usage: tokens, model: this.name },
    };
  }

  private headers(): Record<string, string> {
    return this.settings.apiKey ? { authorization: `Bearer ${this.settings.apiKey}` } : {};
  }

  private body(request: GenerateRequest, stream: boolean): Record<string, unknown> {
    const messages = request.messages.map(toOpenAiMessage);
    // OpenAI refuses json_object unless a message says "JSON"; a short system line keeps every server happy.
    if (request.json && !request.messages.some((message) => /json/i.test(message.content))) {
      messages.unshift({ role: "system", content: "Respond in JSON." });
    }
    const body: Record<string, unknown> = { model: this.settings.model, messages };
    if (request.tools && request.tools.length > 0) {
      body.tools = request.tools.map((tool) => ({
        type: "function",
        function: { name: tool.name, description: tool.description, parameters: tool.parameters },
      }));
    }
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    if (request.stop && request.stop.length > 0) body.stop = request.stop;
    if (request.json === true) body.response_format = { type: "json_object" };
    else if (request.json && typeof request.json === "object")
      body.response_format = { type: "json_schema", json_schema: { name: "output", schema: request.json } };
    if (stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    return body;
  }

  private toolCall(call: OpenAiToolCall, index: number): ToolCall {
    return {
      id: call.id ?? `call_${index}`,
      name: call.function?.name ?? "",
      arguments: parseArguments(call.function?.arguments, (detail) => this.transport.error("server_error", detail)),
    };
  }
}

/** Our message shape in OpenAI's wire format (the /v1 endpoint uses the inverse). */
export function toOpenAiMessage(message: ChatMessage): Record<string, unknown> {
  if (message.role === "tool") return { role: "tool", tool_call_id: message.toolCallId ?? "", content: message.content };
  if (message.role === "assistant" && message.toolCalls && message.toolCalls.length > 0) {
    return {
      role: "assistant",
      content: message.content === "" ? null : message.content,
      tool_calls: message.toolCalls.map((call) => ({
        id: call.id,
        type: "function",
        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
      })),
    };
  }
  return { role: message.role, content: message.content };
}

function finishReason(reason: string | null | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === "length") return "length";
  if (reason === "tool_calls" || reason === "function_call" || hasToolCalls) return "tool_calls";
  return "stop";
}

function usage(value: OpenAiResponse["usage"]): Usage {
  return { inputTokens: value?.prompt_tokens ?? 0, outputTokens: value?.completion_tokens ?? 0 };
}
