import type { TriggerEmit, TriggerSource } from "../../scheduler/index.js";

/**
 * `daemon.start` with the payload `{at}`, once per daemon start. It fires when the daemon calls
 * `ready` (everything up, the API listening), not when the source starts: a start that fails
 * half-way must not have journaled a run that the next start would then run a second time.
 */
export class DaemonStartSource implements TriggerSource {
  readonly name = "daemon-start";
  private emit: TriggerEmit | undefined;
  private fired = false;

  start(emit: TriggerEmit): void {
    this.emit = emit;
  }

  stop(): void {
    this.emit = undefined;
  }

  /** Fires `daemon.start` (once; later calls do nothing). */
  ready(at: number): void {
    if (!this.emit || this.fired) return;
    this.fired = true;
    this.emit("daemon.start", { at });
  }
}
