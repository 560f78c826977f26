import { ModelError } from "../model-error.js";
import type { ChatMessage, ModelErrorKind, ToolDefinition } from "../types.js";
import type { ChatFunctionDefinition, ChatHistoryFunctionCall, ChatHistoryItem } from "./node-llama-cpp.js";

/**
 * Our messages as node-llama-cpp's chat history, ending with the empty model turn to generate. Tool results
 * are attached to the assistant turn that called them (the chat wrapper renders call and result together).
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const pendingCalls = new Map<string, ChatHistoryFunctionCall>();
  for (const message of messages) {
    switch (message.role) {
      case "system":
        history.push({ type: "system", text: message.content });
        break;
      case "user":
        history.push({ type: "user", text: message.content });
        break;
      case "assistant": {
        const response: Array<string | ChatHistoryFunctionCall> = message.content ? [message.content] : [];
        for (const call of message.toolCalls ?? []) {
          const item: ChatHistoryFunctionCall = { type: "functionCall", name: call.name, params: call.arguments, result: "" };
          pendingCalls.set(call.id, item);
          response.push(item);
        }
        history.push({ type: "model", response });
        break;
      }
      case "tool": {
        const call = message.toolCallId === undefined ? undefined : pendingCalls.get(message.toolCallId);
        if (call) call.result = parseMaybeJson(message.content);
        else history.push({ type: "user", text: `Result of tool ${message.name ?? "call"}: ${message.content}` });
        break;
      }
    }
  }
  history.push({ type: "model", response: [] });
  return history;
}

/** Our tool definitions as node-llama-cpp functions (their parameters become the call's grammar). */
export function toChatFunctions(tools: readonly ToolDefinition[]): Record<string, ChatFunctionDefinition> {
  const functions: Record<string, ChatFunctionDefinition> = {};
  for (const tool of tools) {
    const empty = tool.parameters.properties === undefined || Object.keys(tool.parameters.properties as object).length === 0;
    functions[tool.name] = { description: tool.description, ...(empty ? {} : { params: tool.parameters }) };
  }
  return functions;
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A model failure as the model layer's ModelError (code `model_error`), with the kind the router reads. */
export function modelError(kind: ModelErrorKind, message: string, options: { cause?: unknown; model?: string } = {}): ModelError {
  return new ModelError(kind, message, {
    model: options.model ?? "embedded",
    provider: "embedded",
    ...(options.cause !== undefined ? { cause: options.cause } : {}),
  });
}
