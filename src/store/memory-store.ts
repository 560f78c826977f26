import { LocalAgentError } from "../errors/index.js";
import type { RunStatus } from "../events/index.js";
import type {
  DeliveryRecord,
  DeliveryStatus,
  NewRun,
  RunQuery,
  RunRecord,
  StepCompletion,
  StepRecord,
  Store,
  VersionedValue,
} from "./store.js";

/**
 * A store that keeps everything in memory: nothing survives the process. For tests and for the
 * benchmark baseline that measures what journaling costs; never for the daemon.
 */
export class MemoryStore implements Store {
  private readonly runs = new Map<string, RunRecord>();
  private readonly steps = new Map<string, Map<string, StepRecord>>();
  private readonly cache = new Map<string, unknown>();
  private readonly deliveries: DeliveryRecord[] = [];
  private readonly keys = new Set<string>();
  private readonly fires = new Map<string, number>();
  private readonly state = new Map<string, VersionedValue>();

  createRun(run: NewRun): RunRecord {
    if (this.runs.has(run.id)) throw new LocalAgentError("store_error", `run ${run.id} already exists`);
    const record: RunRecord = {
      id: run.id,
      workflow: run.workflow,
      status: "queued",
      trigger: run.trigger,
      inputs: copy(run.inputs),
      triggerPayload: copy(run.triggerPayload ?? null),
      outputs: null,
      error: null,
      createdAt: run.createdAt,
      startedAt: null,
      finishedAt: null,
    };
    this.runs.set(run.id, record);
    return copy(record);
  }

  getRun(id: string): RunRecord | undefined {
    const run = this.runs.get(id);
    return run ? copy(run) : undefined;
  }

  listRuns(query: RunQuery = {}): RunRecord[] {
    return [...this.runs.values()]
      .filter((run) => (!query.workflow || run.workflow === query.workflow) && (!query.status?.length || query.status.includes(run.status)))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
      .slice(0, query.limit ?? 50)
      .map(copy);
  }

  listUnfinishedRuns(): RunRecord[] {
    return [...this.runs.values()].filter((run) => run.status === "queued" || run.status === "running").map(copy);
  }

  setRunStatus(id: string, status: RunStatus, fields: { error?: string | null; outputs?: unknown; at: number } = { at: Date.now() }): void {
    const run = this.runs.get(id);
    if (!run) return;
    run.status = status;
    if (status === "running") run.startedAt ??= fields.at;
    else if (status === "queued") {
      run.error = null;
      run.finishedAt = null;
    } else {
      run.error = fields.error ?? null;
      run.outputs = copy(fields.outputs ?? null);
      run.finishedAt = fields.at;
    }
  }

  getSteps(runId: string): StepRecord[] {
    return [...(this.steps.get(runId)?.values() ?? [])].map(copy);
  }

  markStepStarted(runId: string, path: string, attempt: number, at: number): void {
    this.stepsOf(runId).set(path, { runId, path, status: "running", attempt, output: null, error: null, startedAt: at, finishedAt: null });
  }

  markStepFinished(runId: string, path: string, completion: StepCompletion): void {
    const steps = this.stepsOf(runId);
    const previous = steps.get(path);
    steps.set(path, {
      runId,
      path,
      status: completion.status,
      attempt: previous?.attempt ?? 0,
      output: copy(completion.output ?? null),
      error: completion.error ?? null,
      startedAt: previous?.startedAt ?? completion.at,
      finishedAt: completion.at,
    });
    if (completion.cache) this.cache.set(completion.cache.key, copy(completion.cache.value));
  }

  getCache(key: string): unknown {
    return copy(this.cache.get(key));
  }

  enqueueDelivery(delivery: {
    destination: string;
    kind: string;
    payload: unknown;
    idempotencyKey: string;
    at: number;
  }): number | undefined {
    if (this.keys.has(delivery.idempotencyKey)) return undefined;
    this.keys.add(delivery.idempotencyKey);
    const id = this.deliveries.length + 1;
    this.deliveries.push({
      id,
      idempotencyKey: delivery.idempotencyKey,
      destination: delivery.destination,
      kind: delivery.kind,
      payload: copy(delivery.payload),
      status: "pending",
      attempts: 0,
      nextAttemptAt: delivery.at,
      lastError: null,
      createdAt: delivery.at,
      deliveredAt: null,
    });
    return id;
  }

  nextDeliveries(): DeliveryRecord[] {
    const heads = new Map<string, DeliveryRecord>();
    for (const delivery of this.deliveries) {
      if (delivery.status === "pending" && !heads.has(delivery.destination)) heads.set(delivery.destination, copy(delivery));
    }
    return [...heads.values()];
  }

  markDelivered(id: number, at: number): void {
    const delivery = this.deliveries[id - 1];
    if (!delivery) return;
    delivery.status = "delivered";
    delivery.attempts += 1;
    delivery.deliveredAt = at;
    delivery.lastError = null;
  }

  markDeliveryAttemptFailed(id: number, fields: { error: string; nextAttemptAt: number; dead: boolean }): void {
    const delivery = this.deliveries[id - 1];
    if (!delivery) return;
    delivery.attempts += 1;
    delivery.lastError = fields.error;
    delivery.nextAttemptAt = fields.nextAttemptAt;
    if (fields.dead) delivery.status = "dead";
  }

  listDeliveries(query: { status?: DeliveryStatus; limit?: number } = {}): DeliveryRecord[] {
    return this.deliveries
      .filter((delivery) => !query.status || delivery.status === query.status)
      .slice(0, query.limit ?? 1000)
      .map(copy);
  }

  getLastFire(workflow: string): number | undefined {
    return this.fires.get(workflow);
  }

  setLastFire(workflow: string, at: number): void {
    this.fires.set(workflow, at);
  }

  getState(namespace: string, key: string): VersionedValue | undefined {
    const entry = this.state.get(`${namespace}\u0000${key}`);
    return entry ? copy(entry) : undefined;
  }

  compareAndSetState(namespace: string, key: string, value: unknown, expectedVersion: number | null): boolean {
    const id = `${namespace}\u0000${key}`;
    const current = this.state.get(id);
    if (expectedVersion === null ? current !== undefined : current?.version !== expectedVersion) return false;
    this.state.set(id, { value: copy(value), version: (current?.version ?? 0) + 1 });
    return true;
  }

  listState(namespace: string): Array<VersionedValue & { key: string }> {
    const prefix = `${namespace}\u0000`;
    return [...this.state.entries()]
      .filter(([id]) => id.startsWith(prefix))
      .map(([id, entry]) => ({ key: id.slice(prefix.length), ...copy(entry) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  deleteState(namespace: string, key: string): boolean {
    return this.state.delete(`${namespace}\u0000${key}`);
  }

  /** Atomic like a database transaction: when `work` throws, every change it made is undone. */
  transaction<T>(work: () => T): T {
    const saved = copy(this.tables());
    try {
      return work();
    } catch (error) {
      replace(this.runs, saved.runs);
      replace(this.steps, saved.steps);
      replace(this.cache, saved.cache);
      replace(this.fires, saved.fires);
      replace(this.state, saved.state);
      this.keys.clear();
      for (const key of saved.keys) this.keys.add(key);
      this.deliveries.splice(0, this.deliveries.length, ...saved.deliveries);
      throw error;
    }
  }

  close(): void {}

  private tables() {
    const { runs, steps, cache, deliveries, keys, fires, state } = this;
    return { runs, steps, cache, deliveries, keys, fires, state };
  }

  private stepsOf(runId: string): Map<string, StepRecord> {
    let steps = this.steps.get(runId);
    if (!steps) {
      steps = new Map();
      this.steps.set(runId, steps);
    }
    return steps;
  }
}

/** Stored values are snapshots, as in a database: callers never share objects with the store. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

function replace<K, V>(target: Map<K, V>, source: Map<K, V>): void {
  target.clear();
  for (const [key, value] of source) target.set(key, value);
}
