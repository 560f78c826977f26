import type { Clock } from "../../clock/index.js";
import { NetworkMonitor, type ConnectivityProbe } from "../../outbox/index.js";
import type { TriggerEmit, TriggerSource } from "../../scheduler/index.js";

export interface NetworkSourceOptions {
  clock: Clock;
  probe?: ConnectivityProbe;
  intervalMs?: number;
  /** Told first on every change (the daemon pauses or resumes the outbox), before workflows fire. */
  onChange?: (online: boolean) => void;
}

/** `network.online` / `network.offline` with the payload `{online}`, from a polling connectivity monitor. */
export class NetworkSource implements TriggerSource {
  readonly name = "network";
  private readonly monitor: NetworkMonitor;
  private emit: TriggerEmit | undefined;

  constructor(private readonly options: NetworkSourceOptions) {
    this.monitor = new NetworkMonitor({
      clock: options.clock,
      ...(options.probe ? { probe: options.probe } : {}),
      ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
      onChange: (online) => this.changed(online),
    });
  }

  /** The last probe's answer (true before the first). */
  get online(): boolean {
    return this.monitor.online;
  }

  /** Probes once (so `online` is known when this resolves), then keeps polling. */
  async start(emit: TriggerEmit): Promise<void> {
    this.emit = emit;
    await this.monitor.start();
  }

  stop(): void {
    this.emit = undefined;
    this.monitor.stop();
  }

  /** Probes now instead of at the next tick. */
  check(): Promise<boolean> {
    return this.monitor.check();
  }

  private changed(online: boolean): void {
    if (!this.emit) return;
    this.options.onChange?.(online);
    this.emit(online ? "network.online" : "network.offline", { online });
  }
}
