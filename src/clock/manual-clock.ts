import type { Clock, TimerHandle } from "./index.js";

/**
 * A clock that only moves when told: `advance(ms)` runs the timers that come due in order,
 * `set(ms)` jumps (forward or back, as a wall clock can) without running anything.
 * For tests that run hours or months of schedule in milliseconds.
 */
export class ManualClock implements Clock {
  private timers: Array<{ id: number; at: number; callback: () => void }> = [];
  private nextId = 0;

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = ++this.nextId;
    this.timers.push({ id, at: this.current + Math.max(0, delayMs), callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle.id);
  }

  /** Pending Node-style timers (what a real process would have armed). */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, running due timers in time order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let due: { id: number; at: number; callback: () => void } | undefined;
      for (const timer of this.timers) if (timer.at <= end && (!due || timer.at < due.at)) due = timer;
      if (!due) break;
      const next = due;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.current = Math.max(this.current, next.at);
      next.callback();
    }
    this.current = end;
  }

  /** Moves time forward without running timers, as when the event loop was blocked: they run late at the next advance. */
  jump(ms: number): void {
    this.current += ms;
  }

  /** Sets the wall clock without running timers (a clock jump); armed timers keep their delays. */
  set(now: number): void {
    const shift = now - this.current;
    this.current = now;
    for (const timer of this.timers) timer.at += shift;
  }
}
