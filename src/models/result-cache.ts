import { createHash } from "node:crypto";
import type { Store } from "../store/index.js";
import type { ResolvedCacheConfig } from "./model-config.js";
import type { GenerateRequest, GenerateResult } from "./types.js";

/** The store namespace holding cached answers. */
export const MODEL_CACHE_NAMESPACE = "model-cache";

interface CacheEntry {
  key: string;
  result: GenerateResult;
  bytes: number;
  expiresAt: number;
  storedAt: number;
}

export interface CacheStats {
  enabled: boolean;
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

export interface ResultCacheOptions {
  config: ResolvedCacheConfig;
  /** Backing store: answers survive a restart. Absent: memory only. */
  store?: Store;
  now?: () => number;
}

/** The part of a request that decides its answer (signal, caller and cache flag do not). */
export function requestFingerprint(request: GenerateRequest): string {
  const significant = {
    messages: request.messages,
    tools: request.tools ?? null,
    temperature: request.temperature ?? null,
    maxTokens: request.maxTokens ?? null,
    json: request.json ?? null,
    stop: request.stop ?? null,
  };
  return createHash("sha256").update(JSON.stringify(significant)).digest("hex");
}

/** The cache key of a request for one model (its config fingerprint included, so a changed entry misses). */
export function cacheKey(requestHash: string, model: string, modelFingerprint: string): string {
  return createHash("sha256").update(`${model}\u0000${modelFingerprint}\u0000${requestHash}`).digest("hex").slice(0, 40);
}

/**
 * Model answers by request: a memory LRU bounded by entries and bytes, written through to the store
 * in a ring of at most `max_entries` slots (so the table never grows past the bound), with a TTL.
 */
export class ResultCache {
  private config: ResolvedCacheConfig;
  private readonly store: Store | undefined;
  private readonly now: () => number;
  /** Insertion order is recency: the first key is the least recently used. */
  private readonly memory = new Map<string, CacheEntry>();
  private memoryBytes = 0;
  /** Which store slot holds a key (for entries the memory bound pushed out). */
  private readonly slots = new Map<string, number>();
  private nextSlot = 0;
  private hits = 0;
  private misses = 0;

  constructor(options: ResultCacheOptions) {
    this.config = options.config;
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.load();
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** New TTL and bounds (hot reload); entries over the new bounds are dropped from memory. */
  configure(config: ResolvedCacheConfig): void {
    this.config = config;
    // A smaller ring starts over, so the store never holds more slots than the new bound.
    if (this.nextSlot >= config.maxEntries) this.nextSlot = 0;
    this.evict();
  }

  /** A live answer for the key, or undefined (counted as a miss only when `countMiss`). */
  get(key: string): GenerateResult | undefined {
    const now = this.now();
    let entry = this.memory.get(key);
    if (entry) {
      this.memory.delete(key);
      if (entry.expiresAt <= now) {
        this.memoryBytes -= entry.bytes;
        entry = undefined;
      } else {
        this.memory.set(key, entry);
      }
    } else {
      entry = this.fromStore(key, now);
    }
    if (!entry) return undefined;
    this.hits++;
    return entry.result;
  }

  /** Counts a request that found nothing. */
  miss(): void {
    this.misses++;
  }

  set(key: string, result: GenerateResult): void {
    const now = this.now();
    const stored: GenerateResult = { ...result };
    delete stored.cached;
    const bytes = Buffer.byteLength(JSON.stringify(stored));
    if (bytes > this.config.maxBytes) return;
    const entry: CacheEntry = { key, result: stored, bytes, expiresAt: now + this.config.ttlMs, storedAt: now };
    this.remember(entry);
    this.persist(entry);
  }

  stats(): CacheStats {
    return { enabled: this.config.enabled, hits: this.hits, misses: this.misses, entries: this.memory.size, bytes: this.memoryBytes };
  }

  private remember(entry: CacheEntry): void {
    const previous = this.memory.get(entry.key);
    if (previous) {
      this.memory.delete(entry.key);
      this.memoryBytes -= previous.bytes;
    }
    this.memory.set(entry.key, entry);
    this.memoryBytes += entry.bytes;
    this.evict();
  }

  private evict(): void {
    for (const [key, entry] of this.memory) {
      if (this.memory.size <= this.config.maxEntries && this.memoryBytes <= this.config.maxBytes) break;
      this.memory.delete(key);
      this.memoryBytes -= entry.bytes;
    }
  }

  private persist(entry: CacheEntry): void {
    if (!this.store) return;
    const existing = this.slots.get(entry.key);
    const slot = existing ?? this.nextSlot;
    if (existing === undefined) this.nextSlot = (this.nextSlot + 1) % this.config.maxEntries;
    const name = slotName(slot);
    try {
      const current = this.store.getState(MODEL_CACHE_NAMESPACE, name);
      const replaced = (current?.value as CacheEntry | null | undefined)?.key;
      if (replaced !== undefined && replaced !== entry.key) this.slots.delete(replaced);
      if (this.store.compareAndSetState(MODEL_CACHE_NAMESPACE, name, entry, current?.version ?? null)) this.slots.set(entry.key, slot);
    } catch {
      // The memory copy still answers; a store that cannot take the write must not fail the model call.
    }
  }

  private fromStore(key: string, now: number): CacheEntry | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined || !this.store) return undefined;
    const value = this.store.getState(MODEL_CACHE_NAMESPACE, slotName(slot))?.value as CacheEntry | null | undefined;
    if (!value || value.key !== key || value.expiresAt <= now) {
      this.slots.delete(key);
      return undefined;
    }
    this.remember(value);
    return value;
  }

  /** Reads the store's ring into memory (newest last, so the LRU order is kept) and finds the next slot. */
  private load(): void {
    if (!this.store) return;
    const now = this.now();
    let newest = -1;
    let newestAt = -Infinity;
    const entries: Array<{ slot: number; entry: CacheEntry }> = [];
    for (const item of this.store.listState(MODEL_CACHE_NAMESPACE)) {
      const slot = Number(item.key.replace(/^slot:/, ""));
      const entry = item.value as CacheEntry | null;
      if (!Number.isInteger(slot) || !entry || typeof entry.key !== "string") continue;
      if (entry.storedAt > newestAt) {
        newestAt = entry.storedAt;
        newest = slot;
      }
      if (entry.expiresAt > now && slot < this.config.maxEntries) entries.push({ slot, entry });
    }
    entries.sort((a, b) => a.entry.storedAt - b.entry.storedAt);
    for (const { slot, entry } of entries) {
      this.slots.set(entry.key, slot);
      this.remember(entry);
    }
    this.nextSlot = (newest + 1) % this.config.maxEntries;
  }
}

function slotName(slot: number): string {
  return `slot:${String(slot).padStart(6, "0")}`;
}
