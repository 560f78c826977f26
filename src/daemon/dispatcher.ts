import type { Engine, StartRunOptions } from "../engine/index.js";
import type { Logger } from "../logger/index.js";
import type { RunRecord } from "../store/index.js";
import type { WorkflowDefinition } from "../workflow/index.js";

interface Waiting {
  workflow: WorkflowDefinition;
  runId: string;
  resolve: (run: RunRecord) => void;
  reject: (error: unknown) => void;
}

/**
 * Starts runs under a global concurrency limit (and `concurrency:` per workflow), highest
 * `priority:` first. Queued runs are already journaled, so a crash while waiting loses nothing.
 */
export class Dispatcher {
  private readonly waiting: Waiting[] = [];
  private readonly running = new Map<string, number>();
  private total = 0;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly logger: Logger,
    private readonly maxConcurrent: number,
  ) {}

  /** Journals a run and schedules it; resolves when it ends. */
  submit(workflow: WorkflowDefinition, options: StartRunOptions): { run: RunRecord; done: Promise<RunRecord> } {
    const run = this.engine.createRun(workflow, options);
    return { run, done: this.enqueue(workflow, run.id) };
  }

  /** Schedules an already journaled run (resume after restart, `runs resume`). */
  enqueue(workflow: WorkflowDefinition, runId: string): Promise<RunRecord> {
    return new Promise<RunRecord>((resolve, reject) => {
      this.waiting.push({ workflow, runId, resolve, reject });
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

  private pump(): void {
    if (this.closed) return;
    for (let index = 0; index < this.waiting.length && this.total < this.maxConcurrent;) {
      const next = this.waiting[index];
      if (!next) break;
      const limit = next.workflow.concurrency ?? Infinity;
      if ((this.running.get(next.workflow.name) ?? 0) >= limit) {
        index += 1;
        continue;
      }
      this.waiting.splice(index, 1);
      this.launch(next);
    }
  }

  private launch(item: Waiting): void {
    const name = item.workflow.name;
    this.total += 1;
    this.running.set(name, (this.running.get(name) ?? 0) + 1);
    this.engine
      .run(item.workflow, item.runId)
      .then(item.resolve, (error: unknown) => {
        this.logger.error({ err: error, run: item.runId }, "run crashed in the engine");
        item.reject(error);
      })
      .finally(() => {
        this.total -= 1;
        this.running.set(name, (this.running.get(name) ?? 1) - 1);
        this.pump();
      });
  }
}
