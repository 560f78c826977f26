import { mkdirSync } from "node:fs";
import type { StepContext, StepResult } from "../engine/index.js";
import { LocalAgentError } from "../errors/index.js";
import { stringify } from "../expression/index.js";
import type { ChatMessage, GenerateResult, LanguageModel } from "../models/types.js";
import { runAgentLoop } from "./agent-loop.js";
import { createReadFileTool, createWriteFileTool } from "./tools/file-tools.js";
import { createHttpTool, createNotifyTool, createRunWorkflowTool, createShellTool } from "./tools/step-tools.js";
import type { AgentLoopResult, AgentTool } from "./types.js";

/** The built-in tools an `ai` step may name in `tools:`. */
export const BUILTIN_TOOL_NAMES = ["shell", "http", "read_file", "write_file", "notify", "run_workflow"] as const;
export type BuiltinToolName = (typeof BUILTIN_TOOL_NAMES)[number];

/** The fields of the `ai` step the tools path reads (the models layer owns the step's schema). */
export interface AiToolsStepConfig {
  prompt: unknown;
  system?: string;
  tools?: unknown;
  temperature?: number;
  max_tokens?: number;
  max_turns?: number;
}

export interface AiStepToolsOptions {
  /** Folders besides the workspace that read_file / write_file may use. */
  fileRoots?: readonly string[];
  /** false when the model audits its own calls (the router does). */
  auditModelCalls?: boolean;
}

/**
 * Parses `tools:` — `all` (every built-in), or a list of built-in names, `all`, `mcp:SERVER` and
 * `mcp:SERVER/TOOL` — into built-in names and MCP selectors. Unknown names are refused with the step's name.
 */
export function parseToolSelection(tools: unknown, step: string): { builtins: BuiltinToolName[]; mcp: string[] } {
  const entries = tools === "all" ? ["all"] : tools;
  if (!Array.isArray(entries)) {
    throw new LocalAgentError("step_failed", `ai step "${step}": tools: must be "all" or a list of tool names (got ${stringify(tools)})`);
  }
  const builtins = new Set<BuiltinToolName>();
  const mcp: string[] = [];
  for (const entry of entries) {
    if (entry === "all") BUILTIN_TOOL_NAMES.forEach((name) => builtins.add(name));
    else if (typeof entry === "string" && (BUILTIN_TOOL_NAMES as readonly string[]).includes(entry)) builtins.add(entry as BuiltinToolName);
    else if (typeof entry === "string" && /^mcp:[^/\s]+(\/\S+)?$/.test(entry)) mcp.push(entry);
    else {
      throw new LocalAgentError(
        "step_failed",
        `ai step "${step}": unknown tool ${JSON.stringify(entry)} in tools: (built-in: ${BUILTIN_TOOL_NAMES.join(", ")}, all; MCP: mcp:SERVER or mcp:SERVER/TOOL)`,
      );
    }
  }
  return { builtins: [...builtins], mcp };
}

/** The tools a step asked for, ready for the loop (MCP servers are connected here, on first use). */
export async function createStepTools(context: StepContext, selection: unknown, options: AiStepToolsOptions = {}): Promise<AgentTool[]> {
  const { builtins, mcp } = parseToolSelection(selection, context.path);
  const { settings } = context.services;
  // The folder the workflow's shell steps run in, so a file the model writes is where its commands look.
  const workspace = settings.workflowWorkspace?.(context.workflow.name) ?? settings.workspaceDir;
  const roots = [workspace, ...(options.fileRoots ?? [])];
  if (builtins.includes("read_file") || builtins.includes("write_file")) mkdirSync(workspace, { recursive: true });
  const factories: Record<BuiltinToolName, () => AgentTool> = {
    shell: () => createShellTool(context),
    http: () => createHttpTool(context),
    read_file: () => createReadFileTool({ roots }),
    write_file: () => createWriteFileTool({ roots }),
    notify: () => createNotifyTool(context),
    run_workflow: () => createRunWorkflowTool(context),
  };
  const tools = builtins.map((name) => factories[name]());
  for (const selector of mcp) {
    const source = context.services.mcp;
    if (!source) {
      throw new LocalAgentError("step_failed", `ai step "${context.path}": tools: names ${selector}, but config.yaml has no mcp: servers`);
    }
    for (const external of await source.tools(selector, context.signal)) {
      tools.push({ definition: external.definition, execute: (args, execution) => external.call(args, execution.signal) });
    }
  }
  const seen = new Set<string>();
  return tools.filter((tool) => !seen.has(tool.definition.name) && seen.add(tool.definition.name));
}

/** What a step's agent loop is given besides the step: the conversation so far and the limits. */
export interface StepAgentLoopRequest {
  messages: ChatMessage[];
  tools: unknown;
  temperature?: number;
  /** Token budget of the whole loop (the step's `max_tokens`). */
  maxTokens?: number;
  maxTurns?: number;
}

/**
 * The agent loop for a workflow step: the tools the step named, the command policy (through the
 * nested shell steps), the audit log and the event bus, the step's signal. Resolves only when the
 * model answered; a model failure rejects as the model failed, and a loop that ends at a limit
 * rejects (non-retryable) with what it did.
 */
export async function runStepAgentLoop(
  context: StepContext,
  model: LanguageModel,
  request: StepAgentLoopRequest,
  options: AiStepToolsOptions = {},
): Promise<AgentLoopResult> {
  const { services } = context;
  const tools = await createStepTools(context, request.tools, options);
  const result = await runAgentLoop({
    model,
    messages: request.messages,
    tools,
    ...(request.maxTurns === undefined ? {} : { maxTurns: request.maxTurns }),
    ...(request.maxTokens === undefined ? {} : { maxTokens: request.maxTokens }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    signal: context.signal,
    events: services.events,
    ...(services.audit ? { audit: services.audit } : {}),
    ...(options.auditModelCalls === false ? { auditModelCalls: false } : {}),
    actor: { workflow: context.workflow.name, run: context.runId, step: context.path },
    now: () => services.clock.now(),
  });
  if (result.outcome === "error") throw result.error ?? new LocalAgentError("step_failed", `ai step "${context.path}": the model failed`);
  if (result.outcome !== "stop") throw limitError(context.path, result);
  return result;
}

/** The loop's result in the model contract's shape, for an `ai` step that builds its output from a GenerateResult. */
export function toGenerateResult(result: AgentLoopResult): GenerateResult {
  return { text: result.text, toolCalls: [], finishReason: "stop", usage: { ...result.usage }, model: result.model };
}

/**
 * The `ai` step with `tools:`: runs the agent loop with the (routed) model.
 * `max_turns` bounds the model calls (default 10), `max_tokens` the tokens of the whole loop.
 * Output: `{ text, outcome, turns, model, usage, tool_calls }`.
 */
export async function runAiStepWithTools(
  context: StepContext<AiToolsStepConfig>,
  model: LanguageModel,
  options: AiStepToolsOptions = {},
): Promise<StepResult> {
  const { config } = context;
  const messages: ChatMessage[] = [];
  if (config.system) messages.push({ role: "system", content: config.system });
  messages.push({ role: "user", content: stringify(config.prompt) });
  const result = await runStepAgentLoop(
    context as unknown as StepContext,
    model,
    {
      messages,
      tools: config.tools,
      ...(config.max_turns === undefined ? {} : { maxTurns: config.max_turns }),
      ...(config.max_tokens === undefined ? {} : { maxTokens: config.max_tokens }),
      ...(config.temperature === undefined ? {} : { temperature: config.temperature }),
    },
    options,
  );
  return { output: stepOutput(result) };
}

function stepOutput(result: AgentLoopResult): Record<string, unknown> {
  return {
    text: result.text,
    outcome: result.outcome,
    turns: result.turns,
    model: result.model,
    usage: { input_tokens: result.usage.inputTokens, output_tokens: result.usage.outputTokens },
    tool_calls: result.toolCalls.map((call) => ({
      name: call.name,
      ok: call.ok,
      decision: call.decision,
      ...(call.error ? { error: call.error } : {}),
    })),
  };
}

function limitError(path: string, result: AgentLoopResult): LocalAgentError {
  const why =
    result.outcome === "max_turns"
      ? `the model was still calling tools after ${result.turns} turns (max_turns)`
      : `the token budget was used up (max_tokens; ${result.usage.inputTokens + result.usage.outputTokens} tokens over ${result.turns} turns)`;
  return new LocalAgentError("step_failed", `ai step "${path}": ${why}; ${result.toolCalls.length} tool calls ran`, {
    details: { outcome: result.outcome, output: stepOutput(result) },
  });
}
