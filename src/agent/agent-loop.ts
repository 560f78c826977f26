import { modelCallEntry, toolCallEntry } from "../audit/index.js";
import { errorMessage, LocalAgentError, toError } from "../errors/index.js";
import type { GenerateResult, ToolCall, Usage } from "../models/types.js";
import { validateToolArguments } from "./tool-schema.js";
import type { AgentLoopEvent, AgentLoopOptions, AgentLoopResult, AgentTool, ToolCallRecord, ToolDecision } from "./types.js";

const DEFAULT_MAX_TURNS = 10;
const DEFAULT_MAX_TOOL_RESULT_CHARS = 16_000;

/**
 * The agent loop: call the model with the tools' definitions; run the tool calls it asks for (in
 * parallel, results appended in call order); repeat until it answers without tool calls, or the
 * turn limit or the token budget is reached. A failing tool, an unknown tool name, invalid
 * arguments and a denied call become error results the model reads; only the model's own failure
 * (or the caller's abort) ends the loop early. Every model call and tool call is audited
 * (`model-call`, `tool-call`) and emitted (`agent-turn`, `agent-tool-call`).
 */
export async function runAgentLoop(options: AgentLoopOptions): Promise<AgentLoopResult> {
  const now = options.now ?? Date.now;
  const maxTurns = options.maxTurns ?? DEFAULT_MAX_TURNS;
  const signal = options.signal ?? new AbortController().signal;
  const tools = new Map(options.tools.map((tool) => [tool.definition.name, tool]));
  const definitions = options.tools.map((tool) => tool.definition);
  const messages = [...options.messages];
  const usage: Usage = { inputTokens: 0, outputTokens: 0 };
  const records: ToolCallRecord[] = [];
  const result = (outcome: AgentLoopResult["outcome"], text: string, model: string, turns: number, error?: Error): AgentLoopResult => ({
    outcome,
    text,
    messages,
    turns,
    usage,
    model,
    toolCalls: records,
    ...(error ? { error } : {}),
  });
  let model = options.model.name;
  let text = "";
  for (let turn = 1; turn <= maxTurns; turn++) {
    if (signal.aborted) throw toError(signal.reason);
    const remaining = options.maxTokens === undefined ? undefined : options.maxTokens - usage.inputTokens - usage.outputTokens;
    if (remaining !== undefined && remaining <= 0) return result("max_tokens", text, model, turn - 1);
    const maxOutput = minDefined(options.maxOutputTokens, remaining);
    const started = now();
    let answer: GenerateResult;
    try {
      answer = await options.model.generate({
        messages,
        ...(definitions.length > 0 ? { tools: definitions } : {}),
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
        ...(maxOutput === undefined ? {} : { maxTokens: maxOutput }),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw toError(signal.reason);
      auditModelCall(options, turn, { model: options.model.name, durationMs: now() - started, error: errorMessage(error) });
      return result("error", text, model, turn - 1, toError(error));
    }
    const durationMs = now() - started;
    model = answer.model || options.model.name;
    text = answer.text;
    usage.inputTokens += answer.usage.inputTokens;
    usage.outputTokens += answer.usage.outputTokens;
    auditModelCall(options, turn, {
      model,
      durationMs,
      usage: answer.usage,
      cached: answer.cached === true,
      finishReason: answer.finishReason,
      toolCalls: answer.toolCalls.map((call) => call.name),
    });
    emit(options, {
      type: "turn",
      turn,
      model,
      provider: options.model.provider,
      finishReason: answer.finishReason,
      usage: answer.usage,
      cached: answer.cached === true,
      toolCalls: answer.toolCalls.length,
      durationMs,
      text: answer.text,
    });
    messages.push({ role: "assistant", content: answer.text, ...(answer.toolCalls.length > 0 ? { toolCalls: answer.toolCalls } : {}) });
    if (answer.toolCalls.length === 0) {
      if (answer.finishReason === "length") return result("max_tokens", text, model, turn);
      return result("stop", text, model, turn);
    }
    const outcomes = await Promise.all(
      answer.toolCalls.map((call, index) => runToolCall(options, tools, call, { turn, index, signal, now })),
    );
    if (signal.aborted) throw toError(signal.reason);
    outcomes.forEach((record, index) => {
      const call = answer.toolCalls[index] as ToolCall;
      records.push(record);
      messages.push({ role: "tool", content: record.content, toolCallId: call.id, name: call.name });
    });
    if (options.maxTokens !== undefined && usage.inputTokens + usage.outputTokens >= options.maxTokens) {
      return result("max_tokens", text, model, turn);
    }
  }
  return result("max_turns", text, model, maxTurns);
}

interface CallContext {
  turn: number;
  index: number;
  signal: AbortSignal;
  now: () => number;
}

/** Runs one tool call to a record; never throws (a failure is the model's to read), except on abort. */
async function runToolCall(
  options: AgentLoopOptions,
  tools: Map<string, AgentTool>,
  call: ToolCall,
  context: CallContext,
): Promise<ToolCallRecord> {
  const started = context.now();
  const limit = options.maxToolResultChars ?? DEFAULT_MAX_TOOL_RESULT_CHARS;
  const record: ToolCallRecord = {
    turn: context.turn,
    id: call.id,
    name: call.name,
    arguments: call.arguments,
    decision: "invalid",
    ok: false,
    content: "",
    durationMs: 0,
  };
  const finish = (ok: boolean, content: string, error?: string): ToolCallRecord => {
    record.ok = ok;
    record.content = capText(content, limit);
    if (error !== undefined) record.error = error;
    record.durationMs = context.now() - started;
    auditToolCall(options, record);
    emit(options, { type: "tool-call", record });
    return record;
  };
  const tool = tools.get(call.name);
  if (!tool) {
    const known = [...tools.keys()].join(", ") || "none";
    const message = `unknown tool "${call.name}"; the tools available are: ${known}`;
    return finish(false, `error: ${message}`, message);
  }
  const problems = validateToolArguments(tool.definition, call.arguments);
  if (problems) {
    const message = `invalid arguments for ${call.name}: ${problems}`;
    return finish(false, `error: ${message}`, message);
  }
  let decision: ToolDecision = { decision: "allow" };
  const hookContext = { tool, turn: context.turn, index: context.index };
  try {
    if (options.beforeToolCall) decision = await options.beforeToolCall(call, hookContext);
    record.decision = decision.decision;
    if (decision.rule) record.rule = decision.rule;
    if (decision.decision === "deny") {
      const message = `${call.name} call denied by policy${decision.rule ? ` (rule ${decision.rule})` : ""}: ${decision.reason}`;
      return finish(false, `error: ${message}`, message);
    }
    if (decision.decision === "ask") {
      const answer = options.approve ? await options.approve(call, decision, { ...hookContext, signal: context.signal }) : "deny";
      record.approval = answer;
      if (answer !== "approve") {
        const message = `${call.name} call needs approval${decision.rule ? ` (rule ${decision.rule})` : ""}${decision.reason ? `: ${decision.reason}` : ""}; it was not approved`;
        return finish(false, `error: ${message}`, message);
      }
    }
  } catch (error) {
    if (context.signal.aborted) throw toError(context.signal.reason);
    const message = `${call.name} call could not be checked: ${errorMessage(error)}`;
    return finish(false, `error: ${message}`, message);
  }
  try {
    const reportDecision = (reported: { decision: "allow" | "deny" | "ask"; rule?: string; approval?: "approve" | "deny" }): void => {
      // A check further down refines an allow; what the hook decided otherwise stands.
      if (record.decision === "allow") record.decision = reported.decision;
      else if (record.decision !== reported.decision) return;
      if (reported.rule && !record.rule) record.rule = reported.rule;
      if (reported.approval && !record.approval) record.approval = reported.approval;
    };
    const value = await untilAborted(
      tool.execute(call.arguments, { turn: context.turn, index: context.index, call, signal: context.signal, reportDecision }),
      context.signal,
    );
    return finish(true, toContent(value));
  } catch (error) {
    if (context.signal.aborted) throw toError(context.signal.reason);
    if (error instanceof LocalAgentError && error.code === "policy_denied") {
      // Denied further down (the policy middleware of a nested step): an ask that was not approved stays an ask.
      if (record.decision === "allow") record.decision = "deny";
      if (!record.rule && typeof error.details.rule === "string") record.rule = error.details.rule;
    }
    const message = errorMessage(error);
    return finish(false, `error: ${message}`, message);
  }
}

/** A tool that ignores the signal must not keep the loop (and its run) from ending. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(toError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(toError(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function toContent(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  return JSON.stringify(value);
}

function capText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}\n[cut: ${text.length - limit} more characters]`;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function emit(options: AgentLoopOptions, event: AgentLoopEvent): void {
  options.onEvent?.(event);
  if (!options.events) return;
  const actor = options.actor ?? {};
  const where = {
    ...(actor.run ? { runId: actor.run } : {}),
    ...(actor.workflow ? { workflow: actor.workflow } : {}),
    ...(actor.step ? { step: actor.step } : {}),
    ...(actor.conversation ? { conversation: actor.conversation } : {}),
  };
  const at = (options.now ?? Date.now)();
  if (event.type === "turn") {
    options.events.emit({
      type: "agent-turn",
      ...where,
      turn: event.turn,
      model: event.model,
      provider: event.provider,
      finishReason: event.finishReason,
      inputTokens: event.usage.inputTokens,
      outputTokens: event.usage.outputTokens,
      toolCalls: event.toolCalls,
      durationMs: event.durationMs,
      at,
    });
    return;
  }
  const { record } = event;
  options.events.emit({
    type: "agent-tool-call",
    ...where,
    turn: record.turn,
    tool: record.name,
    callId: record.id,
    decision: record.decision,
    ok: record.ok,
    ...(record.error ? { error: record.error } : {}),
    durationMs: record.durationMs,
    at,
  });
}

function auditActor(options: AgentLoopOptions): { workflow?: string; run?: string; step?: string; user?: string } {
  const actor = options.actor ?? {};
  return {
    ...(actor.workflow ? { workflow: actor.workflow } : {}),
    ...(actor.run ? { run: actor.run } : {}),
    ...(actor.step ? { step: actor.step } : {}),
    ...(actor.user ? { user: actor.user } : actor.conversation ? { user: `conversation:${actor.conversation}` } : {}),
  };
}

/** The model that served, its provider, tokens and time (the audit's typed entry), plus the turn: never the prompt. */
function auditModelCall(options: AgentLoopOptions, turn: number, call: ModelCallAudit): void {
  if (options.auditModelCalls === false || !options.audit) return;
  const entry = modelCallEntry(
    {
      model: call.model,
      provider: options.model.provider,
      durationMs: call.durationMs,
      status: call.error === undefined ? "ok" : "error",
      ...(call.usage ? { inputTokens: call.usage.inputTokens, outputTokens: call.usage.outputTokens } : {}),
      ...(call.cached === undefined ? {} : { cached: call.cached }),
      ...(call.error === undefined ? {} : { error: call.error }),
    },
    auditActor(options),
  );
  options.audit.record({
    ...entry,
    details: {
      ...entry.details,
      turn,
      ...(call.finishReason ? { finishReason: call.finishReason } : {}),
      ...(call.toolCalls ? { toolCalls: call.toolCalls } : {}),
    },
  });
}

interface ModelCallAudit {
  model: string;
  durationMs: number;
  usage?: Usage;
  cached?: boolean;
  finishReason?: string;
  toolCalls?: string[];
  error?: string;
}

/**
 * The tool, a summary of its arguments (secret-looking keys redacted), the decision and the
 * status (the audit's typed entry), plus the turn, the call id and an ask's approval. A call the
 * loop refused before any policy (unknown tool, invalid arguments) is a deny by rule `agent.invalid-call`.
 */
function auditToolCall(options: AgentLoopOptions, record: ToolCallRecord): void {
  if (!options.audit) return;
  const ran = record.ok || (record.decision !== "invalid" && record.decision !== "deny" && record.approval !== "deny");
  const entry = toolCallEntry(
    {
      tool: record.name,
      arguments: record.arguments,
      decision: record.decision === "invalid" ? "deny" : record.decision,
      status: record.ok ? "ok" : ran ? "error" : "denied",
      durationMs: record.durationMs,
      ...(record.decision === "invalid" ? { rule: "agent.invalid-call" } : record.rule ? { rule: record.rule } : {}),
      ...(record.error ? { error: record.error } : {}),
    },
    auditActor(options),
  );
  options.audit.record({
    ...entry,
    details: { ...entry.details, turn: record.turn, callId: record.id, ...(record.approval ? { approval: record.approval } : {}) },
  });
}
