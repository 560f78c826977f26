import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { RunStatus } from "../events/index.js";
import type { DeliveryRecord, NewRun, RunQuery, RunRecord, StepCompletion, StepRecord, Store, VersionedValue } from "./store.js";

/**
 * What a commit survives. `process`: WAL with synchronous=NORMAL — survives a crash or kill -9 of the
 * daemon; a power loss may roll back the last few commits (never corrupts). `power`: synchronous=FULL —
 * every commit is fsynced before the daemon acts on it; slower.
 */
export type Durability = "process" | "power";

export interface SqliteStoreOptions {
  /** File path, or `:memory:` for tests. */
  path: string;
  durability?: Durability;
}

const SCHEMA_VERSION = 2;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, trigger TEXT NOT NULL,
  inputs TEXT NOT NULL, trigger_payload TEXT, outputs TEXT, error TEXT,
  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER);
DROP INDEX IF EXISTS runs_by_status;
CREATE INDEX IF NOT EXISTS runs_unfinished ON runs(created_at) WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS runs_by_workflow ON runs(workflow, created_at);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL,
  output TEXT, error TEXT, started_at INTEGER, finished_at INTEGER, seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT NOT NULL UNIQUE, destination TEXT NOT NULL,
  kind TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL, last_error TEXT, created_at INTEGER NOT NULL, delivered_at INTEGER);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, destination, id);
CREATE TABLE IF NOT EXISTS fires (workflow TEXT PRIMARY KEY, last_fire_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (
  namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT, version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, key)) WITHOUT ROWID;
`;

/** The next journal position of a step in its run (bound to the run id as the last parameter). */
const NEXT_SEQ = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ?)";

type Row = Record<string, unknown>;

/** The embedded default store: one SQLite file in WAL mode, all statements prepared once. */
export class SqliteStore implements Store {
  private readonly database: Database.Database;
  private readonly statements;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.database = new Database(options.path);
    this.database.pragma("journal_mode = WAL");
    this.database.pragma(`synchronous = ${options.durability === "power" ? "FULL" : "NORMAL"}`);
    this.database.pragma("busy_timeout = 5000");
    this.database.pragma("foreign_keys = OFF");
    this.database.exec(SCHEMA);
    // Version 1 had no steps.seq; its rows keep seq 0 and list as before (by path).
    const stepColumns = this.database.pragma("table_info(steps)") as Array<{ name: string }>;
    if (!stepColumns.some((column) => column.name === "seq")) {
      this.database.exec("ALTER TABLE steps ADD COLUMN seq INTEGER NOT NULL DEFAULT 0");
    }
    this.database.pragma(`user_version = ${SCHEMA_VERSION}`);
    const db = this.database;
    this.statements = {
      insertRun: db.prepare(
        "INSERT INTO runs (id, workflow, status, trigger, inputs, trigger_payload, created_at) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
      ),
      getRun: db.prepare("SELECT * FROM runs WHERE id = ?"),
      unfinished: db.prepare("SELECT * FROM runs WHERE status IN ('queued', 'running') ORDER BY created_at, id"),
      runStarted: db.prepare("UPDATE runs SET status = ?, started_at = COALESCE(started_at, ?) WHERE id = ?"),
      runFinished: db.prepare("UPDATE runs SET status = ?, error = ?, outputs = ?, finished_at = ? WHERE id = ?"),
      runQueued: db.prepare("UPDATE runs SET status = 'queued', error = NULL, finished_at = NULL WHERE id = ?"),
      // Journal order: steps started in the same millisecond still list in the order they ran.
      getSteps: db.prepare("SELECT * FROM steps WHERE run_id = ? ORDER BY seq, path"),
      stepStarted: db.prepare(
        `INSERT INTO steps (run_id, path, status, attempt, started_at, seq) VALUES (?, ?, 'running', ?, ?, ${NEXT_SEQ})
         ON CONFLICT (run_id, path) DO UPDATE SET status = 'running', attempt = excluded.attempt, output = NULL, error = NULL,
         started_at = excluded.started_at, finished_at = NULL`,
      ),
      stepFinished: db.prepare(
        `INSERT INTO steps (run_id, path, status, attempt, output, error, started_at, finished_at, seq)
         VALUES (?, ?, ?, 0, ?, ?, ?, ?, ${NEXT_SEQ})
         ON CONFLICT (run_id, path) DO UPDATE SET status = excluded.status, output = excluded.output,
         error = excluded.error, finished_at = excluded.finished_at`,
      ),
      getCache: db.prepare("SELECT value FROM cache WHERE key = ?"),
      setCache: db.prepare(
        "INSERT INTO cache (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
      ),
      enqueue: db.prepare(
        `INSERT INTO outbox (idempotency_key, destination, kind, payload, status, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
      ),
      nextDeliveries: db.prepare(
        "SELECT * FROM outbox WHERE id IN (SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY destination) ORDER BY id",
      ),
      delivered: db.prepare(
        "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?",
      ),
      attemptFailed: db.prepare("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, status = ? WHERE id = ?"),
      getLastFire: db.prepare("SELECT last_fire_at FROM fires WHERE workflow = ?"),
      setLastFire: db.prepare(
        "INSERT INTO fires (workflow, last_fire_at) VALUES (?, ?) ON CONFLICT (workflow) DO UPDATE SET last_fire_at = excluded.last_fire_at",
      ),
      getState: db.prepare("SELECT value, version FROM state WHERE namespace = ? AND key = ?"),
      listState: db.prepare("SELECT key, value, version FROM state WHERE namespace = ? ORDER BY key"),
      deleteState: db.prepare("DELETE FROM state WHERE namespace = ? AND key = ?"),
      insertState: db.prepare(
        "INSERT INTO state (namespace, key, value, version, updated_at) VALUES (?, ?, ?, 1, ?) ON CONFLICT DO NOTHING",
      ),
      updateState: db.prepare(
        "UPDATE state SET value = ?, version = version + 1, updated_at = ? WHERE namespace = ? AND key = ? AND version = ?",
      ),
    };
  }

  createRun(run: NewRun): RunRecord {
    this.statements.insertRun.run(run.id, run.workflow, run.trigger, JSON.stringify(run.inputs), encode(run.triggerPayload), run.createdAt);
    return {
      id: run.id,
      workflow: run.workflow,
      status: "queued",
      trigger: run.trigger,
      inputs: run.inputs,
      triggerPayload: run.triggerPayload ?? null,
      outputs: null,
      error: null,
      createdAt: run.createdAt,
      startedAt: null,
      finishedAt: null,
    };
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.statements.getRun.get(id) as Row | undefined;
    return row ? toRun(row) : undefined;
  }

  listRuns(query: RunQuery = {}): RunRecord[] {
    const where: string[] = [];
    const parameters: unknown[] = [];
    if (query.workflow) {
      where.push("workflow = ?");
      parameters.push(query.workflow);
    }
    if (query.status && query.status.length > 0) {
      where.push(`status IN (${query.status.map(() => "?").join(", ")})`);
      parameters.push(...query.status);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`;
    parameters.push(query.limit ?? 50);
    return (this.database.prepare(sql).all(...parameters) as Row[]).map(toRun);
  }

  listUnfinishedRuns(): RunRecord[] {
    return (this.statements.unfinished.all() as Row[]).map(toRun);
  }

  setRunStatus(id: string, status: RunStatus, fields: { error?: string | null; outputs?: unknown; at: number } = { at: Date.now() }): void {
    if (status === "running") this.statements.runStarted.run(status, fields.at, id);
    else if (status === "queued") this.statements.runQueued.run(id);
    else this.statements.runFinished.run(status, fields.error ?? null, encode(fields.outputs), fields.at, id);
  }

  getSteps(runId: string): StepRecord[] {
    return (this.statements.getSteps.all(runId) as Row[]).map(toStep);
  }

  markStepStarted(runId: string, path: string, attempt: number, at: number): void {
    this.statements.stepStarted.run(runId, path, attempt, at, runId);
  }

  markStepFinished(runId: string, path: string, completion: StepCompletion): void {
    const write = (): void => {
      this.statements.stepFinished.run(
        runId,
        path,
        completion.status,
        encode(completion.output),
        completion.error ?? null,
        completion.at,
        completion.at,
        runId,
      );
      if (completion.cache) this.statements.setCache.run(completion.cache.key, encode(completion.cache.value), completion.at);
    };
    if (completion.cache) this.database.transaction(write)();
    else write();
  }

  getCache(key: string): unknown {
    const row = this.statements.getCache.get(key) as Row | undefined;
    return row ? decode(row.value) : undefined;
  }

  enqueueDelivery(delivery: {
    destination: string;
    kind: string;
    payload: unknown;
    idempotencyKey: string;
    at: number;
  }): number | undefined {
    const result = this.statements.enqueue.run(
      delivery.idempotencyKey,
      delivery.destination,
      delivery.kind,
      JSON.stringify(delivery.payload),
      delivery.at,
      delivery.at,
    );
    return result.changes === 0 ? undefined : Number(result.lastInsertRowid);
  }

  nextDeliveries(): DeliveryRecord[] {
    return (this.statements.nextDeliveries.all() as Row[]).map(toDelivery);
  }

  markDelivered(id: number, at: number): void {
    this.statements.delivered.run(at, id);
  }

  markDeliveryAttemptFailed(id: number, fields: { error: string; nextAttemptAt: number; dead: boolean }): void {
    this.statements.attemptFailed.run(fields.error, fields.nextAttemptAt, fields.dead ? "dead" : "pending", id);
  }

  listDeliveries(query: { status?: string; limit?: number } = {}): DeliveryRecord[] {
    const sql = `SELECT * FROM outbox ${query.status ? "WHERE status = ?" : ""} ORDER BY id LIMIT ?`;
    const parameters = query.status ? [query.status, query.limit ?? 1000] : [query.limit ?? 1000];
    return (this.database.prepare(sql).all(...parameters) as Row[]).map(toDelivery);
  }

  getLastFire(workflow: string): number | undefined {
    const row = this.statements.getLastFire.get(workflow) as Row | undefined;
    return row ? Number(row.last_fire_at) : undefined;
  }

  setLastFire(workflow: string, at: number): void {
    this.statements.setLastFire.run(workflow, at);
  }

  getState(namespace: string, key: string): VersionedValue | undefined {
    const row = this.statements.getState.get(namespace, key) as Row | undefined;
    return row ? { value: decode(row.value), version: Number(row.version) } : undefined;
  }

  compareAndSetState(namespace: string, key: string, value: unknown, expectedVersion: number | null): boolean {
    const now = Date.now();
    if (expectedVersion === null) return this.statements.insertState.run(namespace, key, encode(value), now).changes === 1;
    return this.statements.updateState.run(encode(value), now, namespace, key, expectedVersion).changes === 1;
  }

  listState(namespace: string): Array<VersionedValue & { key: string }> {
    return (this.statements.listState.all(namespace) as Row[]).map((row) => ({
      key: String(row.key),
      value: decode(row.value),
      version: Number(row.version),
    }));
  }

  deleteState(namespace: string, key: string): boolean {
    return this.statements.deleteState.run(namespace, key).changes === 1;
  }

  transaction<T>(work: () => T): T {
    return this.database.transaction(work)();
  }

  close(): void {
    if (this.database.open) this.database.close();
  }
}

function encode(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function decode(value: unknown): unknown {
  return value === null || value === undefined ? null : JSON.parse(String(value));
}

function toRun(row: Row): RunRecord {
  return {
    id: String(row.id),
    workflow: String(row.workflow),
    status: row.status as RunStatus,
    trigger: String(row.trigger),
    inputs: (decode(row.inputs) ?? {}) as Record<string, unknown>,
    triggerPayload: decode(row.trigger_payload),
    outputs: decode(row.outputs),
    error: (row.error as string | null) ?? null,
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}

function toStep(row: Row): StepRecord {
  return {
    runId: String(row.run_id),
    path: String(row.path),
    status: row.status as StepRecord["status"],
    attempt: Number(row.attempt),
    output: decode(row.output),
    error: (row.error as string | null) ?? null,
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}

function toDelivery(row: Row): DeliveryRecord {
  return {
    id: Number(row.id),
    idempotencyKey: String(row.idempotency_key),
    destination: String(row.destination),
    kind: String(row.kind),
    payload: decode(row.payload),
    status: row.status as DeliveryRecord["status"],
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: (row.last_error as string | null) ?? null,
    createdAt: Number(row.created_at),
    deliveredAt: row.delivered_at === null ? null : Number(row.delivered_at),
  };
}
