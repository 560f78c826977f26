export type { EmitOptions, Fire, FireHandler, Scheduler, TriggerEmit, TriggerOutcome, TriggerSource } from "./scheduler.js";
export { TimingWheel, type TimingWheelOptions, type WheelTimer } from "./timing-wheel.js";
export { createWheelClock } from "./wheel-clock.js";
export { WheelScheduler, type WheelSchedulerOptions } from "./wheel-scheduler.js";
