import type { GenerateRequest, GenerateResult, LanguageModel, StreamPart, ToolCall } from "../../src/models/types.js";

/** One scripted answer: text, tool calls, or a function of the request (to read tool results). */
export type ScriptedTurn =
  | { text?: string; toolCalls?: Array<Omit<ToolCall, "id"> & { id?: string }>; usage?: { inputTokens: number; outputTokens: number } }
  | ((request: GenerateRequest, turn: number) => ScriptedTurn)
  | Error;

/**
 * An in-test LanguageModel that answers from a script, one entry per call (the last entry repeats),
 * and records every request, so a test can check what the model was told.
 */
export class ScriptedModel implements LanguageModel {
  readonly specificationVersion = 1;
  readonly provider = "scripted";
  readonly requests: GenerateRequest[] = [];

  constructor(
    private readonly script: ScriptedTurn[],
    readonly name = "scripted",
  ) {}

  generate(request: GenerateRequest): Promise<GenerateResult> {
    this.requests.push({ ...request, messages: request.messages.map((message) => ({ ...message })) });
    const turn = this.requests.length;
    let entry = this.script[Math.min(turn, this.script.length) - 1];
    while (typeof entry === "function") entry = entry(request, turn);
    if (entry === undefined) return Promise.reject(new Error("script is empty"));
    if (entry instanceof Error) return Promise.reject(entry);
    const toolCalls = (entry.toolCalls ?? []).map((call, index) => ({ ...call, id: call.id ?? `call_${turn}_${index}` }));
    return Promise.resolve({
      text: entry.text ?? "",
      toolCalls,
      finishReason: toolCalls.length > 0 ? "tool_calls" : "stop",
      usage: entry.usage ?? { inputTokens: 10, outputTokens: 5 },
      model: this.name,
    });
  }

  async *stream(request: GenerateRequest): AsyncIterable<StreamPart> {
    const result = await this.generate(request);
    if (result.text) yield { type: "text", text: result.text };
    for (const toolCall of result.toolCalls) yield { type: "tool-call", toolCall };
    yield { type: "finish", result };
  }
}

/** The content of the tool result messages in the last request, in order. */
export function toolResultsOf(request: GenerateRequest | undefined): string[] {
  return (request?.messages ?? []).filter((message) => message.role === "tool").map((message) => message.content);
}
