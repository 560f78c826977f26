import type { RunStatus, StepStatus } from "../events/index.js";

export interface RunRecord {
  id: string;
  workflow: string;
  status: RunStatus;
  /** What started it: `manual`, `cron`, `event:<name>`, `api`, … */
  trigger: string;
  inputs: Record<string, unknown>;
  triggerPayload: unknown;
  outputs: unknown;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface StepRecord {
  runId: string;
  path: string;
  status: StepStatus;
  attempt: number;
  output: unknown;
  error: string | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export type DeliveryStatus = "pending" | "delivered" | "dead";

export interface DeliveryRecord {
  id: number;
  idempotencyKey: string;
  destination: string;
  kind: string;
  payload: unknown;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

export interface NewRun {
  id: string;
  workflow: string;
  trigger: string;
  inputs: Record<string, unknown>;
  triggerPayload?: unknown;
  createdAt: number;
}

export interface RunQuery {
  workflow?: string;
  status?: RunStatus[];
  limit?: number;
}

/** A finished step, and optionally the cache value it leaves for the next run (written atomically). */
export interface StepCompletion {
  status: Extract<StepStatus, "succeeded" | "failed" | "skipped">;
  output?: unknown;
  error?: string | null;
  at: number;
  cache?: { key: string; value: unknown };
}

export interface VersionedValue {
  value: unknown;
  version: number;
}

/**
 * Everything LocalAgent persists. The engine, outbox and scheduler talk only to this interface;
 * SQLite implements it now, PostgreSQL (cluster mode) later, and both pass `describeStoreConformance`.
 */
export interface Store {
  createRun(run: NewRun): RunRecord;
  getRun(id: string): RunRecord | undefined;
  listRuns(query?: RunQuery): RunRecord[];
  /** Runs that were queued or running when the daemon last stopped. */
  listUnfinishedRuns(): RunRecord[];
  setRunStatus(id: string, status: RunStatus, fields?: { error?: string | null; outputs?: unknown; at: number }): void;

  /** The steps of a run in the order they were first journaled. */
  getSteps(runId: string): StepRecord[];
  /** Journals that a step is about to run (before it runs). */
  markStepStarted(runId: string, path: string, attempt: number, at: number): void;
  markStepFinished(runId: string, path: string, completion: StepCompletion): void;

  getCache(key: string): unknown;

  /** Queues a delivery; returns undefined when the idempotency key was already queued. */
  enqueueDelivery(delivery: {
    destination: string;
    kind: string;
    payload: unknown;
    idempotencyKey: string;
    at: number;
  }): number | undefined;
  /** The oldest pending delivery of each destination (strict order per destination). */
  nextDeliveries(): DeliveryRecord[];
  markDelivered(id: number, at: number): void;
  markDeliveryAttemptFailed(id: number, fields: { error: string; nextAttemptAt: number; dead: boolean }): void;
  listDeliveries(query?: { status?: DeliveryStatus; limit?: number }): DeliveryRecord[];

  getLastFire(workflow: string): number | undefined;
  setLastFire(workflow: string, at: number): void;

  /** Shared state with optimistic locking: a write with a stale version fails instead of overwriting. */
  getState(namespace: string, key: string): VersionedValue | undefined;
  compareAndSetState(namespace: string, key: string, value: unknown, expectedVersion: number | null): boolean;
  /** Every entry of a namespace, ordered by key (approvals list their requests with it). */
  listState(namespace: string): Array<VersionedValue & { key: string }>;
  /** Removes one entry (queues and histories that must stay bounded); true when it existed. */
  deleteState(namespace: string, key: string): boolean;

  /** Runs `work` atomically. */
  transaction<T>(work: () => T): T;
  close(): void;
}
