import type { ChatMessage, FinishReason, GenerateRequest, GenerateResult, LanguageModel, StreamPart, ToolCall, Usage } from "../types.js";
import { HttpTransport, parseArguments, readJson, readSse, type HttpModelSettings, type ProviderDeps } from "./http-transport.js";

/** The Messages API version this adapter speaks. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** Anthropic requires max_tokens; this is used when neither the request nor the config sets it. */
const DEFAULT_MAX_TOKENS = 1024;

type ContentBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | { type: "tool_result"; tool_use_id: string; content: string };

interface AnthropicResponse {
  content?: Array<{ type: string; text?: string; id?: string; name?: string; input?: Record<string, unknown> }>;
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

interface AnthropicEvent {
  type: string;
  index?: number;
  message?: { usage?: { input_tokens?: number; output_tokens?: number } };
  content_block?: { type: string; text?: string; id?: string; name?: string };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: { output_tokens?: number; input_tokens?: number };
  error?: { type?: string; message?: string };
}

/**
 * Anthropic Messages API (`POST {base_url}/v1/messages`, `x-api-key`, `anthropic-version`): system
 * prompt apart from the messages, tool_use/tool_result content blocks, SSE events
 * (message_start, content_block_start/delta/stop, message_delta, message_stop, error).
 */
export class AnthropicModel implements LanguageModel {
  readonly specificationVersion = 1 as const;
  readonly provider = "anthropic";
  readonly name: string;
  private readonly transport: HttpTransport;

  constructor(
    private readonly settings: HttpModelSettings & { maxTokens?: number },
    deps: ProviderDeps = {},
  ) {
    this.name = settings.name;
    this.transport = new HttpTransport("anthropic", settings, deps);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const open = await this.transport.post("/v1/messages", this.body(request, false), this.headers(), request.signal);
    const body = (await readJson(open, (detail) => this.transport.error("server_error", detail))) as AnthropicResponse;
    let text = "";
    const toolCalls: ToolCall[] = [];
    for (const block of body.content ?? []) {
      if (block.type === "text") text += block.text ?? "";
      else if (block.type === "tool_use")
        toolCalls.push({ id: block.id ?? `call_${toolCalls.length}`, name: block.name ?? "", arguments: block.input ?? {} });
    }
    return {
      text,
      toolCalls,
      finishReason: finishReason(body.stop_reason, toolCalls.length > 0),
      usage: { inputTokens: body.usage?.input_tokens ?? 0, outputTokens: body.usage?.output_tokens ?? 0 },
      model: this.name,
    };
  }

  async *stream(request: GenerateRequest): AsyncGenerator<StreamPart> {
    const open = await this.transport.post("/v1/messages", this.body(request, true), this.headers(), request.signal);
    let text = "";
    const toolCalls: ToolCall[] = [];
    const blocks = new Map<number, { type: string; id: string; name: string; json: string }>();
    const usage: Usage = { inputTokens: 0, outputTokens: 0 };
    let reason: string | null | undefined;
    for await (const sse of readSse(open)) {
      let event: AnthropicEvent;
      try {
        event = JSON.parse(sse.data) as AnthropicEvent;
      } catch {
        throw this.transport.error("server_error", `a stream event is not JSON: ${sse.data.slice(0, 120)}`);
      }
      switch (event.type) {
        case "message_start":
          usage.inputTokens = event.message?.usage?.input_tokens ?? 0;
          usage.outputTokens = event.message?.usage?.output_tokens ?? 0;
          break;
        case "content_block_start": {
          const block = event.content_block;
          blocks.set(event.index ?? 0, { type: block?.type ?? "text", id: block?.id ?? "", name: block?.name ?? "", json: "" });
          if (block?.type === "text" && block.text) {
            text += block.text;
            yield { type: "text", text: block.text };
          }
          break;
        }
        case "content_block_delta": {
          const block = blocks.get(event.index ?? 0);
          if (event.delta?.type === "text_delta" && event.delta.text) {
            text += event.delta.text;
            yield { type: "text", text: event.delta.text };
          } else if (event.delta?.type === "input_json_delta" && block) {
            block.json += event.delta.partial_json ?? "";
          }
          break;
        }
        case "content_block_stop": {
          const block = blocks.get(event.index ?? 0);
          if (block?.type === "tool_use") {
            const toolCall: ToolCall = {
              id: block.id || `call_${toolCalls.length}`,
              name: block.name,
              arguments: parseArguments(block.json, (detail) => this.transport.error("server_error", detail)),
            };
            toolCalls.push(toolCall);
            yield { type: "tool-call", toolCall };
          }
          break;
        }
        case "message_delta":
          if (event.delta?.stop_reason !== undefined) reason = event.delta.stop_reason;
          if (event.usage?.output_tokens !== undefined) usage.outputTokens = event.usage.output_tokens;
          if (event.usage?.input_tokens !== undefined) usage.inputTokens = event.usage.input_tokens;
          break;
        case "message_stop":
          yield {
            type: "finish",
            result: { text, toolCalls, finishReason: finishReason(reason, toolCalls.length > 0), usage, model: this.name },
          };
          return;
        case "error": {
          const kind =
            event.error?.type === "overloaded_error" || event.error?.type === "api_error"
              ? "server_error"
              : event.error?.type === "rate_limit_error"
                ? "rate_limited"
                : "server_error";
          throw this.transport.error(kind, event.error?.message ?? "error event in the stream");
        }
        default:
          break; // ping and future event types
      }
    }
    throw this.transport.error("unreachable", "the stream ended before message_stop");
  }

  private headers(): Record<string, string> {
    return { "anthropic-version": ANTHROPIC_VERSION, ...(this.settings.apiKey ? { "x-api-key": this.settings.apiKey } : {}) };
  }

  private body(request: GenerateRequest, stream: boolean): Record<string, unknown> {
    const system = request.messages.filter((message) => message.role === "system").map((message) => message.content);
    if (request.json) {
      // No JSON mode in the Messages API: the instruction goes into the system prompt.
      system.push(
        request.json === true
          ? "Answer with one JSON object and nothing else."
          : `Answer with one JSON object matching this JSON Schema, and nothing else: ${JSON.stringify(request.json)}`,
      );
    }
    const body: Record<string, unknown> = {
      model: this.settings.model,
      max_tokens: request.maxTokens ?? this.settings.maxTokens ?? DEFAULT_MAX_TOKENS,
      messages: toAnthropicMessages(request.messages),
    };
    if (system.length > 0) body.system = system.join("\n\n");
    if (request.tools && request.tools.length > 0)
      body.tools = request.tools.map((tool) => ({ name: tool.name, description: tool.description, input_schema: tool.parameters }));
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.stop && request.stop.length > 0) body.stop_sequences = request.stop;
    if (stream) body.stream = true;
    return body;
  }
}

/** User/assistant turns with content blocks; consecutive tool results become one user turn, as the API wants. */
function toAnthropicMessages(messages: ChatMessage[]): Array<{ role: "user" | "assistant"; content: ContentBlock[] }> {
  const result: Array<{ role: "user" | "assistant"; content: ContentBlock[] }> = [];
  const push = (role: "user" | "assistant", blocks: ContentBlock[]): void => {
    const last = result[result.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else result.push({ role, content: blocks });
  };
  for (const message of messages) {
    if (message.role === "system") continue;
    if (message.role === "tool") {
      push("user", [{ type: "tool_result", tool_use_id: message.toolCallId ?? "", content: message.content }]);
    } else if (message.role === "assistant") {
      const blocks: ContentBlock[] = message.content ? [{ type: "text", text: message.content }] : [];
      for (const call of message.toolCalls ?? []) blocks.push({ type: "tool_use", id: call.id, name: call.name, input: call.arguments });
      push("assistant", blocks);
    } else {
      push("user", [{ type: "text", text: message.content }]);
    }
  }
  return result;
}

function finishReason(reason: string | null | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === "tool_use" || hasToolCalls) return "tool_calls";
  if (reason === "max_tokens") return "length";
  return "stop";
}
