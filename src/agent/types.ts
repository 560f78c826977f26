import type { AuditRecorder } from "../engine/index.js";
import type { EventBus } from "../events/index.js";
import type { ChatMessage, LanguageModel, ToolCall, ToolDefinition, Usage } from "../models/types.js";

/** What a tool gets besides its arguments. */
export interface ToolExecution {
  /** The model call that asked (1-based). */
  turn: number;
  /** The position of the call in that turn's list (0-based). */
  index: number;
  call: ToolCall;
  signal: AbortSignal;
  /**
   * For tools checked further down (a nested shell step passes the engine's policy middleware):
   * tells the loop what was decided, so the `tool-call` entry records it.
   */
  reportDecision?(decision: { decision: "allow" | "deny" | "ask"; rule?: string; approval?: "approve" | "deny" }): void;
}

/** A tool the model may call: its definition (name, description, JSON Schema) and how to run it. */
export interface AgentTool {
  readonly definition: ToolDefinition;
  /**
   * A shell-like tool's command line, so the policy hook can check it (the shell tool returns
   * `arguments.command`). Undefined for tools that run no command.
   */
  commandOf?(args: Record<string, unknown>): string | undefined;
  /** Runs the call; what it returns goes back to the model (text as is, anything else as JSON); throwing is an error result. */
  execute(args: Record<string, unknown>, execution: ToolExecution): Promise<unknown>;
}

/** The answer of the `beforeToolCall` hook. */
export type ToolDecision =
  | { decision: "allow"; rule?: string; reason?: string }
  | { decision: "deny"; reason: string; rule?: string }
  | { decision: "ask"; reason?: string; rule?: string };

/** Runs before every tool call whose arguments are valid: the command policy and other guards plug in here. */
export type BeforeToolCall = (
  call: ToolCall,
  context: { tool: AgentTool; turn: number; index: number },
) => ToolDecision | Promise<ToolDecision>;

/** Answers an `ask` decision (durable approvals in the engine; a chat prompt in conversations). Default: deny. */
export type ToolApprover = (
  call: ToolCall,
  decision: Extract<ToolDecision, { decision: "ask" }>,
  context: { tool: AgentTool; turn: number; index: number; signal: AbortSignal },
) => Promise<"approve" | "deny">;

/** Why the loop ended. */
export type AgentOutcome = "stop" | "max_turns" | "max_tokens" | "error";

/** One tool call as it happened, for the step output and the tests. */
export interface ToolCallRecord {
  turn: number;
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  /** What the hook decided (`ask` is followed by the approval's answer), or `invalid` (unknown tool, bad arguments). */
  decision: "allow" | "deny" | "ask" | "invalid";
  /** The policy rule that decided, when one did. */
  rule?: string;
  approval?: "approve" | "deny";
  ok: boolean;
  /** The text the model was given. */
  content: string;
  error?: string;
  durationMs: number;
}

/** What the loop tells its caller as it goes (the event bus gets the same as `agent-turn` / `agent-tool-call`). */
export type AgentLoopEvent =
  | {
      type: "turn";
      turn: number;
      model: string;
      provider: string;
      finishReason: string;
      usage: Usage;
      cached: boolean;
      toolCalls: number;
      durationMs: number;
      text: string;
    }
  | { type: "tool-call"; record: ToolCallRecord };

/** Who is acting, for audit entries and events. */
export interface AgentActor {
  workflow?: string;
  run?: string;
  step?: string;
  user?: string;
  /** A conversation id, for chat channels. */
  conversation?: string;
}

export interface AgentLoopOptions {
  model: LanguageModel;
  /** The conversation so far (system prompt, history, the new user message). Not modified: the result carries the extended copy. */
  messages: ChatMessage[];
  tools: readonly AgentTool[];
  /** Model calls at most (default 10). */
  maxTurns?: number;
  /** Token budget of the whole loop, input plus output over every model call (default: none). */
  maxTokens?: number;
  /** Output tokens per model call (default: the model's). */
  maxOutputTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  onEvent?: (event: AgentLoopEvent) => void;
  beforeToolCall?: BeforeToolCall;
  approve?: ToolApprover;
  /** Writes `model-call` and `tool-call` entries. */
  audit?: AuditRecorder;
  /** false: no `model-call` entries from the loop, because the model writes its own (the router does). Default true. */
  auditModelCalls?: boolean;
  /** The bus that gets `agent-turn` and `agent-tool-call` events. */
  events?: EventBus;
  actor?: AgentActor;
  /** Characters of a tool result sent to the model (default 16000; the rest is cut with a note). */
  maxToolResultChars?: number;
  /** Milliseconds now (injected for tests; default Date.now). */
  now?: () => number;
}

export interface AgentLoopResult {
  outcome: AgentOutcome;
  /** The model's last text. */
  text: string;
  /** The conversation with every assistant and tool message appended. */
  messages: ChatMessage[];
  turns: number;
  usage: Usage;
  /** The model that served the last call (the router names the one that answered). */
  model: string;
  toolCalls: ToolCallRecord[];
  /** With outcome `error`: what failed. */
  error?: Error;
}
