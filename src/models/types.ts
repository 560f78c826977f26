/**
 * The model contract (version 1), in the spirit of the AI SDK's LanguageModelV*: one call shape for
 * every provider (OpenAI-compatible HTTP, Ollama, Anthropic, embedded node-llama-cpp) and for the
 * router, which is itself a LanguageModel that picks a configured model per request.
 */

export type ChatRole = "system" | "user" | "assistant" | "tool";

export interface ToolCall {
  /** Provider-assigned id; the tool result message quotes it back. */
  id: string;
  name: string;
  /** Parsed JSON arguments (providers that send a string are parsed before they reach the caller). */
  arguments: Record<string, unknown>;
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** On assistant messages: the tools the model asked to call. */
  toolCalls?: ToolCall[];
  /** On tool messages: the call this is the result of. */
  toolCallId?: string;
  /** On tool messages: the tool's name (Ollama and Anthropic want it). */
  name?: string;
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface GenerateRequest {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  temperature?: number;
  maxTokens?: number;
  /** true: any JSON object; an object: a JSON Schema the output must match (grammar-constrained where the provider can). */
  json?: boolean | Record<string, unknown>;
  stop?: string[];
  /** Cancels the request (timeouts and run cancellation come through here). */
  signal?: AbortSignal;
  /** For the router: a task type of the routing matrix or a configured model name (providers ignore it). */
  model?: string;
  /** For the router: false skips the result cache for this request. */
  cache?: boolean;
  /** For the router's audit entry: who asked (a workflow step, an API client, a chat conversation). */
  caller?: ModelCaller;
}

/** Who made a model call, recorded in its audit entry. */
export interface ModelCaller {
  workflow?: string;
  run?: string;
  step?: string;
  /** `api`, `cli`, a chat user. */
  user?: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "error";

export interface GenerateResult {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  /** The configured model name that answered (the router fills this with the model that served). */
  model: string;
  /** true when the answer came from the result cache. */
  cached?: boolean;
}

export type StreamPart =
  { type: "text"; text: string } | { type: "tool-call"; toolCall: ToolCall } | { type: "finish"; result: GenerateResult };

export interface LanguageModel {
  readonly specificationVersion: 1;
  /** The configured name (`models: { NAME: … }`). */
  readonly name: string;
  /** openai | ollama | anthropic | embedded | router | … */
  readonly provider: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Text deltas and tool calls as they arrive; always ends with one `finish` part. */
  stream(request: GenerateRequest): AsyncIterable<StreamPart>;
  /** Frees what the model holds (connections, loaded weights). */
  close?(): Promise<void>;
}

/**
 * Why a model call failed, so the router knows whether to fall through and the user knows what to fix.
 * Messages name the model and endpoint, never a key.
 */
export type ModelErrorKind =
  | "unreachable"
  | "timeout"
  | "auth"
  | "model_missing"
  | "context_too_long"
  | "rate_limited"
  | "server_error"
  | "bad_request"
  | "out_of_memory"
  | "aborted";
