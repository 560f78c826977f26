import type { ChatMessage, FinishReason, GenerateRequest, GenerateResult, LanguageModel, StreamPart, ToolCall } from "../types.js";
import { HttpTransport, readJson, readLines, type HttpModelSettings, type ProviderDeps } from "./http-transport.js";

interface OllamaToolCall {
  id?: string;
  function?: { name?: string; arguments?: Record<string, unknown> | string };
}

interface OllamaChunk {
  message?: { role?: string; content?: string; tool_calls?: OllamaToolCall[] };
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
  error?: string;
}

/** Ollama's native `POST /api/chat` (its `/v1` shim loses tool calls): NDJSON streaming, tools, `format`. */
export class OllamaModel implements LanguageModel {
  readonly specificationVersion = 1 as const;
  readonly provider = "ollama";
  readonly name: string;
  private readonly transport: HttpTransport;

  constructor(
    private readonly settings: HttpModelSettings & { keepAlive?: string },
    deps: ProviderDeps = {},
  ) {
    this.name = settings.name;
    this.transport = new HttpTransport("ollama", settings, deps);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const open = await this.transport.post("/api/chat", this.body(request, false), this.headers(), request.signal);
    const chunk = (await readJson(open, (detail) => this.transport.error("server_error", detail))) as OllamaChunk;
    if (chunk.error) throw this.transport.error("server_error", chunk.error);
    const toolCalls = (chunk.message?.tool_calls ?? []).map((call, index) => this.toolCall(call, index));
    return {
      text: chunk.message?.content ?? "",
      toolCalls,
      finishReason: finishReason(chunk.done_reason, toolCalls.length > 0),
      usage: { inputTokens: chunk.prompt_eval_count ?? 0, outputTokens: chunk.eval_count ?? 0 },
      model: this.name,
    };
  }

  async *stream(request: GenerateRequest): AsyncGenerator<StreamPart> {
    const open = await this.transport.post("/api/chat", this.body(request, true), this.headers(), request.signal);
    let text = "";
    const toolCalls: ToolCall[] = [];
    for await (const line of readLines(open)) {
      if (line.trim() === "") continue;
      let chunk: OllamaChunk;
      try {
        chunk = JSON.parse(line) as OllamaChunk;
      } catch {
        throw this.transport.error("server_error", `a stream line is not JSON: ${line.slice(0, 120)}`);
      }
      if (chunk.error) throw this.transport.error("server_error", chunk.error);
      const content = chunk.message?.content;
      if (content) {
        text += content;
        yield { type: "text", text: content };
      }
      for (const call of chunk.message?.tool_calls ?? []) {
        const toolCall = this.toolCall(call, toolCalls.length);
        toolCalls.push(toolCall);
        yield { type: "tool-call", toolCall };
      }
      if (chunk.done) {
        yield {
          type: "finish",
          result: {
            text,
            toolCalls,
            finishReason: finishReason(chunk.done_reason, toolCalls.length > 0),
            usage: { inputTokens: chunk.prompt_eval_count ?? 0, outputTokens: chunk.eval_count ?? 0 },
            model: this.name,
          },
        };
        return;
      }
    }
    throw this.transport.error("unreachable", 'the stream ended before "done": true');
  }

  private headers(): Record<string, string> {
    return this.settings.apiKey ? { authorization: `Bearer ${this.settings.apiKey}` } : {};
  }

  private body(request: GenerateRequest, stream: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = { model: this.settings.model, messages: request.messages.map(toOllamaMessage), stream };
    if (request.tools && request.tools.length > 0) {
      body.tools = request.tools.map((tool) => ({
        type: "function",
        function: { name: tool.name, description: tool.description, parameters: tool.parameters },
      }));
    }
    if (request.json === true) body.format = "json";
    else if (request.json && typeof request.json === "object") body.format = request.json;
    const options: Record<string, unknown> = {};
    if (request.temperature !== undefined) options.temperature = request.temperature;
    if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
    if (request.stop && request.stop.length > 0) options.stop = request.stop;
    if (Object.keys(options).length > 0) body.options = options;
    if (this.settings.keepAlive !== undefined) body.keep_alive = this.settings.keepAlive;
    return body;
  }

  private toolCall(call: OllamaToolCall, index: number): ToolCall {
    const raw = call.function?.arguments;
    let args: Record<string, unknown> = {};
    if (typeof raw === "string") {
      try {
        args = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        throw this.transport.error("server_error", `tool call arguments are not JSON: ${raw.slice(0, 200)}`);
      }
    } else if (raw && typeof raw === "object") {
      args = raw;
    }
    return { id: call.id ?? `call_${index}`, name: call.function?.name ?? "", arguments: args };
  }
}

function toOllamaMessage(message: ChatMessage): Record<string, unknown> {
  const result: Record<string, unknown> = { role: message.role, content: message.content };
  if (message.role === "assistant" && message.toolCalls && message.toolCalls.length > 0) {
    result.tool_calls = message.toolCalls.map((call) => ({ function: { name: call.name, arguments: call.arguments } }));
  }
  if (message.role === "tool" && message.name) result.tool_name = message.name;
  return result;
}

function finishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (hasToolCalls) return "tool_calls";
  return reason === "length" ? "length" : "stop";
}
