export type { EmitOptions, Fire, FireHandler, Scheduler, TriggerEmit, TriggerOutcome, TriggerSource } from "./scheduler.js";
export { SimpleScheduler } from "./simple-scheduler.js";
export { TimingWheel, type TimingWheelOptions, type WheelTimer } from "./timing-wheel.js";
