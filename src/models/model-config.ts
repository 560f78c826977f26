import { createHash } from "node:crypto";
import { isAbsolute, join } from "node:path";
import { resolveSecret } from "../config/index.js";
import { parseByteSize, parseDuration } from "../duration/index.js";
import type { ModelEntry, ModelsConfigInput } from "./config-schema.js";

/** One configured model, secrets read and durations parsed. */
export interface ResolvedModel {
  name: string;
  entry: ModelEntry;
  cooldownMs: number;
  /** Hash of the entry (key included): a changed entry gets a fresh model, health and cache keys. */
  fingerprint: string;
}

export interface ResolvedCacheConfig {
  enabled: boolean;
  ttlMs: number;
  maxEntries: number;
  maxBytes: number;
  warmup: Array<{ model: string; prompt: string; system?: string }>;
}

/** The model layer's configuration as the router and cache use it. */
export interface ResolvedModelsConfig {
  models: Record<string, ResolvedModel>;
  routing: Record<string, string[]>;
  cache: ResolvedCacheConfig;
}

export interface ResolveModelsOptions {
  /** Relative embedded `path:` values are against this directory. */
  configDir: string;
  env?: NodeJS.ProcessEnv;
  /** `--model-path`/`model_path`: registers an embedded model "default" serving every task type. */
  modelPath?: string;
  /** Where errors say the values came from (the config file, or `PUT /api/config/models`). */
  source?: string;
}

export const DEFAULT_COOLDOWN_MS = 30_000;

/** Resolves validated `models:`/`routing:`/`cache:` sections: `env:`/`file:` secrets read, defaults applied. */
export function resolveModelsConfig(input: ModelsConfigInput, options: ResolveModelsOptions): ResolvedModelsConfig {
  const env = options.env ?? process.env;
  const source = options.source ?? "config.yaml";
  const models: Record<string, ResolvedModel> = {};
  for (const [name, raw] of Object.entries(input.models ?? {})) {
    const entry: ModelEntry = { ...raw };
    if (entry.provider !== "embedded") {
      if (entry.api_key !== undefined) entry.api_key = resolveSecret(entry.api_key, env, `${source}: models.${name}.api_key`);
      if (entry.headers) {
        entry.headers = Object.fromEntries(
          Object.entries(entry.headers).map(([header, value]) => [
            header,
            resolveSecret(value, env, `${source}: models.${name}.headers.${header}`) ?? "",
          ]),
        );
      }
    } else if (!isAbsolute(entry.path)) {
      entry.path = join(options.configDir, entry.path);
    }
    models[name] = {
      name,
      entry,
      cooldownMs: entry.cooldown === undefined ? DEFAULT_COOLDOWN_MS : parseDuration(entry.cooldown),
      fingerprint: createHash("sha256").update(JSON.stringify(entry)).digest("hex").slice(0, 16),
    };
  }
  const routing: Record<string, string[]> = { ...(input.routing ?? {}) };
  if (options.modelPath !== undefined && models.default === undefined) {
    const entry: ModelEntry = { provider: "embedded", path: options.modelPath };
    models.default = {
      name: "default",
      entry,
      cooldownMs: DEFAULT_COOLDOWN_MS,
      fingerprint: createHash("sha256").update(JSON.stringify(entry)).digest("hex").slice(0, 16),
    };
  }
  const cache = input.cache ?? {};
  return {
    models,
    routing,
    cache: {
      enabled: cache.enabled ?? true,
      ttlMs: parseDuration(cache.ttl ?? "24h"),
      maxEntries: cache.max_entries ?? 1000,
      maxBytes: parseByteSize(cache.max_bytes ?? "64m"),
      warmup: (cache.warmup ?? []).map((item) => ({
        model: item.model,
        prompt: item.prompt,
        ...(item.system !== undefined ? { system: item.system } : {}),
      })),
    },
  };
}

/** The entry as shown to users: keys and header values replaced. */
export function redactEntry(entry: ModelEntry): Record<string, unknown> {
  const view: Record<string, unknown> = { ...entry };
  if ("api_key" in entry && entry.api_key !== undefined) view.api_key = "[redacted]";
  if ("headers" in entry && entry.headers)
    view.headers = Object.fromEntries(Object.keys(entry.headers).map((header) => [header, "[redacted]"]));
  return view;
}

/** Every secret value of the resolved config (for log and error redaction). */
export function modelSecrets(config: ResolvedModelsConfig): string[] {
  const secrets: string[] = [];
  for (const model of Object.values(config.models)) {
    const entry = model.entry;
    if (entry.provider === "embedded") continue;
    if (entry.api_key) secrets.push(entry.api_key);
    for (const value of Object.values(entry.headers ?? {})) secrets.push(value);
  }
  return secrets;
}
