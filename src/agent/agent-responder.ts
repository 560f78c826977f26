// Types only: the channels import the config, which imports this component (mcp: schema).
import type { ConversationRequest, ConversationResponder } from "../channels/index.js";
import type { AuditRecorder } from "../engine/index.js";
import type { EventBus } from "../events/index.js";
import type { ChatMessage, LanguageModel } from "../models/types.js";
import { runAgentLoop } from "./agent-loop.js";
import type { AgentLoopEvent, AgentTool, BeforeToolCall, ToolApprover } from "./types.js";

export interface AgentResponderOptions {
  /** The router (task type `general`) or one configured model. */
  model: LanguageModel;
  /** The tools a chat may use; keep this short: chat messages are untrusted input. */
  tools: readonly AgentTool[];
  /** The command policy for command tools (`createPolicyToolHook`); required when `tools` has one. */
  beforeToolCall?: BeforeToolCall;
  approve?: ToolApprover;
  /** The channels' DEFAULT_SYSTEM_PROMPT, or your own. */
  systemPrompt: string;
  maxTurns?: number;
  maxTokens?: number;
  audit?: AuditRecorder;
  /** false when the model audits its own calls (the router does). */
  auditModelCalls?: boolean;
  events?: EventBus;
  onEvent?: (request: ConversationRequest, event: AgentLoopEvent) => void;
}

/**
 * A chat conversation answered by the agent loop: the chat's history as messages, the given
 * tools behind the policy hook, each tool call audited under the chat's user and conversation.
 * A loop that ends at a limit answers with what it has and says so, instead of failing the chat.
 */
export class AgentResponder implements ConversationResponder {
  constructor(private readonly options: AgentResponderOptions) {}

  async respond(request: ConversationRequest): Promise<string> {
    const { message } = request;
    const messages: ChatMessage[] = [
      { role: "system", content: this.options.systemPrompt },
      ...request.history.map((turn) => ({ role: turn.role, content: turn.content })),
      { role: "user", content: message.text },
    ];
    const onEvent = this.options.onEvent;
    const result = await runAgentLoop({
      model: this.options.model,
      messages,
      tools: this.options.tools,
      ...(this.options.maxTurns === undefined ? {} : { maxTurns: this.options.maxTurns }),
      ...(this.options.maxTokens === undefined ? {} : { maxTokens: this.options.maxTokens }),
      ...(this.options.beforeToolCall ? { beforeToolCall: this.options.beforeToolCall } : {}),
      ...(this.options.approve ? { approve: this.options.approve } : {}),
      ...(this.options.audit ? { audit: this.options.audit } : {}),
      ...(this.options.auditModelCalls === false ? { auditModelCalls: false } : {}),
      ...(this.options.events ? { events: this.options.events } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(onEvent ? { onEvent: (event: AgentLoopEvent) => onEvent(request, event) } : {}),
      actor: { user: `${message.channel}:${message.userId}`, conversation: `${message.channel}:${message.chatId}` },
    });
    if (result.outcome === "error") throw result.error ?? new Error("the model failed");
    if (result.outcome === "max_turns") return `${result.text}\n\n(stopped after ${result.turns} steps: the turn limit)`.trim();
    if (result.outcome === "max_tokens") return `${result.text}\n\n(stopped: the token budget is used up)`.trim();
    return result.text;
  }
}
