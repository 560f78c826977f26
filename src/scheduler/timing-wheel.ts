import type { Clock, TimerHandle } from "../clock/index.js";

/**
 * A timer handle: a number that stays valid until the timer fires or is cancelled; a stale
 * handle (its slot reused by a later timer) is recognised and ignored by `cancel`.
 */
export type WheelTimer = number;

export interface TimingWheelOptions {
  clock: Clock;
  /** Milliseconds per tick (default 1). */
  resolutionMs?: number;
  /**
   * Longest the single Node timer sleeps before re-reading the wall clock (default 30 s). Node's
   * timers run on the monotonic clock, which stops during system suspend; waking at least this
   * often keeps fires correct after a suspend or a wall-clock change.
   */
  maxSleepMs?: number;
  /** Timers to make room for up front (the arrays double as needed anyway). */
  initialCapacity?: number;
  /** Called when a timer callback throws; the wheel goes on. */
  onError?: (error: unknown) => void;
}

// Level 0 has 256 slots of one tick; each higher level 64 slots of the whole level below
// (256 ticks, 16 384, 1 048 576, 67 108 864): 2^32 ticks in all, 49.7 days at 1 ms.
const LEVEL_BITS = [8, 6, 6, 6, 6] as const;
const LEVELS = LEVEL_BITS.length;
/** Ticks per slot at each level. */
const UNIT: number[] = [];
/** Slots per level. */
const SIZE: number[] = [];
{
  let unit = 1;
  for (const bits of LEVEL_BITS) {
    UNIT.push(unit);
    SIZE.push(2 ** bits);
    unit *= 2 ** bits;
  }
}
const RANGE = 2 ** 32;
/**
 * The level of a timer `delta` ticks ahead, by the bit length of `delta` (`32 - Math.clz32(delta)`):
 * a table lookup instead of comparing against each level's range on every insert.
 */
const LEVEL_BY_BIT_LENGTH = Int8Array.from({ length: 33 }, (_, bits) => {
  let level = 0;
  while (level < LEVELS - 1 && 2 ** bits > UNIT[level + 1]!) level += 1;
  return level;
});
/** 1 / UNIT: slot numbers by multiplication, exact for powers of two (a division costs several times more). */
const UNIT_INVERSE = Float64Array.from(UNIT, (unit) => 1 / unit);
const SLOT_STRIDE = 256;
/** Level 0's slot of a tick: `tick & LEVEL0_MASK`. Masks, not `%`: ticks exceed 2^31, and `%` on them is a call to fmod. */
const LEVEL0_MASK = SLOT_STRIDE - 1;
// Where a timer is: a slot index (level * 256 + slot) or one of these.
const OVERFLOW = -1;
const DUE = -2;
const FREE = -3;
const NONE = -1;
const INDEX_BITS = 2 ** 24;
const INDEX_MASK = INDEX_BITS - 1;
const GENERATION_MASK = 2 ** 28 - 1;

/**
 * A hierarchical timing wheel (Varghese & Lauck, as in the Linux kernel's classic timers): O(1)
 * insert and cancel, timers linked into per-slot lists, coarse levels cascaded into finer ones as
 * time reaches them. Time always comes from the wall clock (`clock.now()`), never from counting
 * ticks, so nothing drifts: a jump forward fires what became due, a jump back fires nothing twice.
 * One Node timer is armed for the next non-empty slot; an empty wheel sleeps.
 *
 * Timers live in typed arrays indexed by a small integer, not in one object each; free entries are
 * chained through `nextOf`. Inserting and cancelling a million timers then allocates nothing and
 * leaves the garbage collector nothing to do.
 */
export class TimingWheel {
  private readonly clock: Clock;
  private readonly resolution: number;
  private readonly maxSleepMs: number;
  private readonly onError: (error: unknown) => void;
  private readonly heads = new Int32Array(LEVELS * SLOT_STRIDE).fill(NONE);
  /** Non-empty slots per level, so idle levels are skipped without scanning. */
  private readonly occupied = new Int32Array(LEVELS);
  private capacity = 0;
  private ticks = new Float64Array(0);
  private times = new Float64Array(0);
  private previous = new Int32Array(0);
  private nextOf = new Int32Array(0);
  private home = new Int32Array(0);
  private generation = new Uint32Array(0);
  private callbacks: Array<(() => void) | undefined> = [];
  /** First free entry; the rest of the free list is chained through `nextOf`. */
  private freeHead = NONE;
  private overflow: number[] = [];
  /** Earliest tick in `overflow` (may be stale-early after a cancel, never late). */
  private overflowMinTick = Infinity;
  private due: number[] = [];
  /** The next tick to process: every timer with an earlier tick has fired. */
  private current: number;
  private count = 0;
  private handle: TimerHandle | undefined;
  private armedFor = Infinity;
  private running = false;
  private advancing = false;

  constructor(options: TimingWheelOptions) {
    this.clock = options.clock;
    this.resolution = options.resolutionMs ?? 1;
    this.maxSleepMs = options.maxSleepMs ?? 30_000;
    this.onError = options.onError ?? (() => {});
    this.current = this.tickOf(this.clock.now());
    this.grow(Math.max(16, options.initialCapacity ?? 1024));
  }

  /** Timers waiting to fire. */
  get size(): number {
    return this.count;
  }

  /** Calls `callback` at `at` (ms since the epoch); a time in the past fires at the next advance. */
  schedule(at: number, callback: () => void): WheelTimer {
    if (this.freeHead === NONE) this.grow(this.capacity * 2);
    const index = this.freeHead;
    this.freeHead = this.nextOf[index]!;
    const tick = this.tickOf(at);
    this.ticks[index] = tick;
    this.times[index] = at;
    this.callbacks[index] = callback;
    this.count += 1;
    this.place(index, tick);
    // The armed Node timer wakes the wheel by `armedFor`; a later timer cannot need an earlier
    // wake-up, so only an earlier one re-arms (re-arming scans the wheel and reads the clock).
    if (this.running && !this.advancing && (this.handle === undefined || at < this.armedFor)) this.arm();
    return this.generation[index]! * INDEX_BITS + index;
  }

  /** Calls `callback` after `delayMs` of wall-clock time. */
  scheduleIn(delayMs: number, callback: () => void): WheelTimer {
    return this.schedule(this.clock.now() + delayMs, callback);
  }

  /** Removes a timer; false when it already fired or was cancelled. */
  cancel(timer: WheelTimer): boolean {
    const index = timer & INDEX_MASK;
    if (index >= this.capacity || this.generation[index] !== (timer - index) / INDEX_BITS) return false;
    const where = this.home[index]!;
    if (where === FREE) return false;
    if (where === OVERFLOW) this.overflow.splice(this.overflow.indexOf(index), 1);
    else if (where === DUE) this.due.splice(this.due.indexOf(index), 1);
    else this.unlink(index);
    this.release(index);
    this.count -= 1;
    return true;
  }

  /** The fire time (ms) a live timer was scheduled for, or undefined. */
  timeOf(timer: WheelTimer): number | undefined {
    const index = timer & INDEX_MASK;
    if (index >= this.capacity || this.generation[index] !== (timer - index) / INDEX_BITS || this.home[index] === FREE) return undefined;
    return this.times[index];
  }

  /** The earliest fire time (ms) of any timer, or undefined when the wheel is empty. */
  nextExpiry(): number | undefined {
    if (this.count === 0) return undefined;
    if (this.due.length > 0) return this.clock.now();
    const tick = this.nextEventTick();
    return tick === undefined ? undefined : tick * this.resolution;
  }

  /** Fires every timer due at `now` (default: the clock's now), in time order. Returns how many fired. */
  advance(now = this.clock.now()): number {
    if (this.advancing) return 0;
    this.advancing = true;
    let fired = 0;
    try {
      const target = this.tickOf(now);
      fired += this.fireDue();
      for (;;) {
        const next = this.nextEventTick();
        if (next === undefined || next > target) {
          // Nothing in between: jump. Empty slots need no cascade.
          if (target + 1 > this.current) this.current = target + 1;
          break;
        }
        this.current = next;
        this.cascade();
        fired += this.fireSlot(this.current);
        fired += this.fireDue();
        this.current += 1;
      }
    } finally {
      this.advancing = false;
    }
    if (this.running) this.arm();
    return fired;
  }

  /** Arms the Node timer and keeps it armed for the next non-empty slot. */
  start(): void {
    this.running = true;
    this.advance();
  }

  stop(): void {
    this.running = false;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = Infinity;
  }

  private tickOf(at: number): number {
    return Math.floor(this.resolution === 1 ? at : at / this.resolution);
  }

  private grow(capacity: number): void {
    const old = this.capacity;
    const copy = <T extends Float64Array | Int32Array | Uint32Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.ticks = copy(this.ticks, new Float64Array(capacity));
    this.times = copy(this.times, new Float64Array(capacity));
    this.previous = copy(this.previous, new Int32Array(capacity));
    this.nextOf = copy(this.nextOf, new Int32Array(capacity));
    this.home = copy(this.home, new Int32Array(capacity));
    this.generation = copy(this.generation, new Uint32Array(capacity));
    this.home.fill(FREE, old);
    // The new entries join the free list in ascending order, in front of what it holds.
    for (let index = old; index < capacity - 1; index++) this.nextOf[index] = index + 1;
    this.nextOf[capacity - 1] = this.freeHead;
    this.freeHead = old;
    this.capacity = capacity;
  }

  private release(index: number): void {
    this.home[index] = FREE;
    this.callbacks[index] = undefined;
    this.generation[index] = (this.generation[index]! + 1) & GENERATION_MASK;
    this.nextOf[index] = this.freeHead;
    this.freeHead = index;
  }

  private place(index: number, tick: number): void {
    const delta = tick - this.current;
    if (delta < 0) {
      this.home[index] = DUE;
      this.due.push(index);
      return;
    }
    if (delta >= RANGE) {
      this.home[index] = OVERFLOW;
      this.overflow.push(index);
      if (tick < this.overflowMinTick) this.overflowMinTick = tick;
      return;
    }
    const level = LEVEL_BY_BIT_LENGTH[32 - Math.clz32(delta)]!;
    const slot = Math.floor(tick * UNIT_INVERSE[level]!) & (SIZE[level]! - 1);
    const where = level * SLOT_STRIDE + slot;
    const head = this.heads[where]!;
    this.home[index] = where;
    this.previous[index] = NONE;
    this.nextOf[index] = head;
    if (head !== NONE) this.previous[head] = index;
    else this.occupied[level]! += 1;
    this.heads[where] = index;
  }

  private unlink(index: number): void {
    const where = this.home[index]!;
    const before = this.previous[index]!;
    const after = this.nextOf[index]!;
    if (before !== NONE) this.nextOf[before] = after;
    else this.heads[where] = after;
    if (after !== NONE) this.previous[after] = before;
    if (this.heads[where] === NONE) this.occupied[(where / SLOT_STRIDE) | 0]! -= 1;
  }

  /** The next tick (≥ current) at which something happens: a level-0 slot fires or a higher slot cascades. */
  private nextEventTick(): number | undefined {
    let best: number | undefined;
    if (this.occupied[0]! > 0) {
      for (let offset = 0; offset < SLOT_STRIDE; offset++) {
        const tick = this.current + offset;
        if (this.heads[tick & LEVEL0_MASK] !== NONE) {
          best = tick;
          break;
        }
      }
    }
    for (let level = 1; level < LEVELS; level++) {
      if (this.occupied[level] === 0) continue;
      const unit = UNIT[level]!;
      const size = SIZE[level]!;
      const currentSlot = Math.floor(this.current / unit);
      const aligned = (this.current & (unit - 1)) === 0;
      for (let offset = aligned ? 0 : 1; offset <= size; offset++) {
        const slotTick = (currentSlot + offset) * unit;
        if (best !== undefined && slotTick >= best) break;
        if (this.heads[level * SLOT_STRIDE + ((currentSlot + offset) & (size - 1))] !== NONE) {
          best = slotTick;
          break;
        }
      }
    }
    if (this.overflow.length > 0) {
      // Far-future timers re-enter the wheel once they are within its range.
      const enter = Math.max(this.current, this.overflowMinTick - RANGE + 1);
      if (best === undefined || enter < best) best = enter;
    }
    return best;
  }

  /** At a slot boundary, moves the timers of the slots that start now into finer levels. */
  private cascade(): void {
    if (this.overflow.length > 0 && this.current >= this.overflowMinTick - RANGE + 1) {
      const waiting = this.overflow;
      this.overflow = [];
      this.overflowMinTick = Infinity;
      for (const index of waiting) this.place(index, this.ticks[index]!);
    }
    for (let level = LEVELS - 1; level >= 1; level--) {
      const unit = UNIT[level]!;
      if ((this.current & (unit - 1)) !== 0) continue;
      const where = level * SLOT_STRIDE + (Math.floor(this.current / unit) & (SIZE[level]! - 1));
      let index = this.heads[where]!;
      if (index === NONE) continue;
      this.heads[where] = NONE;
      this.occupied[level]! -= 1;
      while (index !== NONE) {
        const next = this.nextOf[index]!;
        this.place(index, this.ticks[index]!);
        index = next;
      }
    }
  }

  private fireSlot(tick: number): number {
    const where = tick & LEVEL0_MASK;
    let index = this.heads[where]!;
    if (index === NONE) return 0;
    this.heads[where] = NONE;
    this.occupied[0]! -= 1;
    // Detach the whole list first: callbacks may schedule into this very slot (a later rotation).
    const batch: number[] = [];
    while (index !== NONE) {
      const next = this.nextOf[index]!;
      if (this.ticks[index] === tick) batch.push(index);
      else this.place(index, this.ticks[index]!);
      index = next;
    }
    return this.run(batch);
  }

  private fireDue(): number {
    let fired = 0;
    while (this.due.length > 0) {
      const batch = this.due;
      this.due = [];
      fired += this.run(batch);
    }
    return fired;
  }

  /**
   * Runs a batch in time order. Ties keep their batch order, which is insertion order or its reverse
   * (slot lists are LIFO and each cascade reverses them). Handles are released before the callbacks run.
   */
  private run(batch: number[]): number {
    const times = this.times;
    // A batch is usually one tick and so in order already: check before sorting (a stable sort,
    // ties keep batch order), and take no object per timer — 10,000 cron fires due together wait
    // for this before the first callback runs.
    for (let position = 1; position < batch.length; position++) {
      if (times[batch[position]!]! < times[batch[position - 1]!]!) {
        batch.sort((a, b) => times[a]! - times[b]!);
        break;
      }
    }
    const callbacks: Array<(() => void) | undefined> = [];
    for (const index of batch) {
      callbacks.push(this.callbacks[index]);
      this.release(index);
    }
    this.count -= batch.length;
    for (const callback of callbacks) {
      try {
        callback?.();
      } catch (error) {
        this.onError(error);
      }
    }
    return callbacks.length;
  }

  private arm(): void {
    const expiry = this.nextExpiry();
    if (expiry === undefined) {
      if (this.handle) this.clock.clearTimeout(this.handle);
      this.handle = undefined;
      this.armedFor = Infinity;
      return;
    }
    const now = this.clock.now();
    const wake = Math.min(expiry, now + this.maxSleepMs);
    if (this.handle && this.armedFor <= wake) return;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.armedFor = wake;
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.armedFor = Infinity;
      this.advance();
    }, wake - now);
  }
}
