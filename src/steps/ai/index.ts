import { z } from "zod";
import type { StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";

/**
 * Placeholder `ai` step: the model layer registers the real runner under the same type.
 * Until then a workflow with an `ai` step validates, and the step fails with a clear error.
 */
export const unconfiguredAiStep: StepRunner = {
  type: "ai",
  configShape: {
    model: z.string().optional().describe("A task type of the routing matrix (code_gen, general, …) or a model name"),
    prompt: z.string().describe("The prompt; may use templates"),
    system: z.string().optional(),
    tools: z
      .union([z.literal("all"), z.array(z.string())])
      .optional()
      .describe(
        "Tools the model may call: all, or names (shell, http, read_file, write_file, notify, run_workflow, mcp:SERVER, mcp:SERVER/TOOL)",
      ),
    temperature: z.number().optional(),
    max_tokens: z.number().int().positive().optional(),
    max_turns: z.number().int().positive().optional(),
    json: z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(),
    cache: z.boolean().optional(),
  },
  run(context) {
    return Promise.reject(
      new LocalAgentError(
        "no_model_provider",
        `no model provider configured: step "${context.step.name}" asks for model "${String(context.config.model ?? "general")}"; add models: and routing: to config.yaml, or start with --model-path FILE.gguf`,
      ),
    );
  },
};
