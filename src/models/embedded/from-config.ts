import type { ResolvedConfig } from "../../config/index.js";
import { LocalAgentError } from "../../errors/index.js";
import type { Logger } from "../../logger/index.js";
import { formatBytes, ModelAllocator } from "./allocator.js";
import { embeddedModelEntrySchema } from "./config.js";
import { createEmbeddedModel, type EmbeddedModel } from "./embedded-model.js";

/** The name `--model-path` / `model_path:` registers its model under. */
export const DEFAULT_EMBEDDED_MODEL_NAME = "default";

export interface EmbeddedModels {
  /** One budget for every embedded model of the daemon. */
  allocator: ModelAllocator;
  /** By configured name; `default` for `--model-path`. */
  models: Map<string, EmbeddedModel>;
}

/**
 * The embedded models of a configuration: `model_path` (named `default`, serving every task type) and every
 * `models:` entry with `provider: embedded`, all charged to one allocator. Nothing is imported or loaded here:
 * node-llama-cpp is imported on a model's first request.
 */
export function createEmbeddedModels(
  config: Pick<ResolvedConfig, "configDir" | "configFile" | "modelPath" | "memoryLimitBytes" | "allocatorWeights" | "extensions">,
  options: { logger?: Logger } = {},
): EmbeddedModels {
  const logger = options.logger;
  const allocator = new ModelAllocator({
    ...(config.memoryLimitBytes !== undefined ? { budgetBytes: config.memoryLimitBytes } : {}),
    ...(config.allocatorWeights ? { weights: config.allocatorWeights } : {}),
    onEvent: (event) =>
      event.type === "model-loaded"
        ? logger?.info({ model: event.name, ...event.footprint, used: formatBytes(event.usedBytes) }, "model loaded into the memory budget")
        : logger?.info({ model: event.name, reason: event.reason, freed: formatBytes(event.freedBytes) }, "model unloaded"),
  });
  const models = new Map<string, EmbeddedModel>();
  const deps = { allocator, baseDir: config.configDir, ...(logger ? { logger } : {}) };
  if (config.modelPath !== undefined) {
    models.set(
      DEFAULT_EMBEDDED_MODEL_NAME,
      createEmbeddedModel(DEFAULT_EMBEDDED_MODEL_NAME, { provider: "embedded", path: config.modelPath }, { ...deps, taskTypes: [] }),
    );
  }
  const entries = (config.extensions.models ?? {}) as Record<string, unknown>;
  const routing = (config.extensions.routing ?? {}) as Record<string, unknown>;
  for (const [name, entry] of Object.entries(entries)) {
    if ((entry as { provider?: unknown } | null)?.provider !== "embedded") continue;
    const parsed = embeddedModelEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = ["models", name, ...(issue?.path ?? [])].join(".");
      throw new LocalAgentError("config_invalid", `${config.configFile ?? "config.yaml"}: ${field}: ${issue?.message ?? "invalid"}`);
    }
    models.set(name, createEmbeddedModel(name, parsed.data, { ...deps, taskTypes: taskTypesOf(name, routing) }));
  }
  return { allocator, models };
}

/** The task types whose routing list names this model. */
export function taskTypesOf(name: string, routing: Record<string, unknown>): string[] {
  return Object.entries(routing)
    .filter(([, list]) => Array.isArray(list) && list.includes(name))
    .map(([taskType]) => taskType);
}
