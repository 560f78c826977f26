import type { ModelAccess, StepContext } from "../engine/index.js";
import { LocalAgentError } from "../errors/index.js";
import type { GenerateRequest, GenerateResult, LanguageModel } from "../models/types.js";
import { runStepAgentLoop, toGenerateResult } from "./ai-step-tools.js";

/** The fields of the ai step the loop reads besides the request the step built. */
interface AiStepFields {
  tools?: unknown;
  max_turns?: number;
}

/**
 * The router as a LanguageModel for one step: every call of the loop goes through routing,
 * fallback, cache and the router's own `model-call` audit entry, for the step's `model:` and caller.
 */
export function routedModel(models: ModelAccess, request: GenerateRequest): LanguageModel {
  const fixed: Partial<GenerateRequest> = {
    ...(request.model !== undefined ? { model: request.model } : {}),
    ...(request.cache === false ? { cache: false } : {}),
    ...(request.caller ? { caller: request.caller } : {}),
  };
  return {
    specificationVersion: 1,
    name: request.model ?? "general",
    provider: "router",
    generate: (call) => models.generate({ ...call, ...fixed }),
    stream: (call) => models.stream({ ...call, ...fixed }),
  };
}

/**
 * The `tools:` path of the ai step (given to it as `StepServices.agentLoop`): the agent loop on the routed
 * model. The step's `max_tokens` is the loop's token budget; `json:` is left to the final answer
 * (the step parses it), so tool-calling turns are not forced into JSON.
 */
export async function agentToolLoop(context: StepContext<AiStepFields>, request: GenerateRequest): Promise<GenerateResult> {
  const models = context.services.models;
  if (!models) throw new LocalAgentError("no_model_provider", `ai step "${context.path}": no model router in this process`);
  const result = await runStepAgentLoop(
    context as unknown as StepContext,
    routedModel(models, request),
    {
      messages: request.messages,
      tools: context.config.tools,
      ...(context.config.max_turns === undefined ? {} : { maxTurns: context.config.max_turns }),
      ...(request.maxTokens === undefined ? {} : { maxTokens: request.maxTokens }),
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    },
    { auditModelCalls: false },
  );
  return toGenerateResult(result);
}
