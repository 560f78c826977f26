import { parseDuration } from "../duration/index.js";
import type { Logger } from "../logger/index.js";
import type { ModelEntry } from "./config-schema.js";
import { ModelAllocator } from "./embedded/allocator.js";
import { createEmbeddedModel } from "./embedded/embedded-model.js";
import { ModelError } from "./model-error.js";
import { AnthropicModel } from "./providers/anthropic.js";
import type { HttpModelSettings, ProviderDeps } from "./providers/http-transport.js";
import { OllamaModel } from "./providers/ollama.js";
import { OpenAiModel } from "./providers/openai.js";
import type { LanguageModel } from "./types.js";

/** What a provider factory gets besides its entry. */
export interface ModelFactoryDeps extends ProviderDeps {
  logger?: Logger;
  /** The memory budget for embedded models (`memory_limit:` / `--memory-limit`). */
  memoryLimitBytes?: number;
  /** The daemon's one allocator for embedded models (default: one per process and budget). */
  allocator?: ModelAllocator;
  /** Task types routing sends to this model (the allocator's weights); empty or absent: all. */
  taskTypes?: readonly string[];
}

const processAllocators = new Map<number | undefined, ModelAllocator>();

/** One allocator per budget in this process, for callers that do not bring one (the CLI's `models` commands). */
function processAllocator(budgetBytes: number | undefined): ModelAllocator {
  let allocator = processAllocators.get(budgetBytes);
  if (!allocator) {
    allocator = new ModelAllocator(budgetBytes === undefined ? {} : { budgetBytes });
    processAllocators.set(budgetBytes, allocator);
  }
  return allocator;
}

/** Builds one configured model. Keyed by `provider:` in the registry. */
export type ModelFactory = (name: string, entry: ModelEntry, deps: ModelFactoryDeps) => LanguageModel;

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_RETRIES = 2;

function httpSettings(name: string, entry: Exclude<ModelEntry, { provider: "embedded" }>): HttpModelSettings {
  return {
    name,
    baseUrl: entry.base_url,
    model: entry.model,
    ...(entry.api_key !== undefined ? { apiKey: entry.api_key } : {}),
    ...(entry.headers ? { headers: entry.headers } : {}),
    timeoutMs: entry.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(entry.timeout),
    maxRetries: entry.max_retries ?? DEFAULT_MAX_RETRIES,
  };
}

const factories = new Map<string, ModelFactory>([
  ["openai", (name, entry, deps) => new OpenAiModel(httpSettings(name, entry as Extract<ModelEntry, { provider: "openai" }>), deps)],
  [
    "ollama",
    (name, entry, deps) => {
      const ollama = entry as Extract<ModelEntry, { provider: "ollama" }>;
      return new OllamaModel(
        { ...httpSettings(name, ollama), ...(ollama.keep_alive !== undefined ? { keepAlive: ollama.keep_alive } : {}) },
        deps,
      );
    },
  ],
  [
    "anthropic",
    (name, entry, deps) => {
      const anthropic = entry as Extract<ModelEntry, { provider: "anthropic" }>;
      return new AnthropicModel(
        { ...httpSettings(name, anthropic), ...(anthropic.max_tokens !== undefined ? { maxTokens: anthropic.max_tokens } : {}) },
        deps,
      );
    },
  ],
  [
    "embedded",
    // node-llama-cpp is imported on the model's first request, not here.
    (name, entry, deps) =>
      createEmbeddedModel(name, entry as Extract<ModelEntry, { provider: "embedded" }>, {
        allocator: deps.allocator ?? processAllocator(deps.memoryLimitBytes),
        ...(deps.logger ? { logger: deps.logger } : {}),
        ...(deps.taskTypes ? { taskTypes: deps.taskTypes } : {}),
      }),
  ],
]);

/**
 * Adds or replaces a provider factory (the embedded engine registers `embedded`; tests may add
 * scripted providers).
 */
export function registerModelProvider(provider: string, factory: ModelFactory): void {
  factories.set(provider, factory);
}

/** The providers a `provider:` field may name. */
export function modelProviders(): string[] {
  return [...factories.keys()].sort();
}

/** Builds the model a `models:` entry describes. */
export function createModel(name: string, entry: ModelEntry, deps: ModelFactoryDeps = {}): LanguageModel {
  const factory = factories.get(entry.provider);
  if (!factory)
    return new UnavailableModel(name, entry.provider, `no provider "${entry.provider}" (known: ${modelProviders().join(", ")})`);
  return factory(name, entry, deps);
}

/** A configured model that cannot serve here: every call fails with the reason (the router falls through). */
export class UnavailableModel implements LanguageModel {
  readonly specificationVersion = 1 as const;

  constructor(
    readonly name: string,
    readonly provider: string,
    private readonly reason: string,
  ) {}

  generate(): Promise<never> {
    return Promise.reject(this.error());
  }

  async *stream(): AsyncGenerator<never> {
    throw this.error();
  }

  private error(): ModelError {
    return new ModelError("model_missing", `model "${this.name}" (${this.provider}): ${this.reason}`, {
      model: this.name,
      provider: this.provider,
    });
  }
}
