import { LocalAgentError } from "../errors/index.js";
import { fallsThrough, isModelError, marksUnhealthy, ModelError } from "./model-error.js";
import type { ResolvedModel } from "./model-config.js";
import { cacheKey, requestFingerprint, type ResultCache } from "./result-cache.js";
import type { GenerateRequest, GenerateResult, LanguageModel, ModelCaller, StreamPart, Usage } from "./types.js";

/** One model of a routing table, with its health. Kept across reloads while its entry is unchanged. */
export interface RoutedModel {
  model: LanguageModel;
  config: ResolvedModel;
  health: ModelHealth;
}

/** Circuit-breaker state of one model: healthy; cooling down (skipped) until `retryAt`; probing (one trial request in flight). */
export interface ModelHealth {
  state: "healthy" | "cooling_down" | "probing";
  failures: number;
  retryAt: number;
  lastError?: string;
  lastErrorKind?: string;
  served: number;
}

/** An immutable view of models and routes; the router swaps whole tables, so a request never sees half a change. */
export class RoutingTable {
  private inFlight = 0;
  private retired = false;
  private onDrained: (() => void) | undefined;

  constructor(
    readonly models: ReadonlyMap<string, RoutedModel>,
    readonly routing: ReadonlyMap<string, readonly string[]>,
  ) {}

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    this.inFlight--;
    if (this.retired && this.inFlight === 0) this.onDrained?.();
  }

  /** Calls `drained` once no request uses this table any more. */
  retire(drained: () => void): void {
    this.retired = true;
    this.onDrained = drained;
    if (this.inFlight === 0) drained();
  }
}

/** What a request named, and the models that may serve it, in order. */
export interface Resolution {
  target: string;
  kind: "task" | "model";
  candidates: string[];
}

/** One model call as the audit log and metrics see it. */
export interface ModelCallRecord {
  /** The task type or model name asked for. */
  target: string;
  /** The model that served (or the last one tried, on failure). */
  model: string | undefined;
  provider: string | undefined;
  durationMs: number;
  usage: Usage;
  cached: boolean;
  outcome: "ok" | "error";
  error?: string;
  /** Models tried before the one that served, with why they failed. */
  fellThrough: Array<{ model: string; error: string }>;
  caller?: ModelCaller;
  stream: boolean;
}

export interface RouterOptions {
  cache?: ResultCache;
  now?: () => number;
  /** Called after every routed call (audit, metrics). Must not throw. */
  onCall?: (record: ModelCallRecord) => void;
}

const NO_USAGE: Usage = { inputTokens: 0, outputTokens: 0 };

/**
 * The routing matrix as a LanguageModel: `request.model` names a task type or a model; the first
 * healthy model of the route serves; failures that are about the model (unreachable, timeout, 5xx,
 * 429 after retries, model missing) fall through to the next; a failing model is skipped for its
 * cool-down, then one trial request decides. Answers are cached by (model, request).
 */
export class ModelRouter implements LanguageModel {
  readonly specificationVersion = 1 as const;
  readonly name = "router";
  readonly provider = "router";
  private table: RoutingTable = new RoutingTable(new Map(), new Map());
  private readonly now: () => number;
  /** Uncached calls being answered, by cache key: identical concurrent requests share one model call. */
  private readonly inFlight = new Map<string, Promise<GenerateResult>>();

  constructor(private readonly options: RouterOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** The table requests start on now. */
  get current(): RoutingTable {
    return this.table;
  }

  /** Replaces the table atomically; models only the old table had are closed once its requests finished. */
  swap(next: RoutingTable): void {
    const previous = this.table;
    this.table = next;
    const kept = new Set([...next.models.values()].map((routed) => routed.model));
    previous.retire(() => {
      for (const routed of previous.models.values()) {
        if (!kept.has(routed.model)) void routed.model.close?.().catch(() => undefined);
      }
    });
  }

  /** Whether any model is configured. */
  get configured(): boolean {
    return this.table.models.size > 0;
  }

  /** Which models would serve `target` (a task type first, then a model name; absent: `general`, else the first route or model). */
  resolve(target?: string): Resolution {
    return resolveIn(this.table, target);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const table = this.table;
    table.enter();
    const started = this.now();
    const fellThrough: ModelCallRecord["fellThrough"] = [];
    let resolution: Resolution | undefined;
    let last: RoutedModel | undefined;
    try {
      const resolved = resolveIn(table, request.model);
      resolution = resolved;
      const order = this.order(table, resolution.candidates);
      const first = order[0];
      const { requestHash, firstKey: flightKey, hit } = this.lookUp(request, first);
      if (hit && first) {
        this.record(request, resolution, first, started, hit.usage, true, undefined, fellThrough, false);
        return hit;
      }
      const shared = flightKey !== undefined ? this.inFlight.get(flightKey) : undefined;
      if (shared && first) {
        // An identical request is being answered right now: share its answer instead of asking twice.
        try {
          const result: GenerateResult = { ...(await untilAborted(shared, request.signal)), cached: true };
          this.record(request, resolution, first, started, result.usage, true, undefined, fellThrough, false);
          return result;
        } catch (error) {
          if (request.signal?.aborted) throw error;
          // Its failure may have been its own (its caller aborted): this request tries for itself.
        }
      }
      const walk = async (): Promise<GenerateResult> => {
        let lastError: unknown;
        for (const routed of order) {
          if (!this.admit(routed)) continue;
          last = routed;
          try {
            const result = await routed.model.generate(request);
            this.succeeded(routed);
            const served: GenerateResult = { ...result, model: routed.config.name, cached: false };
            this.store(requestHash, routed, served);
            this.record(request, resolved, routed, started, served.usage, false, undefined, fellThrough, false);
            return served;
          } catch (error) {
            this.failed(routed, error);
            lastError = error;
            if (!fallsThrough(error)) throw error;
            fellThrough.push({ model: routed.config.name, error: describe(error) });
          }
        }
        throw exhausted(resolved, fellThrough, lastError);
      };
      if (flightKey === undefined) return await walk();
      const flight = walk();
      this.inFlight.set(flightKey, flight);
      try {
        return await flight;
      } finally {
        if (this.inFlight.get(flightKey) === flight) this.inFlight.delete(flightKey);
      }
    } catch (error) {
      if (resolution) this.record(request, resolution, last, started, NO_USAGE, false, error, fellThrough, false);
      throw error;
    } finally {
      table.leave();
    }
  }

  async *stream(request: GenerateRequest): AsyncGenerator<StreamPart> {
    const table = this.table;
    table.enter();
    const started = this.now();
    const fellThrough: ModelCallRecord["fellThrough"] = [];
    let resolution: Resolution | undefined;
    let last: RoutedModel | undefined;
    try {
      resolution = resolveIn(table, request.model);
      const order = this.order(table, resolution.candidates);
      const first = order[0];
      const { requestHash, hit } = this.lookUp(request, first);
      if (hit && first) {
        this.record(request, resolution, first, started, hit.usage, true, undefined, fellThrough, true);
        if (hit.text) yield { type: "text", text: hit.text };
        for (const toolCall of hit.toolCalls) yield { type: "tool-call", toolCall };
        yield { type: "finish", result: hit };
        return;
      }
      let lastError: unknown;
      for (const routed of order) {
        if (!this.admit(routed)) continue;
        last = routed;
        let emitted = false;
        try {
          for await (const part of routed.model.stream(request)) {
            if (part.type === "finish") {
              this.succeeded(routed);
              const served: GenerateResult = { ...part.result, model: routed.config.name, cached: false };
              this.store(requestHash, routed, served);
              this.record(request, resolution, routed, started, served.usage, false, undefined, fellThrough, true);
              emitted = true;
              yield { type: "finish", result: served };
              return;
            }
            emitted = true;
            yield part;
          }
          throw new ModelError("server_error", `model "${routed.config.name}": the stream ended without a finish`, {
            model: routed.config.name,
            provider: routed.model.provider,
          });
        } catch (error) {
          this.failed(routed, error);
          lastError = error;
          // Once text reached the caller, another model cannot take over the same answer.
          if (emitted || !fallsThrough(error)) throw error;
          fellThrough.push({ model: routed.config.name, error: describe(error) });
        }
      }
      throw exhausted(resolution, fellThrough, lastError);
    } catch (error) {
      if (resolution) this.record(request, resolution, last, started, NO_USAGE, false, error, fellThrough, true);
      throw error;
    } finally {
      table.leave();
    }
  }

  /**
   * The request's cache fingerprint (undefined when the cache is off for it), the cache key of the
   * route's first model, and that model's cached answer if there is one (a miss is counted).
   */
  private lookUp(
    request: GenerateRequest,
    first: RoutedModel | undefined,
  ): { requestHash?: string; firstKey?: string; hit?: GenerateResult } {
    const cache = this.options.cache;
    if (!cache?.enabled || request.cache === false) return {};
    const requestHash = requestFingerprint(request);
    if (!first) return { requestHash };
    const firstKey = cacheKey(requestHash, first.config.name, first.config.fingerprint);
    const hit = cache.get(firstKey);
    if (!hit) {
      cache.miss();
      return { requestHash, firstKey };
    }
    return { requestHash, firstKey, hit: { ...hit, model: first.config.name, cached: true } };
  }

  /** Caches the answer a model gave, under that model's key. */
  private store(requestHash: string | undefined, routed: RoutedModel, served: GenerateResult): void {
    if (requestHash !== undefined) this.options.cache?.set(cacheKey(requestHash, routed.config.name, routed.config.fingerprint), served);
  }

  /** Models of the route in order, those cooling down left out; when every one is cooling down, all of them (better a try than nothing). */
  private order(table: RoutingTable, names: readonly string[]): RoutedModel[] {
    const now = this.now();
    const all: RoutedModel[] = [];
    const ready: RoutedModel[] = [];
    for (const name of names) {
      const routed = table.models.get(name);
      if (!routed) continue;
      all.push(routed);
      const health = routed.health;
      if (health.state === "healthy" || (health.state === "cooling_down" && now >= health.retryAt)) ready.push(routed);
    }
    return ready.length > 0 ? ready : all;
  }

  /** A model past its cool-down gets exactly one trial request; concurrent requests skip it until the trial ends. */
  private admit(routed: RoutedModel): boolean {
    const health = routed.health;
    if (health.state === "probing") return false;
    if (health.state === "cooling_down") health.state = "probing";
    return true;
  }

  private succeeded(routed: RoutedModel): void {
    const health = routed.health;
    health.state = "healthy";
    health.failures = 0;
    health.served++;
  }

  private failed(routed: RoutedModel, error: unknown): void {
    const health = routed.health;
    if (marksUnhealthy(error)) {
      health.state = "cooling_down";
      health.failures++;
      health.retryAt = this.now() + routed.config.cooldownMs;
      health.lastError = describe(error);
      health.lastErrorKind = isModelError(error) ? error.kind : "error";
    } else if (health.state === "probing") {
      // The trial failed for a reason that is not the model's (a bad request, an abort): not a verdict.
      health.state = "cooling_down";
    }
  }

  private record(
    request: GenerateRequest,
    resolution: Resolution,
    routed: RoutedModel | undefined,
    started: number,
    usage: Usage,
    cached: boolean,
    error: unknown,
    fellThrough: ModelCallRecord["fellThrough"],
    stream: boolean,
  ): void {
    if (!this.options.onCall) return;
    try {
      this.options.onCall({
        target: resolution.target,
        model: routed?.config.name,
        provider: routed?.model.provider,
        durationMs: this.now() - started,
        usage,
        cached,
        outcome: error === undefined ? "ok" : "error",
        ...(error !== undefined ? { error: describe(error) } : {}),
        fellThrough,
        ...(request.caller ? { caller: request.caller } : {}),
        stream,
      });
    } catch {
      // Recording is best effort; the answer is what matters to the caller.
    }
  }
}

/** Looks a target up in a table (task types first, then model names). */
export function resolveIn(table: RoutingTable, target: string | undefined): Resolution {
  if (table.models.size === 0) {
    throw new LocalAgentError(
      "no_model_provider",
      `no model provider configured${target ? ` for "${target}"` : ""}: add models: and routing: to config.yaml, or start with --model-path FILE.gguf`,
    );
  }
  if (target === undefined || target === "") {
    const general = table.routing.get("general");
    if (general) return { target: "general", kind: "task", candidates: [...general] };
    const firstRoute = table.routing.entries().next().value;
    if (firstRoute) return { target: firstRoute[0], kind: "task", candidates: [...firstRoute[1]] };
    const firstModel = table.models.keys().next().value as string;
    return { target: firstModel, kind: "model", candidates: [firstModel] };
  }
  const route = table.routing.get(target);
  if (route) return { target, kind: "task", candidates: [...route] };
  if (table.models.has(target)) return { target, kind: "model", candidates: [target] };
  // Without routing: every model serves every task type, in config order. With routing, a task type it
  // does not mention goes to the `--model-path` model ("default") when there is one.
  if (table.routing.size === 0) return { target, kind: "task", candidates: [...table.models.keys()] };
  if (table.models.has("default")) return { target, kind: "task", candidates: ["default"] };
  throw new LocalAgentError(
    "model_not_found",
    `no task type or model named "${target}" (task types: ${[...table.routing.keys()].join(", ") || "none"}; models: ${[...table.models.keys()].join(", ")})`,
  );
}

/** The promise, or the signal's abort, whichever comes first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function exhausted(resolution: Resolution, fellThrough: ModelCallRecord["fellThrough"], lastError: unknown): Error {
  if (fellThrough.length === 0 && lastError instanceof Error) return lastError;
  const kind = isModelError(lastError) ? lastError.kind : "server_error";
  if (fellThrough.length === 0) {
    return new ModelError(
      kind,
      `no model for "${resolution.target}" is available: each is cooling down after failures or on a trial request; retry shortly`,
      {
        model: resolution.target,
        provider: "router",
      },
    );
  }
  const tried = fellThrough.map((attempt) => `${attempt.model}: ${attempt.error}`).join("; ");
  return new ModelError(kind, `no model for "${resolution.target}" could answer (${tried})`, {
    model: resolution.target,
    provider: "router",
    cause: lastError,
  });
}
