import { LocalAgentError, type ErrorCode } from "../../errors/index.js";
import { ModelError } from "../model-error.js";

/** What a loaded model costs in memory (RAM + VRAM), split the way the user thinks of it. */
export interface Footprint {
  /** The weights (the library's figure for what the file occupies once loaded). */
  modelBytes: number;
  /** KV cache and compute buffers of the model's context. */
  contextBytes: number;
}

/** A model the allocator can load: how much it will cost, and how to load it. */
export interface AllocatableModel<T> {
  name: string;
  /** Identity in the allocator (default: name); a reconfigured model of the same name gets a new key. */
  key?: string;
  /** Task types the routing matrix sends to this model; they decide its share of the budget. Empty: every task type. */
  taskTypes?: readonly string[];
  /** The footprint before loading (from the GGUF header), checked against the budget. */
  estimate(): Promise<Footprint>;
  /** Loads the model; `footprint` is the charge measured or reported once loaded. */
  load(): Promise<LoadedModel<T>>;
}

export interface LoadedModel<T> {
  value: T;
  footprint: Footprint;
  dispose(): Promise<void>;
}

/** A loaded model held for one request: it cannot be unloaded until `release()`. */
export interface ModelLease<T> {
  readonly value: T;
  release(): void;
}

export interface AllocatorOptions {
  /** The budget in bytes (`memory_limit`); undefined: no limit, models still unload LRU only when asked. */
  budgetBytes?: number;
  /** Task-type weights (`allocator.weights`, replacing the defaults when given); a model's share is the sum of its task types' shares. */
  weights?: Record<string, number>;
  /** Told about every load and unload (logs, audit, tests). */
  onEvent?: (event: AllocatorEvent) => void;
}

export type AllocatorEvent =
  | { type: "model-loaded"; name: string; footprint: Footprint; estimate: Footprint; usedBytes: number }
  | { type: "model-unloaded"; name: string; reason: "budget" | "requested" | "close"; freedBytes: number; usedBytes: number };

/** One loaded model in the allocator's books. */
export interface AllocationInfo {
  key: string;
  name: string;
  bytes: number;
  footprint: Footprint;
  pins: number;
  lastUsed: number;
  /** The model's weighted share of the budget in bytes (undefined without a budget). */
  shareBytes: number | undefined;
}

/** The default task-type weights (the seed's). */
export const DEFAULT_ALLOCATOR_WEIGHTS: Readonly<Record<string, number>> = { code_gen: 0.4, image_proc: 0.3, general: 0.3 };

interface Slot {
  key: string;
  name: string;
  taskTypes: readonly string[];
  loaded: LoadedModel<unknown>;
  bytes: number;
  pins: number;
  lastUsed: number;
}

/**
 * Shares one memory budget between in-process models. Each loaded model is charged its footprint; before a
 * load would pass the budget, unpinned models unload, those over their task-type share first, then least
 * recently used first. A model that cannot fit even alone is refused with `model_too_large` before any memory
 * is touched. Loads run one at a time; a request pins its model until it releases the lease.
 */
export class ModelAllocator {
  private readonly slots = new Map<string, Slot>();
  private readonly budget: number | undefined;
  private readonly weights: Record<string, number>;
  private readonly onEvent: ((event: AllocatorEvent) => void) | undefined;
  private loadChain: Promise<unknown> = Promise.resolve();
  private releaseWaiters: Array<() => void> = [];
  private tick = 0;
  private closed = false;

  constructor(options: AllocatorOptions = {}) {
    this.budget = options.budgetBytes;
    this.weights = { ...(options.weights ?? DEFAULT_ALLOCATOR_WEIGHTS) };
    this.onEvent = options.onEvent;
  }

  get budgetBytes(): number | undefined {
    return this.budget;
  }

  /** Bytes charged to the loaded models. */
  get usedBytes(): number {
    let used = 0;
    for (const slot of this.slots.values()) used += slot.bytes;
    return used;
  }

  /** The loaded models, least recently used first. */
  list(): AllocationInfo[] {
    return [...this.slots.values()]
      .sort((left, right) => left.lastUsed - right.lastUsed)
      .map((slot) => ({
        key: slot.key,
        name: slot.name,
        bytes: slot.bytes,
        footprint: slot.loaded.footprint,
        pins: slot.pins,
        lastUsed: slot.lastUsed,
        shareBytes: this.shareOf(slot.taskTypes),
      }));
  }

  /** Whether a model of this name is loaded. */
  isLoaded(name: string): boolean {
    return [...this.slots.values()].some((slot) => slot.name === name);
  }

  /** The loaded model (loading it, and unloading others, when needed), pinned until the lease is released. */
  async acquire<T>(model: AllocatableModel<T>, signal?: AbortSignal): Promise<ModelLease<T>> {
    if (this.closed) throw new LocalAgentError("unavailable", "the model allocator is closed");
    const ready = this.slots.get(model.key ?? model.name);
    if (ready) return this.lease<T>(ready);
    // Loads are serialized: two loads measured at once would each see the other's memory.
    const load = this.loadChain.then(() => this.loadSerialized(model, signal));
    this.loadChain = load.catch(() => undefined);
    return load;
  }

  /** Unloads a model now (waits for its requests to finish); `key` is the model's key (default its name). */
  async unload(key: string): Promise<boolean> {
    const slot = this.slots.get(key);
    if (!slot) return false;
    while (slot.pins > 0) await this.nextRelease();
    if (this.slots.get(key) !== slot) return false;
    await this.evict(slot, "requested");
    return true;
  }

  /** Unloads everything (daemon stop). */
  async close(): Promise<void> {
    this.closed = true;
    await this.loadChain;
    for (const slot of [...this.slots.values()]) await this.evict(slot, "close");
  }

  private async loadSerialized<T>(model: AllocatableModel<T>, signal: AbortSignal | undefined): Promise<ModelLease<T>> {
    const key = model.key ?? model.name;
    const ready = this.slots.get(key);
    if (ready) return this.lease<T>(ready);
    const estimate = await model.estimate();
    const needed = total(estimate);
    if (this.budget !== undefined && needed > this.budget) throw tooLarge(model.name, estimate, this.budget);
    await this.makeRoom(needed, model.taskTypes ?? [], signal);
    signal?.throwIfAborted();
    const loaded = await model.load();
    const slot: Slot = {
      key,
      name: model.name,
      taskTypes: model.taskTypes ?? [],
      loaded,
      bytes: total(loaded.footprint),
      pins: 0,
      lastUsed: 0,
    };
    this.slots.set(key, slot);
    if (this.budget !== undefined && slot.bytes > this.budget) {
      // The estimate was too low: the model's real size does not fit at all. Give the memory back now.
      await this.evict(slot, "budget");
      throw tooLarge(model.name, loaded.footprint, this.budget);
    }
    const lease = this.lease<T>(slot);
    try {
      await this.makeRoom(0, slot.taskTypes, signal);
    } catch (error) {
      lease.release();
      throw error;
    }
    this.onEvent?.({ type: "model-loaded", name: model.name, footprint: loaded.footprint, estimate, usedBytes: this.usedBytes });
    return lease;
  }

  /** Unloads unpinned models until `needed` more bytes fit; waits for pinned ones to be released when that is not enough. */
  private async makeRoom(needed: number, taskTypes: readonly string[], signal: AbortSignal | undefined): Promise<void> {
    const budget = this.budget;
    if (budget === undefined) return;
    while (this.usedBytes + needed > budget) {
      const victim = this.pickVictim({ taskTypes, bytes: needed });
      if (victim) {
        await this.evict(victim, "budget");
        continue;
      }
      // Everything left is serving a request: wait for one to finish rather than overrun the budget.
      signal?.throwIfAborted();
      await this.nextRelease(signal);
    }
  }

  /**
   * Unpinned models whose task types all use more than their weighted share (counting the model being loaded)
   * go first, least recently used first among them; then the least recently used of the rest.
   */
  private pickVictim(incoming: { taskTypes: readonly string[]; bytes: number }): Slot | undefined {
    const candidates = [...this.slots.values()].filter((slot) => slot.pins === 0);
    if (candidates.length === 0) return undefined;
    const used = new Map<string, number>();
    const charge = (taskTypes: readonly string[], bytes: number): void => {
      for (const taskType of new Set(taskTypes)) used.set(taskType, (used.get(taskType) ?? 0) + bytes);
    };
    for (const slot of this.slots.values()) charge(slot.taskTypes, slot.bytes);
    charge(incoming.taskTypes, incoming.bytes);
    const overShare = (slot: Slot): boolean =>
      slot.taskTypes.length > 0 && slot.taskTypes.every((taskType) => (used.get(taskType) ?? 0) > (this.taskShare(taskType) ?? Infinity));
    candidates.sort((left, right) => Number(overShare(right)) - Number(overShare(left)) || left.lastUsed - right.lastUsed);
    return candidates[0];
  }

  /** A task type's share of the budget: its weight over the sum of the weights. */
  private taskShare(taskType: string): number | undefined {
    if (this.budget === undefined) return undefined;
    const sum = Object.values(this.weights).reduce((accumulated, weight) => accumulated + weight, 0);
    return sum > 0 ? ((this.weights[taskType] ?? 0) / sum) * this.budget : this.budget;
  }

  /** A model's share: the shares of the task types it serves (the whole budget when it serves every task type). */
  private shareOf(taskTypes: readonly string[]): number | undefined {
    if (this.budget === undefined) return undefined;
    if (taskTypes.length === 0) return this.budget;
    return Math.min(
      this.budget,
      [...new Set(taskTypes)].reduce((sum, taskType) => sum + (this.taskShare(taskType) ?? 0), 0),
    );
  }

  private lease<T>(slot: Slot): ModelLease<T> {
    slot.pins++;
    slot.lastUsed = ++this.tick;
    let released = false;
    return {
      value: slot.loaded.value as T,
      release: () => {
        if (released) return;
        released = true;
        slot.pins--;
        slot.lastUsed = ++this.tick;
        const waiters = this.releaseWaiters;
        this.releaseWaiters = [];
        for (const wake of waiters) wake();
      },
    };
  }

  private nextRelease(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.releaseWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  private async evict(slot: Slot, reason: "budget" | "requested" | "close"): Promise<void> {
    this.slots.delete(slot.key);
    await slot.loaded.dispose();
    this.onEvent?.({ type: "model-unloaded", name: slot.name, reason, freedBytes: slot.bytes, usedBytes: this.usedBytes });
  }
}

function total(footprint: Footprint): number {
  return footprint.modelBytes + footprint.contextBytes;
}

/** `1.2 GB`, `850 MB`, `12 KB`: decimal units, as file managers show sizes. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/**
 * A model that can never fit the budget: code `model_too_large`, and a ModelError of kind `out_of_memory` so the
 * router falls through to the next model of the task type.
 */
export class ModelTooLargeError extends ModelError {
  override readonly code: ErrorCode = "model_too_large";
}

function tooLarge(name: string, footprint: Footprint, budget: number): ModelTooLargeError {
  const needed = total(footprint);
  const error = new ModelTooLargeError(
    "out_of_memory",
    `model ${name} needs ${formatBytes(needed)} (file ${formatBytes(footprint.modelBytes)} + context ${formatBytes(footprint.contextBytes)}), memory_limit is ${formatBytes(budget)}; raise memory_limit (--memory-limit) or lower the model's context_size`,
    { model: name, provider: "embedded" },
  );
  Object.assign(error.details, {
    neededBytes: needed,
    modelBytes: footprint.modelBytes,
    contextBytes: footprint.contextBytes,
    budgetBytes: budget,
  });
  return error;
}
