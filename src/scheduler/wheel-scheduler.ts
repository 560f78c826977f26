import { Cron } from "croner";
import type { Clock } from "../clock/index.js";
import type { WorkflowDefinition } from "../workflow/index.js";
import type { FireHandler, Scheduler } from "./scheduler.js";
import { TimingWheel, type WheelTimer } from "./timing-wheel.js";

export interface WheelSchedulerOptions {
  clock: Clock;
  /** The daemon's shared wheel; one is made when omitted. */
  wheel?: TimingWheel;
  /** The last fire recorded for a workflow (the store's), for the misfire policy at start-up. */
  lastFire?: (workflow: string) => number | undefined;
  /** Upper bound of catch-up fires per trigger under `misfire: all` (default 1000). */
  maxCatchUp?: number;
  /** A fire later than this (clock jump, suspend, downtime) is a misfire (default 60 s). */
  misfireToleranceMs?: number;
  onError?: (error: unknown) => void;
}

/** One time trigger of one workflow. */
interface Schedule {
  workflow: WorkflowDefinition;
  kind: "cron" | "every";
  /** Next fire time after `at`, strictly later. */
  after(at: number): number | undefined;
  /** The latest fire time at or before `at`. */
  latest(at: number): number | undefined;
  /** The armed fire. */
  at: number | undefined;
  timer: WheelTimer | undefined;
  /** The wheel callback, made once per schedule rather than once per fire. */
  onTimer: () => void;
  /** The fire after `at`, computed ahead of time so a fire does no cron math on the hot path. */
  following: number | undefined;
  precomputing: boolean;
}

/** Schedules whose next fire is precomputed per turn of the event loop before it yields to I/O again. */
const PRECOMPUTE_SLICE = 256;

/**
 * The scheduler on the timing wheel: cron expressions through croner (5/6 fields, nicknames,
 * time zones, DST), `every:` intervals on a fixed grid, misfire policy (`skip | once | all`)
 * both at start-up (from the last recorded fire) and after a clock jump or suspend.
 */
export class WheelScheduler implements Scheduler {
  private readonly clock: Clock;
  private readonly wheel: TimingWheel;
  private readonly ownsWheel: boolean;
  private schedules = new Map<string, Schedule[]>();
  private onFire: FireHandler | undefined;
  /** Schedules waiting for `following`, oldest first from `precomputeHead`. */
  private precomputeQueue: Schedule[] = [];
  private precomputeHead = 0;

  constructor(private readonly options: WheelSchedulerOptions) {
    this.clock = options.clock;
    this.ownsWheel = options.wheel === undefined;
    this.wheel = options.wheel ?? new TimingWheel({ clock: options.clock, ...(options.onError ? { onError: options.onError } : {}) });
  }

  setWorkflows(workflows: readonly WorkflowDefinition[]): void {
    const previous = this.schedules;
    this.schedules = new Map();
    for (const list of previous.values()) for (const schedule of list) this.disarm(schedule);
    for (const workflow of workflows) {
      if (!workflow.enabled) continue;
      const list: Schedule[] = [];
      for (const trigger of workflow.triggers) {
        if (trigger.kind === "cron") {
          const cron = new Cron(trigger.expression, { paused: true, ...(trigger.timezone ? { timezone: trigger.timezone } : {}) });
          list.push(
            this.create(
              workflow,
              "cron",
              (at) => cron.nextRun(new Date(at))?.getTime(),
              (at) => cron.previousRuns(1, new Date(at + 1))[0]?.getTime(),
            ),
          );
        } else if (trigger.kind === "every") {
          const interval = trigger.intervalMs;
          // A fixed grid from the epoch: restarts and reloads keep the same fire times.
          list.push(
            this.create(
              workflow,
              "every",
              (at) => (Math.floor(at / interval) + 1) * interval,
              (at) => Math.floor(at / interval) * interval,
            ),
          );
        }
      }
      if (list.length > 0) this.schedules.set(workflow.name, list);
    }
    if (this.onFire) for (const list of this.schedules.values()) for (const schedule of list) this.arm(schedule, true);
  }

  nextFireAt(workflow: string): number | null {
    const list = this.schedules.get(workflow);
    if (!list) return null;
    let next: number | undefined;
    for (const schedule of list) {
      const at = schedule.at ?? schedule.after(this.clock.now());
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next ?? null;
  }

  start(onFire: FireHandler): void {
    this.onFire = onFire;
    for (const list of this.schedules.values()) for (const schedule of list) this.arm(schedule, true);
    if (this.ownsWheel) this.wheel.start();
  }

  stop(): void {
    this.onFire = undefined;
    for (const list of this.schedules.values()) for (const schedule of list) this.disarm(schedule);
    if (this.ownsWheel) this.wheel.stop();
  }

  private create(workflow: WorkflowDefinition, kind: Schedule["kind"], after: Schedule["after"], latest: Schedule["latest"]): Schedule {
    const schedule: Schedule = {
      workflow,
      kind,
      after,
      latest,
      at: undefined,
      timer: undefined,
      onTimer: () => this.fire(schedule),
      following: undefined,
      precomputing: false,
    };
    return schedule;
  }

  /** Arms the next fire. At start-up, fires missed while the daemon was down are handled first. */
  private arm(schedule: Schedule, startingUp: boolean): void {
    const now = this.clock.now();
    if (startingUp) this.catchUp(schedule, now);
    this.setTimer(schedule, schedule.after(now));
  }

  private setTimer(schedule: Schedule, at: number | undefined): void {
    this.disarm(schedule);
    schedule.at = at;
    schedule.following = undefined;
    if (at === undefined) return;
    schedule.timer = this.wheel.schedule(at, schedule.onTimer);
    this.precompute(schedule);
  }

  private disarm(schedule: Schedule): void {
    if (schedule.timer !== undefined) this.wheel.cancel(schedule.timer);
    schedule.timer = undefined;
  }

  /**
   * Queues the computation of the fire after the armed one. It runs after the current turn (in
   * `setImmediate` slices), not in the fire path: when thousands of workflows fire together, each
   * fire is handed over first, and the runs they start and any I/O interleave with the cron math
   * (~10 µs a schedule with croner; far more with a time zone). A fire that comes before its
   * precompute computes the time itself.
   */
  private precompute(schedule: Schedule): void {
    if (schedule.precomputing || schedule.at === undefined) return;
    schedule.precomputing = true;
    this.precomputeQueue.push(schedule);
    if (this.precomputeQueue.length - this.precomputeHead === 1) setImmediate(() => this.drainPrecompute());
  }

  private drainPrecompute(): void {
    const queue = this.precomputeQueue;
    const end = Math.min(queue.length, this.precomputeHead + PRECOMPUTE_SLICE);
    for (; this.precomputeHead < end; this.precomputeHead++) {
      const schedule = queue[this.precomputeHead]!;
      schedule.precomputing = false;
      if (schedule.at !== undefined && schedule.following === undefined) schedule.following = schedule.after(schedule.at);
    }
    if (this.precomputeHead < queue.length) {
      setImmediate(() => this.drainPrecompute());
      return;
    }
    this.precomputeQueue = [];
    this.precomputeHead = 0;
  }

  private fire(schedule: Schedule): void {
    const scheduledAt = schedule.at;
    schedule.timer = undefined;
    if (scheduledAt === undefined) return;
    const now = this.clock.now();
    const late = now - scheduledAt > (this.options.misfireToleranceMs ?? 60_000);
    // Arm the next fire before handing this one over, with the precomputed time when there is one.
    const policy = schedule.workflow.misfire;
    let next = schedule.following ?? schedule.after(scheduledAt);
    const missed: number[] = [];
    if (policy === "all") {
      while (next !== undefined && next <= now && missed.length < (this.options.maxCatchUp ?? 1000)) {
        missed.push(next);
        next = schedule.after(next);
      }
    }
    if (next !== undefined && next <= now) next = schedule.after(now);
    this.setTimer(schedule, next);
    if (!late || policy !== "skip") this.emit(schedule, scheduledAt);
    // A clock jump or a suspend skipped fires: `all` runs each, `once` and `skip` none more.
    if (policy === "all") for (const at of missed) this.emit(schedule, at);
  }

  /** Start-up: the fires between the last recorded one and now, by the workflow's misfire policy. */
  private catchUp(schedule: Schedule, now: number): void {
    const last = this.options.lastFire?.(schedule.workflow.name);
    const policy = schedule.workflow.misfire;
    if (last === undefined || policy === "skip") return;
    if (policy === "once") {
      // One catch-up run, for the most recent missed time.
      const latest = schedule.latest(now);
      if (latest !== undefined && latest > last) this.emit(schedule, latest);
      return;
    }
    const limit = this.options.maxCatchUp ?? 1000;
    let emitted = 0;
    for (let at = schedule.after(last); at !== undefined && at <= now && emitted < limit; at = schedule.after(at)) {
      this.emit(schedule, at);
      emitted += 1;
    }
  }

  private emit(schedule: Schedule, scheduledAt: number): void {
    try {
      this.onFire?.({ workflow: schedule.workflow, trigger: schedule.kind, scheduledAt });
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
