import { z } from "zod";
import { isDuration } from "../duration/index.js";

/** Providers a model entry may name (`provider: embedded` is served by the embedded engine). */
export const MODEL_PROVIDERS = ["openai", "ollama", "anthropic", "embedded"] as const;

const durationSchema = z
  .union([z.string(), z.number().nonnegative()])
  .refine(isDuration, { message: "not a duration (examples: 500ms, 30s, 5m, 1h30m)" });

const baseUrlSchema = z
  .url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
  .describe("Where the server listens, e.g. http://127.0.0.1:8000/v1");

const cooldownSchema = durationSchema
  .optional()
  .describe("After a failure the router skips this model for this long, then lets one trial request through (default 30s)");

const secretSchema = z.string().min(1).describe("The API key; env:NAME reads it from the environment, file:/path from a file");

const httpFields = {
  base_url: baseUrlSchema,
  model: z.string().min(1).describe("The model id the server knows"),
  api_key: secretSchema.optional(),
  headers: z.record(z.string(), z.string()).optional().describe("Extra request headers (values may be env:NAME)"),
  timeout: durationSchema.optional().describe("Until the first byte, then the longest silence in a stream (default 60s)"),
  max_retries: z.number().int().min(0).max(10).optional().describe("Extra attempts on 429, 5xx and connection errors (default 2)"),
  cooldown: cooldownSchema,
};

export const openAiModelSchema = z
  .object({
    provider: z.literal("openai").describe("OpenAI-compatible chat completions (vLLM, llama.cpp, LM Studio, LocalAI, cloud)"),
    ...httpFields,
  })
  .strict();

export const ollamaModelSchema = z
  .object({
    provider: z.literal("ollama").describe("Ollama's native /api/chat"),
    ...httpFields,
    keep_alive: z.string().optional().describe("How long Ollama keeps the model loaded (Ollama's own syntax, e.g. 5m)"),
  })
  .strict();

export const anthropicModelSchema = z
  .object({
    provider: z.literal("anthropic").describe("Anthropic Messages API"),
    ...httpFields,
    max_tokens: z.number().int().positive().optional().describe("Default max_tokens (the API requires one; default 1024)"),
  })
  .strict();

export const embeddedModelSchema = z
  .object({
    provider: z.literal("embedded").describe("In-process GGUF through node-llama-cpp"),
    path: z.string().min(1).describe("The GGUF file (relative to the config directory)"),
    quantization: z
      .string()
      .optional()
      .describe("Expected precision (Q4_K_M, Q8_0, F16, …); the file's general.file_type is what runs, a mismatch is reported"),
    context_size: z.number().int().positive().optional().describe("Context window in tokens (default: the model's, at most 4096)"),
    gpu: z
      .union([z.literal("auto"), z.boolean(), z.number().int().min(0), z.string().regex(/^\d+$/)])
      .optional()
      .describe("auto (default) offloads to a GPU when present; false: CPU only; a number: at most that many layers on the GPU"),
    threads: z
      .union([z.literal("auto"), z.number().int().positive()])
      .optional()
      .describe("Evaluation threads; auto (default) is the physical cores this process may use"),
    cooldown: cooldownSchema,
  })
  .strict();

/** One entry under `models:`, chosen by its `provider:`. */
export const modelEntrySchema = z.discriminatedUnion(
  "provider",
  [openAiModelSchema, ollamaModelSchema, anthropicModelSchema, embeddedModelSchema],
  {
    error: (issue) =>
      issue.code === "invalid_union"
        ? `unknown provider ${JSON.stringify((issue.input as { provider?: unknown } | undefined)?.provider ?? null)} (known: ${MODEL_PROVIDERS.join(", ")})`
        : undefined,
  },
);

export type ModelEntry = z.infer<typeof modelEntrySchema>;

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export const modelsSchema = z
  .record(z.string().regex(namePattern, { message: "model names use letters, digits, _ . : -" }), modelEntrySchema)
  .describe("Named models: { NAME: { provider, … } }");

export const routingSchema = z
  .record(z.string().regex(namePattern, { message: "task types use letters, digits, _ . : -" }), z.array(z.string().min(1)).min(1))
  .describe("Task type → ordered model names: the first healthy one serves, failures fall through");

export const warmupEntrySchema = z
  .object({
    model: z.string().min(1).describe("A task type or a model name"),
    prompt: z.string().min(1),
    system: z.string().optional(),
  })
  .strict();

export const cacheSchema = z
  .object({
    enabled: z.boolean().optional().describe("Answer identical requests from the result cache (default true)"),
    ttl: durationSchema.optional().describe("How long an answer stays valid (default 24h)"),
    max_entries: z.number().int().positive().optional().describe("Entries kept (default 1000)"),
    max_bytes: z.union([z.string(), z.number()]).optional().describe("Memory the cached answers may take (default 64m)"),
    warmup: z.array(warmupEntrySchema).optional().describe("Prompts run at start (in the background) to fill the cache"),
  })
  .strict()
  .describe("The model result cache");

/** The sections `PUT /api/config/models` accepts. */
export const modelsConfigSchema = z
  .object({
    models: modelsSchema.optional(),
    routing: routingSchema.optional(),
    cache: cacheSchema.optional(),
  })
  .strict();

export type ModelsConfigInput = z.infer<typeof modelsConfigSchema>;

/**
 * Cross-field checks: every model named in routing and in the warm-up list exists. Paths point at the
 * offending entry so the config loader reports file:line:column.
 */
export function checkModelReferences(
  config: {
    models?: Record<string, unknown> | undefined;
    routing?: Record<string, string[]> | undefined;
    cache?: { warmup?: Array<{ model: string }> | undefined } | undefined;
    model_path?: string | undefined;
  },
  context: z.RefinementCtx,
): void {
  const models = config.models ?? {};
  const routing = config.routing ?? {};
  // --model-path / model_path registers an embedded model named "default".
  const known = (name: string): boolean => Object.hasOwn(models, name) || (name === "default" && config.model_path !== undefined);
  for (const [task, names] of Object.entries(routing)) {
    names.forEach((name, index) => {
      if (!known(name)) {
        context.addIssue({
          code: "custom",
          path: ["routing", task, index],
          message: `no model named "${name}" under models:${Object.keys(models).length > 0 ? ` (have: ${Object.keys(models).join(", ")})` : ""}`,
        });
      }
    });
  }
  (config.cache?.warmup ?? []).forEach((entry, index) => {
    if (!known(entry.model) && !Object.hasOwn(routing, entry.model)) {
      context.addIssue({
        code: "custom",
        path: ["cache", "warmup", index, "model"],
        message: `"${entry.model}" is neither a task type under routing: nor a model under models:`,
      });
    }
  });
}
