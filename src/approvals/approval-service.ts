import { createHash } from "node:crypto";
import type { Clock, TimerHandle } from "../clock/index.js";
import type { ApprovalAnswer, ApprovalQuestion, ApprovalRequester } from "../engine/index.js";
import { LocalAgentError } from "../errors/index.js";
import type { EventBus } from "../events/index.js";
import type { Store } from "../store/index.js";

/** The store namespace holding approval requests (`getState`/`compareAndSetState`, key = request id). */
export const APPROVAL_NAMESPACE = "approval";

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired";

/** One durable approval request and, once answered, its decision. */
export interface ApprovalRecord {
  id: string;
  stepKey: string;
  runId: string;
  workflow: string;
  step: string;
  /** The whole command or message, never truncated. */
  command: string;
  rule?: string;
  reason?: string;
  requestedAt: number;
  expiresAt: number;
  status: ApprovalStatus;
  decidedAt?: number;
  decidedBy?: string;
}

/** `ask`'s decision for a human: approve or deny. */
export type ApprovalDecision = "approve" | "deny";

/** What the command policy calls for an `ask` rule: resolves to the human's decision (timeout → deny). */
export type ApprovalGate = (request: ApprovalQuestion, signal?: AbortSignal) => Promise<ApprovalDecision>;

export interface ApprovalServiceOptions {
  store: Store;
  clock: Clock;
  events?: EventBus;
  /** How long a request waits for an answer when the asker gives no timeout (config `approvals.timeout`, default 1 h). */
  defaultTimeoutMs?: number;
  /**
   * Waiting requests also re-read the store this often, for decisions written by another process
   * (`localagent approvals approve` while no daemon runs, next to a foreground `localagent run`).
   */
  pollIntervalMs?: number;
}

export const DEFAULT_APPROVAL_TIMEOUT_MS = 60 * 60 * 1000;

/** `decidedBy` prefix of requests expired because their run ended (`run-cancelled`, …). */
const RUN_CLOSED = "run-";

/** The id of a request: derived from the step key and command, so a re-run after a restart finds the same one. */
export function approvalId(stepKey: string, command: string): string {
  return `ap_${createHash("sha256").update(`${stepKey}\u0000${command}`).digest("hex").slice(0, 16)}`;
}

/**
 * Durable approvals: requests live in the store keyed by the asking step, answers are written there
 * before anyone waiting hears of them, and every change is an event (the audit log records them).
 */
export class ApprovalService implements ApprovalRequester {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly options: ApprovalServiceOptions) {}

  /** Creates or finds the request and waits for its answer; an expired request answers deny. */
  async ask(question: ApprovalQuestion, signal?: AbortSignal): Promise<ApprovalAnswer> {
    let record = this.findOrCreate(question);
    while (record.status === "pending") {
      if (this.options.clock.now() >= record.expiresAt) record = this.settle(record.id, "expired", "timeout");
      else record = await this.waitForChange(record, signal);
    }
    return answerOf(record);
  }

  /** A human's answer. Throws `approval_not_found`, or `bad_request` when the request was already answered. */
  decide(id: string, decision: ApprovalDecision, by: string): ApprovalRecord {
    const current = this.get(id);
    if (!current) throw new LocalAgentError("approval_not_found", `no approval request with id ${id}`);
    if (current.status !== "pending") throw new LocalAgentError("bad_request", `approval ${id} is already ${current.status}`);
    if (this.options.clock.now() >= current.expiresAt) {
      this.settle(id, "expired", "timeout");
      throw new LocalAgentError("bad_request", `approval ${id} expired at ${new Date(current.expiresAt).toISOString()}`);
    }
    return this.settle(id, decision === "approve" ? "approved" : "denied", by);
  }

  /**
   * A run ended (cancelled, failed elsewhere, finished): its pending requests expire, so nobody is
   * asked about work that no longer waits. If the run is resumed, the step asks afresh.
   */
  closeRun(runId: string, status: string): void {
    for (const record of this.list({ status: "pending" })) {
      if (record.runId === runId) this.settle(record.id, "expired", `${RUN_CLOSED}${status}`);
    }
  }

  get(id: string): ApprovalRecord | undefined {
    return this.options.store.getState(APPROVAL_NAMESPACE, id)?.value as ApprovalRecord | undefined;
  }

  /** Requests, oldest first; only those with the given status when one is named. */
  list(query: { status?: ApprovalStatus } = {}): ApprovalRecord[] {
    return this.options.store
      .listState(APPROVAL_NAMESPACE)
      .map((entry) => entry.value as ApprovalRecord)
      .filter((record) => query.status === undefined || record.status === query.status)
      .sort((a, b) => a.requestedAt - b.requestedAt || a.id.localeCompare(b.id));
  }

  /** The gate the command policy calls: the decision only. */
  get gate(): ApprovalGate {
    return async (request, signal) => (await this.ask(request, signal)).decision;
  }

  private findOrCreate(question: ApprovalQuestion): ApprovalRecord {
    const { store, clock, events } = this.options;
    const id = approvalId(question.stepKey, question.command);
    const existing = store.getState(APPROVAL_NAMESPACE, id);
    const previous = existing?.value as ApprovalRecord | undefined;
    // A request closed only because its run ended is asked again when the run is resumed.
    if (previous && !(previous.status === "expired" && previous.decidedBy?.startsWith(RUN_CLOSED))) return previous;
    const now = clock.now();
    const record: ApprovalRecord = {
      id,
      stepKey: question.stepKey,
      runId: question.runId,
      workflow: question.workflow,
      step: question.step,
      command: question.command,
      ...(question.rule !== undefined ? { rule: question.rule } : {}),
      ...(question.reason !== undefined ? { reason: question.reason } : {}),
      requestedAt: now,
      expiresAt: now + (question.timeoutMs ?? this.options.defaultTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS),
      status: "pending",
    };
    if (!store.compareAndSetState(APPROVAL_NAMESPACE, id, record, existing?.version ?? null)) return this.get(id) ?? record;
    events?.emit({
      type: "approval-requested",
      approvalId: id,
      runId: record.runId,
      workflow: record.workflow,
      step: record.step,
      command: record.command,
      ...(record.rule !== undefined ? { rule: record.rule } : {}),
      expiresAt: record.expiresAt,
      at: now,
    });
    return record;
  }

  /** Writes the final status (compare-and-set: the first answer wins), then tells the waiters. */
  private settle(id: string, status: Exclude<ApprovalStatus, "pending">, by: string): ApprovalRecord {
    const { store, clock, events } = this.options;
    for (;;) {
      const entry = store.getState(APPROVAL_NAMESPACE, id);
      if (!entry) throw new LocalAgentError("approval_not_found", `no approval request with id ${id}`);
      const current = entry.value as ApprovalRecord;
      if (current.status !== "pending") return current;
      const now = clock.now();
      const settled: ApprovalRecord = { ...current, status, decidedAt: now, decidedBy: by };
      if (!store.compareAndSetState(APPROVAL_NAMESPACE, id, settled, entry.version)) continue;
      events?.emit({
        type: "approval-decided",
        approvalId: id,
        runId: settled.runId,
        workflow: settled.workflow,
        step: settled.step,
        decision: status,
        by,
        at: now,
      });
      for (const wake of this.waiters.get(id) ?? []) wake();
      return settled;
    }
  }

  /** Resolves with the record once it changes, expires, or the poll finds another process's answer. */
  private waitForChange(record: ApprovalRecord, signal?: AbortSignal): Promise<ApprovalRecord> {
    const { clock } = this.options;
    const poll = this.options.pollIntervalMs ?? 1000;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer: { handle?: TimerHandle } = {};
      const waiters = this.waiters.get(record.id) ?? new Set<() => void>();
      this.waiters.set(record.id, waiters);
      const finish = (): void => {
        if (timer.handle) clock.clearTimeout(timer.handle);
        waiters.delete(wake);
        if (waiters.size === 0) this.waiters.delete(record.id);
        signal?.removeEventListener("abort", onAbort);
      };
      const wake = (): void => {
        finish();
        resolve(this.get(record.id) ?? record);
      };
      const onAbort = (): void => {
        finish();
        reject(signal?.reason as Error);
      };
      waiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
      timer.handle = clock.setTimeout(wake, Math.max(0, Math.min(poll, record.expiresAt - clock.now())));
    });
  }
}

function answerOf(record: ApprovalRecord): ApprovalAnswer {
  const outcome = record.status === "pending" ? "expired" : record.status;
  return { id: record.id, decision: outcome === "approved" ? "approve" : "deny", outcome, by: record.decidedBy ?? "" };
}
