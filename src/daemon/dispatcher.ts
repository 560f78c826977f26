import type { Clock } from "../clock/index.js";
import type { Engine, StartRunOptions } from "../engine/index.js";
import type { EventBus } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import type { RunRecord } from "../store/index.js";
import type { OverlapPolicy, WorkflowDefinition } from "../workflow/index.js";

interface Waiting {
  workflow: WorkflowDefinition;
  runId: string;
  resolve: (run: RunRecord) => void;
  reject: (error: unknown) => void;
}

export interface DispatcherOptions {
  engine: Engine;
  logger: Logger;
  events: EventBus;
  clock: Clock;
  /** Global limit (`max_concurrent_runs`). */
  maxConcurrent: number;
}

/** A submitted fire: a journaled run, or nothing because `overlap: skip` dropped it. */
export type Submission =
  { status: "queued"; run: RunRecord; done: Promise<RunRecord> } | { status: "skipped"; workflow: string; reason: string };

/**
 * Starts runs under a global concurrency limit (and `concurrency:` per workflow), highest
 * `priority:` first. Queued runs are already journaled, so a crash while waiting loses nothing.
 *
 * A fire that finds its workflow at its limit follows the workflow's `overlap:`: `queue` waits for
 * a slot, `skip` is dropped (logged, a `run-skipped` event, counted), `replace` cancels the oldest
 * runs of the workflow (waiting ones first) and takes their place. With `skip` or `replace` and no
 * `concurrency:`, the limit is 1: the point of those policies is not to overlap.
 */
export class Dispatcher {
  private readonly waiting: Waiting[] = [];
  /** Run ids in the engine, per workflow, and the workflow of each. */
  private readonly running = new Map<string, Set<string>>();
  private readonly runningWorkflow = new Map<string, string>();
  /** Runs cancelled by `replace` that still hold their slot until their steps have stopped. */
  private readonly replaced = new Set<string>();
  private readonly skips = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: DispatcherOptions) {
    // A run frees its slot the moment it is journaled as finished, before the engine's promise
    // settles: a `workflow.finished:SELF` fire, or one right after the end, must not find it still going.
    // (The dispatcher subscribes before the trigger sources, so it hears of the end first.)
    options.events.subscribe((event) => {
      if (event.type === "run-finished") this.finished(event.runId);
    });
  }

  /** Journals a run and schedules it (resolves when it ends), unless the overlap policy drops it. */
  submit(workflow: WorkflowDefinition, options: StartRunOptions): Submission {
    const policy = overlapOf(workflow);
    const limit = limitOf(workflow);
    const trigger = options.trigger ?? "manual";
    if (policy === "skip" && this.activeCount(workflow.name) >= limit) {
      const reason = `${workflow.name} already has ${limit === 1 ? "a run" : `${limit} runs`} going (overlap: skip)`;
      this.skips.set(workflow.name, (this.skips.get(workflow.name) ?? 0) + 1);
      this.options.logger.info({ workflow: workflow.name, trigger }, `fire skipped: ${reason}`);
      this.options.events.emit({ type: "run-skipped", workflow: workflow.name, trigger, reason, at: this.options.clock.now() });
      return { status: "skipped", workflow: workflow.name, reason };
    }
    // Journaled before anything is cancelled: a run that cannot be created (bad inputs) replaces nothing.
    const run = this.options.engine.createRun(workflow, options);
    if (policy === "replace") this.makeRoom(workflow, limit, run.id);
    return { status: "queued", run, done: this.enqueue(workflow, run.id) };
  }

  /** Schedules an already journaled run (resume after restart, `runs resume`). Overlap policies do not apply. */
  enqueue(workflow: WorkflowDefinition, runId: string): Promise<RunRecord> {
    return new Promise<RunRecord>((resolve, reject) => {
      this.waiting.push({ workflow, runId, resolve, reject });
      // Stable sort: equal priorities keep their arrival order.
      this.waiting.sort((a, b) => b.workflow.priority - a.workflow.priority);
      this.pump();
    });
  }

  /** Stops launching (daemon shutdown): runs still waiting stay queued in the journal and resume at the next start. */
  close(): void {
    this.closed = true;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Fires dropped by `overlap: skip` since the daemon started, for one workflow. */
  skippedCount(workflow: string): number {
    return this.skips.get(workflow) ?? 0;
  }

  /** Runs of the workflow in the engine or waiting for a slot. */
  private activeCount(workflow: string): number {
    return (this.running.get(workflow)?.size ?? 0) + this.waiting.filter((item) => item.workflow.name === workflow).length;
  }

  /** Cancels the oldest runs of the workflow, waiting ones first, until the new run fits under the limit. */
  private makeRoom(workflow: WorkflowDefinition, limit: number, newRunId: string): void {
    const { engine, logger } = this.options;
    const reason = `run cancelled: replaced by ${newRunId} (overlap: replace)`;
    const waiting = this.waiting.filter((item) => item.workflow.name === workflow.name);
    const running = [...(this.running.get(workflow.name) ?? [])].filter((id) => !this.replaced.has(id));
    // Runs already being replaced leave by themselves; they are not counted as staying.
    let excess = waiting.length + running.length - (limit - 1);
    for (const item of waiting) {
      if (excess <= 0) return;
      excess -= 1;
      this.waiting.splice(this.waiting.indexOf(item), 1);
      engine.cancel(item.runId, reason);
      logger.info({ workflow: workflow.name, run: item.runId, by: newRunId }, "queued run replaced (overlap: replace)");
      // The journal now says cancelled; running it returns that record without starting a step.
      void engine.run(item.workflow, item.runId).then(item.resolve, item.reject);
    }
    for (const runId of running) {
      if (excess <= 0) return;
      excess -= 1;
      this.replaced.add(runId);
      engine.cancel(runId, reason);
      logger.info({ workflow: workflow.name, run: runId, by: newRunId }, "running run cancelled to make way (overlap: replace)");
    }
  }

  private pump(): void {
    if (this.closed) return;
    for (let index = 0; index < this.waiting.length && this.runningWorkflow.size < this.options.maxConcurrent;) {
      const next = this.waiting[index];
      if (!next) break;
      if ((this.running.get(next.workflow.name)?.size ?? 0) >= limitOf(next.workflow)) {
        index += 1;
        continue;
      }
      this.waiting.splice(index, 1);
      this.launch(next);
    }
  }

  private launch(item: Waiting): void {
    const name = item.workflow.name;
    const ids = this.running.get(name) ?? new Set<string>();
    ids.add(item.runId);
    this.running.set(name, ids);
    this.runningWorkflow.set(item.runId, name);
    this.options.engine
      .run(item.workflow, item.runId)
      .then(item.resolve, (error: unknown) => {
        this.options.logger.error({ err: error, run: item.runId }, "run crashed in the engine");
        item.reject(error);
      })
      .finally(() => {
        // Already done when the run journaled its end; this covers runs left to resume (shutdown) and crashes.
        if (this.release(item.runId)) this.pump();
      });
  }

  /** A run ended: free its slot, or drop it from the queue when it was cancelled while waiting. */
  private finished(runId: string): void {
    if (this.release(runId)) {
      // Not from inside the event: the next run's run-started must not reach listeners before this run-finished.
      queueMicrotask(() => this.pump());
      return;
    }
    const index = this.waiting.findIndex((item) => item.runId === runId);
    const item = this.waiting[index];
    if (!item) return;
    this.waiting.splice(index, 1);
    // The journal says it is over; running it returns that record without starting a step.
    void this.options.engine.run(item.workflow, item.runId).then(item.resolve, item.reject);
  }

  private release(runId: string): boolean {
    const name = this.runningWorkflow.get(runId);
    if (name === undefined) return false;
    this.runningWorkflow.delete(runId);
    this.replaced.delete(runId);
    const ids = this.running.get(name);
    ids?.delete(runId);
    if (ids?.size === 0) this.running.delete(name);
    return true;
  }
}

function overlapOf(workflow: WorkflowDefinition): OverlapPolicy {
  return workflow.overlap ?? "queue";
}

/** The per-workflow limit: `concurrency:`, else 1 under skip/replace, else none. */
function limitOf(workflow: WorkflowDefinition): number {
  return workflow.concurrency ?? (overlapOf(workflow) === "queue" ? Infinity : 1);
}
