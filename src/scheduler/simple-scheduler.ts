import { Cron } from "croner";
import type { Clock, TimerHandle } from "../clock/index.js";
import type { WorkflowDefinition } from "../workflow/index.js";
import type { FireHandler, Scheduler } from "./scheduler.js";

interface Entry {
  workflow: WorkflowDefinition;
  crons: Cron[];
  intervals: Array<{ intervalMs: number; nextAt: number; timer?: TimerHandle }>;
}

/**
 * A plain scheduler: croner computes cron fire times, `every:` intervals are re-armed from the
 * wall clock (next = previous scheduled time + interval, so they do not drift).
 */
export class SimpleScheduler implements Scheduler {
  private readonly entries = new Map<string, Entry>();
  private onFire: FireHandler | undefined;

  constructor(private readonly clock: Clock) {}

  setWorkflows(workflows: readonly WorkflowDefinition[]): void {
    this.clear();
    for (const workflow of workflows) {
      if (!workflow.enabled) continue;
      const entry: Entry = { workflow, crons: [], intervals: [] };
      for (const trigger of workflow.triggers) {
        if (trigger.kind === "cron") {
          entry.crons.push(new Cron(trigger.expression, { paused: true, ...(trigger.timezone ? { timezone: trigger.timezone } : {}) }));
        } else if (trigger.kind === "every") {
          entry.intervals.push({ intervalMs: trigger.intervalMs, nextAt: this.clock.now() + trigger.intervalMs });
        }
      }
      if (entry.crons.length > 0 || entry.intervals.length > 0) this.entries.set(workflow.name, entry);
    }
    if (this.onFire) this.arm();
  }

  nextFireAt(name: string): number | null {
    const entry = this.entries.get(name);
    if (!entry) return null;
    const times = [
      ...entry.crons.map((cron) => cron.nextRun(new Date(this.clock.now()))?.getTime() ?? Infinity),
      ...entry.intervals.map((interval) => interval.nextAt),
    ];
    const next = Math.min(...times);
    return Number.isFinite(next) ? next : null;
  }

  start(onFire: FireHandler): void {
    this.onFire = onFire;
    this.arm();
  }

  stop(): void {
    this.onFire = undefined;
    this.clear();
  }

  private arm(): void {
    for (const entry of this.entries.values()) {
      entry.crons.forEach((cron, index) => {
        const replacement = new Cron(cron.getPattern() ?? "", { ...cron.options, paused: false }, () => {
          this.onFire?.({
            workflow: entry.workflow,
            trigger: "cron",
            scheduledAt: replacement.currentRun()?.getTime() ?? this.clock.now(),
          });
        });
        cron.stop();
        entry.crons[index] = replacement;
      });
      for (const interval of entry.intervals) this.armInterval(entry, interval);
    }
  }

  private armInterval(entry: Entry, interval: Entry["intervals"][number]): void {
    interval.timer = this.clock.setTimeout(() => {
      const scheduledAt = interval.nextAt;
      const now = this.clock.now();
      interval.nextAt = scheduledAt + interval.intervalMs * Math.max(1, Math.ceil((now - scheduledAt + 1) / interval.intervalMs));
      this.onFire?.({ workflow: entry.workflow, trigger: "every", scheduledAt });
      if (this.onFire) this.armInterval(entry, interval);
    }, interval.nextAt - this.clock.now());
  }

  private clear(): void {
    for (const entry of this.entries.values()) {
      for (const cron of entry.crons) cron.stop();
      for (const interval of entry.intervals) if (interval.timer) this.clock.clearTimeout(interval.timer);
    }
    this.entries.clear();
  }
}
