import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.js";
import { TimingWheel } from "./timing-wheel.js";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const DAY = 86_400_000;

function setup(start = T0) {
  const clock = new ManualClock(start);
  const wheel = new TimingWheel({ clock });
  const fired: Array<{ label: string; at: number; firedAt: number }> = [];
  const add = (label: string, at: number) => wheel.schedule(at, () => fired.push({ label, at, firedAt: clock.now() }));
  return { clock, wheel, fired, add };
}

/** A small deterministic PRNG, so a failing seed can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32;
    return state / 2 ** 32;
  };
}

describe("TimingWheel", () => {
  it("fires in time order, each at its own time, across every level", () => {
    const { clock, wheel, fired, add } = setup();
    const offsets = [5, 0, 255, 256, 257, 16_383, 16_384, 70_000, 1_048_577, 3 * DAY, 40 * DAY];
    offsets.forEach((offset) => add(String(offset), T0 + offset));
    wheel.start();
    clock.advance(41 * DAY);
    expect(fired.map((entry) => Number(entry.label))).toEqual([...offsets].sort((a, b) => a - b));
    for (const entry of fired) expect(entry.firedAt).toBe(entry.at);
    expect(wheel.size).toBe(0);
  });

  it("matches a sorted reference for 20 000 random timers with random cancels and advances", () => {
    const next = random(42);
    const { clock, wheel, fired } = setup();
    const live = new Map<string, { at: number; timer: number }>();
    let cancelled = 0;
    const order: string[] = [];
    const add = (label: string, at: number) =>
      wheel.schedule(at, () => {
        live.delete(label);
        fired.push({ label, at, firedAt: clock.now() });
      });
    for (let index = 0; index < 20_000; index++) {
      const span = [300, 20_000, 2_000_000, 90 * DAY][Math.floor(next() * 4)] ?? 1000;
      const at = clock.now() + Math.floor(next() * span);
      live.set(String(index), { at, timer: add(String(index), at) });
      order.push(String(index));
      if (next() < 0.2) {
        // One of the 50 newest timers still waiting (cheap to pick, any level).
        const recent = order.slice(-50).filter((label) => live.has(label));
        const victim = recent[Math.floor(next() * recent.length)];
        if (victim !== undefined) {
          expect(wheel.cancel(live.get(victim)!.timer)).toBe(true);
          live.delete(victim);
          cancelled += 1;
        }
      }
      if (next() < 0.05) {
        const before = fired.length;
        const now = clock.now() + Math.floor(next() * 5000);
        clock.set(now);
        wheel.advance(now);
        // Exactly the timers due by now fired, in time order, none early.
        const batch = fired.slice(before);
        expect(batch.map((entry) => entry.at)).toEqual([...batch.map((entry) => entry.at)].sort((a, b) => a - b));
        expect(Math.max(...batch.map((entry) => entry.at), -Infinity)).toBeLessThanOrEqual(now);
        let earliestWaiting = Infinity;
        for (const { at } of live.values()) earliestWaiting = Math.min(earliestWaiting, at);
        expect(earliestWaiting).toBeGreaterThan(now);
      }
    }
    wheel.advance(clock.now() + 91 * DAY);
    expect(live.size).toBe(0);
    expect(cancelled).toBeGreaterThan(1000);
    // Every timer either fired exactly once or was cancelled.
    expect(fired.length + cancelled).toBe(20_000);
    expect(new Set(fired.map((entry) => entry.label)).size).toBe(fired.length);
    expect(wheel.size).toBe(0);
  });

  it("cancel removes a timer in any level and reports whether it was still waiting", () => {
    const { clock, wheel, fired, add } = setup();
    const near = add("near", T0 + 10);
    const mid = add("mid", T0 + 20_000);
    const far = add("far", T0 + 60 * DAY);
    add("kept", T0 + 30);
    expect(wheel.cancel(near)).toBe(true);
    expect(wheel.cancel(mid)).toBe(true);
    expect(wheel.cancel(far)).toBe(true);
    expect(wheel.cancel(far)).toBe(false);
    expect(wheel.size).toBe(1);
    wheel.start();
    clock.advance(61 * DAY);
    expect(fired.map((entry) => entry.label)).toEqual(["kept"]);
  });

  it("fires 100 000 timers due in the same slot, all in one advance", () => {
    const { wheel, fired, add } = setup();
    for (let index = 0; index < 100_000; index++) add(String(index), T0 + 5_000);
    expect(wheel.advance(T0 + 4_999)).toBe(0);
    expect(wheel.advance(T0 + 5_000)).toBe(100_000);
    expect(fired).toHaveLength(100_000);
  });

  it("keeps one Node timer armed for the next slot, none when empty", () => {
    const { clock, wheel, add } = setup();
    wheel.start();
    expect(clock.pendingTimers).toBe(0);
    add("a", T0 + 2 * DAY);
    add("b", T0 + 100);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(2 * DAY);
    expect(wheel.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it("a clock jump forward fires what became due; a jump back fires nothing twice", () => {
    const { clock, wheel, fired, add } = setup();
    add("one", T0 + 60_000);
    add("two", T0 + 3_600_000);
    wheel.start();
    clock.set(T0 + 2 * 3_600_000); // e.g. resume after suspend: the armed timer still waits
    clock.advance(30_000); // the capped sleep wakes the wheel, which reads the wall clock
    expect(fired.map((entry) => entry.label)).toEqual(["one", "two"]);
    clock.set(T0); // NTP puts the clock back two hours
    clock.advance(3 * 3_600_000);
    expect(fired.map((entry) => entry.label)).toEqual(["one", "two"]);
    add("three", T0 + 3 * 3_600_000 + 1000);
    clock.advance(2000);
    expect(fired.map((entry) => entry.label)).toEqual(["one", "two", "three"]);
  });

  it("runs timers scheduled from a callback, including ones already due", () => {
    const { clock, wheel, fired, add } = setup();
    wheel.schedule(T0 + 10, () => {
      add("again-now", clock.now() - 5);
      add("later", clock.now() + 300);
    });
    wheel.start();
    clock.advance(1000);
    expect(fired.map((entry) => entry.label)).toEqual(["again-now", "later"]);
  });

  it("handles stay exact after an entry is reused past 2^31 (generations wrap, stale handles are refused)", () => {
    const { clock, wheel, fired, add } = setup();
    let stale = add("first", T0 + 100);
    // One entry, reused: its generation climbs past 128, so handles exceed 2^31 (no longer small integers).
    for (let round = 0; round < 300; round++) {
      expect(wheel.cancel(stale)).toBe(true);
      const next = add(`again-${round}`, T0 + 100 + round);
      expect(wheel.cancel(stale)).toBe(false);
      expect(wheel.timeOf(stale)).toBeUndefined();
      stale = next;
    }
    expect(stale).toBeGreaterThan(2 ** 31);
    expect(wheel.timeOf(stale)).toBe(T0 + 399);
    expect(wheel.size).toBe(1);
    wheel.start();
    clock.advance(1000);
    expect(fired.map((entry) => entry.label)).toEqual(["again-299"]);
  });

  it("a throwing callback is reported and the others still fire", () => {
    const clock = new ManualClock(T0);
    const errors: unknown[] = [];
    const wheel = new TimingWheel({ clock, onError: (error) => errors.push(error) });
    const seen: string[] = [];
    wheel.schedule(T0 + 1, () => {
      throw new Error("boom");
    });
    wheel.schedule(T0 + 1, () => seen.push("ok"));
    wheel.advance(T0 + 1);
    expect(seen).toEqual(["ok"]);
    expect(errors).toHaveLength(1);
  });
});
