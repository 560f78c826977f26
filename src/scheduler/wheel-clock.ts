import type { Clock } from "../clock/index.js";
import type { TimingWheel } from "./timing-wheel.js";

/**
 * A clock whose timers live in the timing wheel: handed to the engine (step timeouts, retry
 * backoffs) and the outbox (delayed deliveries), so every timer of the daemon is in one wheel
 * behind one armed Node timer.
 */
export function createWheelClock(wheel: TimingWheel, base: Clock): Clock {
  return {
    now: () => base.now(),
    setTimeout: (callback, delayMs) => ({ id: wheel.schedule(base.now() + Math.max(0, delayMs), callback) }),
    clearTimeout: (handle) => {
      wheel.cancel(handle.id as number);
    },
  };
}
