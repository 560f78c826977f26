import { networkInterfaces } from "node:os";
import type { Clock, TimerHandle } from "../clock/index.js";

/** Answers whether the machine is online. Injected so tests can flip connectivity. */
export type ConnectivityProbe = () => boolean | Promise<boolean>;

/** Online when any non-internal interface has a routable address. Cheap: no packets are sent. */
export const interfaceProbe: ConnectivityProbe = () =>
  Object.values(networkInterfaces()).some((addresses) =>
    (addresses ?? []).some(
      (address) => !address.internal && !address.address.startsWith("fe80:") && !address.address.startsWith("169.254."),
    ),
  );

export interface NetworkMonitorOptions {
  clock: Clock;
  probe?: ConnectivityProbe;
  intervalMs?: number;
  onChange: (online: boolean) => void;
}

/** Polls connectivity and reports changes (the daemon turns them into `network.online` / `network.offline`). */
export class NetworkMonitor {
  private timer: TimerHandle | undefined;
  private current: boolean | undefined;
  private stopped = false;

  constructor(private readonly options: NetworkMonitorOptions) {}

  get online(): boolean {
    return this.current ?? true;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.current = await (this.options.probe ?? interfaceProbe)();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
  }

  /** Probes now; reports a change. */
  async check(): Promise<boolean> {
    const online = await (this.options.probe ?? interfaceProbe)();
    if (online !== this.current) {
      this.current = online;
      this.options.onChange(online);
    }
    return online;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      void this.check().finally(() => this.schedule());
    }, this.options.intervalMs ?? 5000);
  }
}
