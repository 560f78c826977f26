import { z } from "zod";
import type { StepContext, StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";
import type { ChatMessage, GenerateRequest, GenerateResult } from "../../models/index.js";
import { checkPayloadSchema, validatePayload } from "../../workflow/index.js";

export interface AiConfig {
  model?: string;
  prompt: string;
  system?: string;
  tools?: "all" | string[];
  temperature?: number;
  max_tokens?: number;
  max_turns?: number;
  json?: boolean | Record<string, unknown>;
  cache?: boolean;
}

/** What an `ai` step outputs (`steps.NAME.output.text`, `.json`, `.model`, …). */
export interface AiOutput {
  text: string;
  /** The parsed answer when `json:` was set. */
  json?: unknown;
  /** The model that served (after routing and fallback). */
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  cached: boolean;
  finish_reason: GenerateResult["finishReason"];
}

/**
 * `ai`: one prompt through the routing matrix (`model:` names a task type or a model; fallback,
 * cache and audit come with the router). With `json:` the answer is parsed (and validated against
 * the schema when one is given).
 */
export const aiStep: StepRunner<AiConfig> = {
  type: "ai",
  configShape: {
    model: z.string().optional().describe("A task type of the routing matrix (code_gen, general, …) or a model name"),
    prompt: z.string().describe("The prompt; may use templates"),
    system: z.string().optional().describe("The system prompt; may use templates"),
    tools: z
      .union([z.literal("all"), z.array(z.string())])
      .optional()
      .describe(
        "Tools the model may call (agent loop): all, or names (shell, http, read_file, write_file, notify, run_workflow, mcp:SERVER, mcp:SERVER/TOOL)",
      ),
    temperature: z.number().min(0).max(2).optional(),
    max_tokens: z.number().int().positive().optional(),
    max_turns: z.number().int().positive().optional(),
    json: z
      .union([z.boolean(), z.record(z.string(), z.unknown())])
      .optional()
      .describe("true: the answer must be a JSON object; a JSON Schema: it must also match it. Parsed into output.json"),
    cache: z.boolean().optional().describe("false: never answer this step from the result cache"),
  },
  async run(context) {
    const { config, step } = context;
    const models = context.services.models;
    if (!models?.configured) {
      throw new LocalAgentError(
        "no_model_provider",
        `no model provider configured: step "${step.name}" asks for model "${config.model ?? "general"}"; add models: and routing: to config.yaml, or start with --model-path FILE.gguf`,
      );
    }
    if (config.json && typeof config.json === "object") {
      const problems = checkPayloadSchema(config.json);
      if (problems.length > 0)
        throw new LocalAgentError(
          "step_failed",
          `ai step "${step.name}": json: is not a valid JSON Schema: ${problems.map((problem) => problem.message).join("; ")}`,
        );
    }
    const messages: ChatMessage[] = [];
    if (config.system) messages.push({ role: "system", content: config.system });
    messages.push({ role: "user", content: config.prompt });
    const request: GenerateRequest = {
      messages,
      signal: context.signal,
      caller: { workflow: context.workflow.name, run: context.runId, step: context.path },
      ...(config.model !== undefined ? { model: config.model } : {}),
      ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
      ...(config.max_tokens !== undefined ? { maxTokens: config.max_tokens } : {}),
      ...(config.json !== undefined && config.json !== false ? { json: config.json } : {}),
      ...(config.cache === false ? { cache: false } : {}),
    };
    let result: GenerateResult;
    if (config.tools && config.tools.length > 0) {
      // The agent loop comes with the step services (src/agent, wired by the runtime); without it the
      // step fails clearly instead of answering without its tools.
      const agentLoop = context.services.agentLoop;
      if (!agentLoop)
        throw new LocalAgentError("step_failed", `ai step "${step.name}": tools: needs the agent loop, which this build does not have`);
      result = await agentLoop(context as unknown as StepContext, request);
    } else {
      result = await models.generate(request);
    }
    const output: AiOutput = {
      text: result.text,
      model: result.model,
      usage: { input_tokens: result.usage.inputTokens, output_tokens: result.usage.outputTokens },
      cached: result.cached === true,
      finish_reason: result.finishReason,
    };
    if (config.json) output.json = parseAnswer(step.name, result, config.json);
    return { output };
  },
};

/** Parses a JSON answer (a ```json fence is tolerated) and validates it against the step's schema. */
function parseAnswer(stepName: string, result: GenerateResult, json: true | Record<string, unknown>): unknown {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(result.text);
  const text = fenced?.[1] ?? result.text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LocalAgentError(
      "step_failed",
      `ai step "${stepName}": model "${result.model}" did not answer with JSON: ${text.slice(0, 200)}`,
      { retryable: true },
    );
  }
  if (json !== true) {
    const errors = validatePayload(json, value);
    if (errors.length > 0) {
      const reasons = errors.map((error) => `answer${error.instancePath} ${error.message}`).join("; ");
      throw new LocalAgentError(
        "step_failed",
        `ai step "${stepName}": the answer of model "${result.model}" does not match json: ${reasons}`,
        {
          retryable: true,
        },
      );
    }
  }
  return value;
}
