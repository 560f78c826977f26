import { createHash } from "node:crypto";
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { z } from "zod";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import { modelCallEntry, type AuditInput } from "../audit/index.js";
import type { Logger } from "../logger/index.js";
import type { Store } from "../store/index.js";
import { checkModelReferences, modelsConfigSchema, type ModelsConfigInput } from "./config-schema.js";
import { redactEntry, resolveModelsConfig, type ResolvedModelsConfig, type ResolveModelsOptions } from "./model-config.js";
import { createModel, type ModelFactoryDeps } from "./registry.js";
import { ResultCache, type CacheStats } from "./result-cache.js";
import { ModelRouter, RoutingTable, type ModelCallRecord, type RoutedModel } from "./router.js";
import type { GenerateRequest, GenerateResult, LanguageModel, StreamPart } from "./types.js";

/** Where model-call audit entries go (the audit log's `record`). */
export interface ModelAuditSink {
  record(entry: AuditInput): unknown;
}

export interface ModelServiceOptions extends Omit<ResolveModelsOptions, "source"> {
  /** The validated `models:`/`routing:`/`cache:` sections of config.yaml. */
  initial: ModelsConfigInput;
  /** Where the config came from, for error messages (the config file). */
  source?: string;
  store?: Store;
  logger?: Logger;
  audit?: ModelAuditSink;
  now?: () => number;
  deps?: ModelFactoryDeps;
}

/** A model as `GET /api/models` and `localagent models list` show it. */
export interface ModelView {
  name: string;
  provider: string;
  /** base_url's origin and path, or the GGUF path. */
  endpoint: string;
  model?: string;
  /** Embedded models: the precision named by the GGUF file (or `quantization:`), and whether loaded and what it is charged. */
  quantization?: string;
  quantizationWarning?: string;
  loaded?: boolean;
  chargedBytes?: number;
  taskTypes: string[];
  health: { state: string; failures: number; served: number; lastError?: string; retryInMs?: number };
}

export interface ModelsOverview {
  models: ModelView[];
  routing: Record<string, string[]>;
  cache: CacheStats;
  /** Bumped by every applied configuration change. */
  version: number;
}

/** How long file events are collected before the config is read again (editors write in bursts; an unchanged file is skipped by its hash). */
const WATCH_DEBOUNCE_MS = 20;

/**
 * The model layer of a daemon: builds the models from config, owns the router and the result
 * cache, applies configuration changes without a restart (file watch, SIGHUP, PUT), and writes a
 * `model-call` audit entry for every call.
 */
export class ModelService {
  readonly router: ModelRouter;
  readonly cache: ResultCache;
  private resolved: ResolvedModelsConfig;
  private input: ModelsConfigInput;
  private version = 0;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastFileHash: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ModelServiceOptions) {
    this.now = options.now ?? Date.now;
    this.input = options.initial;
    this.resolved = resolveModelsConfig(options.initial, this.resolveOptions(options.source ?? "config.yaml"));
    this.cache = new ResultCache({ config: this.resolved.cache, ...(options.store ? { store: options.store } : {}), now: this.now });
    this.router = new ModelRouter({ cache: this.cache, now: this.now, onCall: (record) => this.audit(record) });
    this.router.swap(this.build(this.resolved));
  }

  /** Whether any model is configured (else the ai step reports how to configure one). */
  get configured(): boolean {
    return this.router.configured;
  }

  /** Validates and applies `{models, routing, cache?}` (`PUT /api/config/models`); the old table keeps serving requests already in flight. */
  applyBody(body: unknown, source = "PUT /api/config/models"): ModelsOverview & { appliedInMs: number } {
    const started = performance.now();
    const parsed = modelsConfigSchema
      .superRefine((value, context) => checkModelReferences({ ...value, model_path: this.options.modelPath }, context))
      .safeParse(body);
    if (!parsed.success) {
      const problems = describeIssues(parsed.error);
      throw new LocalAgentError("bad_request", `${source}: ${problems.join("; ")}`, { details: { problems } });
    }
    const input: ModelsConfigInput = {
      ...parsed.data,
      ...(parsed.data.cache === undefined && this.input.cache ? { cache: this.input.cache } : {}),
    };
    this.apply(input, source);
    return { ...this.overview(), appliedInMs: Math.round((performance.now() - started) * 1000) / 1000 };
  }

  /** Applies already validated sections (a re-read config file). */
  apply(input: ModelsConfigInput, source = "config.yaml"): void {
    const resolved = resolveModelsConfig(input, this.resolveOptions(source));
    this.router.swap(this.build(resolved));
    this.cache.configure(resolved.cache);
    this.resolved = resolved;
    this.input = input;
    this.version++;
    this.options.logger?.info(
      { models: Object.keys(resolved.models), taskTypes: Object.keys(resolved.routing), version: this.version, source },
      "model routing applied",
    );
  }

  /**
   * Watches the config file and applies its model sections when it changes (debounced; a broken
   * file is logged and the current routing kept). `load` re-reads and validates the whole file.
   */
  watch(file: string, load: () => ModelsConfigInput): void {
    this.lastFileHash = hashFile(file);
    const name = basename(file);
    try {
      this.watcher = watch(dirname(file), (_event, changed) => {
        if (changed !== null && changed !== name) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.reloadFile(file, load), WATCH_DEBOUNCE_MS);
      });
      this.watcher.on("error", (error) => this.options.logger?.warn({ err: error }, "config watch failed; SIGHUP still reloads"));
    } catch (error) {
      this.options.logger?.warn({ err: error, file }, "cannot watch the config file; SIGHUP still reloads");
    }
  }

  /** Re-reads the config (file change, SIGHUP). Returns false when it was invalid (logged; the current routing stays). */
  reloadFile(file: string | undefined, load: () => ModelsConfigInput, force = false): boolean {
    const hash = file ? hashFile(file) : undefined;
    if (!force && hash !== undefined && hash === this.lastFileHash) return true;
    try {
      const input = load();
      this.lastFileHash = hash;
      this.apply(input, file ?? "config.yaml");
      return true;
    } catch (error) {
      this.options.logger?.error({ err: error }, `model config not applied: ${errorMessage(error)}`);
      return false;
    }
  }

  /** Models, routes, health and cache counters. */
  overview(): ModelsOverview {
    const taskTypes = new Map<string, string[]>();
    for (const [task, names] of Object.entries(this.resolved.routing)) {
      for (const name of names) taskTypes.set(name, [...(taskTypes.get(name) ?? []), task]);
    }
    const now = this.now();
    const models: ModelView[] = [...this.router.current.models.values()].map((routed) => {
      const entry = routed.config.entry;
      const health = routed.health;
      return {
        name: routed.config.name,
        provider: entry.provider,
        endpoint: entry.provider === "embedded" ? entry.path : endpointOf(entry.base_url),
        ...(entry.provider !== "embedded" ? { model: entry.model } : {}),
        ...(entry.provider === "embedded" ? (routed.model as { describe?: () => Partial<ModelView> }).describe?.() : {}),
        taskTypes: taskTypes.get(routed.config.name) ?? [],
        health: {
          state: health.state,
          failures: health.failures,
          served: health.served,
          ...(health.lastError ? { lastError: health.lastError } : {}),
          ...(health.state === "cooling_down" ? { retryInMs: Math.max(0, health.retryAt - now) } : {}),
        },
      };
    });
    return { models, routing: { ...this.resolved.routing }, cache: this.cache.stats(), version: this.version };
  }

  /** The model sections as configured, keys redacted (`GET /api/config/models`). */
  configView(): Record<string, unknown> {
    return {
      models: Object.fromEntries(Object.entries(this.input.models ?? {}).map(([name, entry]) => [name, redactEntry(entry)])),
      routing: this.input.routing ?? {},
      ...(this.input.cache ? { cache: this.input.cache } : {}),
      version: this.version,
    };
  }

  generate(request: GenerateRequest): Promise<GenerateResult> {
    return this.router.generate(request);
  }

  stream(request: GenerateRequest): AsyncIterable<StreamPart> {
    return this.router.stream(request);
  }

  /** Sends a tiny prompt through a model or task type, uncached: what served, how long, how many tokens. */
  async probe(
    target: string,
    signal?: AbortSignal,
  ): Promise<{ target: string; model: string; latencyMs: number; usage: GenerateResult["usage"]; text: string }> {
    const started = this.now();
    const result = await this.router.generate({
      model: target,
      messages: [{ role: "user", content: "Reply with the single word: ok" }],
      maxTokens: 8,
      cache: false,
      caller: { user: "models-test" },
      ...(signal ? { signal } : {}),
    });
    return { target, model: result.model, latencyMs: this.now() - started, usage: result.usage, text: result.text };
  }

  /** Runs the configured warm-up prompts one after another, filling the cache; failures are logged, never thrown. */
  async warmup(): Promise<number> {
    let done = 0;
    for (const item of this.resolved.cache.warmup) {
      try {
        await this.router.generate({
          model: item.model,
          messages: [...(item.system ? [{ role: "system" as const, content: item.system }] : []), { role: "user", content: item.prompt }],
          caller: { user: "cache-warmup" },
        });
        done++;
      } catch (error) {
        this.options.logger?.warn({ model: item.model, err: error }, `cache warm-up prompt failed: ${errorMessage(error)}`);
      }
    }
    return done;
  }

  /** Stops watching and closes every model. */
  async close(): Promise<void> {
    clearTimeout(this.debounce);
    this.watcher?.close();
    await Promise.all([...this.router.current.models.values()].map(async (routed) => routed.model.close?.().catch(() => undefined)));
  }

  private resolveOptions(source: string): ResolveModelsOptions {
    return {
      configDir: this.options.configDir,
      ...(this.options.env ? { env: this.options.env } : {}),
      ...(this.options.modelPath ? { modelPath: this.options.modelPath } : {}),
      source,
    };
  }

  /** A new table; models whose entry did not change are carried over with their health (and their loaded weights). */
  private build(config: ResolvedModelsConfig): RoutingTable {
    const previous = this.router.current;
    const models = new Map<string, RoutedModel>();
    for (const [name, resolved] of Object.entries(config.models)) {
      const old = previous.models.get(name);
      if (old && old.config.fingerprint === resolved.fingerprint) {
        models.set(name, { ...old, config: resolved });
        continue;
      }
      const model: LanguageModel = createModel(name, resolved.entry, {
        ...this.options.deps,
        ...(this.options.logger ? { logger: this.options.logger } : {}),
        // The embedded allocator shares memory by the task types routing gives each model.
        taskTypes: Object.entries(config.routing)
          .filter(([, names]) => names.includes(name))
          .map(([taskType]) => taskType),
      });
      models.set(name, { model, config: resolved, health: { state: "healthy", failures: 0, retryAt: 0, served: 0 } });
    }
    return new RoutingTable(models, new Map(Object.entries(config.routing)));
  }

  private audit(record: ModelCallRecord): void {
    if (record.fellThrough.length > 0 || record.outcome === "error") {
      this.options.logger?.warn(
        { target: record.target, model: record.model, outcome: record.outcome, fellThrough: record.fellThrough, error: record.error },
        record.outcome === "ok"
          ? `model call for "${record.target}" fell through to ${record.model ?? "?"}`
          : `model call for "${record.target}" failed`,
      );
    }
    const sink = this.options.audit;
    if (!sink) return;
    try {
      // The shared model-call entry (src/audit), plus what only the router knows: the task type asked
      // for, the models that failed before this one, and whether it streamed. Never prompts or keys.
      const entry = modelCallEntry(
        {
          model: record.model ?? record.target,
          provider: record.provider ?? "router",
          inputTokens: record.usage.inputTokens,
          outputTokens: record.usage.outputTokens,
          durationMs: record.durationMs,
          cached: record.cached,
          ...(record.model !== undefined ? { servedBy: `${record.provider ?? "?"}/${record.model}` } : {}),
          status: record.outcome,
          ...(record.error !== undefined ? { error: record.error } : {}),
        },
        record.caller ?? {},
      );
      entry.details = {
        ...entry.details,
        target: record.target,
        stream: record.stream,
        ...(record.fellThrough.length > 0 ? { fellThrough: record.fellThrough } : {}),
      };
      sink.record(entry);
    } catch (error) {
      this.options.logger?.error({ err: error }, "model-call audit entry not written");
    }
  }
}

function endpointOf(baseUrl: string): string {
  const url = new URL(baseUrl);
  return `${url.origin}${url.pathname === "/" ? "" : url.pathname}`;
}

function hashFile(file: string): string | undefined {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  } catch {
    return undefined;
  }
}

/** zod issues as `models.coder.base_url: expected an http:// or https:// URL`. */
function describeIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => `${[...path, key].join(".")}: unknown field`);
    return [`${path.join(".") || "body"}: ${issue.message}`];
  });
}
