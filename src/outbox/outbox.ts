import type { Clock, TimerHandle } from "../clock/index.js";
import type { DeliveryQueue } from "../engine/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import type { EventBus } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import type { DeliveryRecord, Store } from "../store/index.js";

/** Sends one delivery of a kind (`log`, `webhook`, later chat platforms). Throw to retry. */
export interface Deliverer {
  readonly kind: string;
  /** True when the destination needs the network (it then waits while offline). */
  needsNetwork(delivery: DeliveryRecord): boolean;
  deliver(delivery: DeliveryRecord, signal: AbortSignal): Promise<void>;
}

export interface OutboxOptions {
  store: Store;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  deliverers: Deliverer[];
  /** First retry delay; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** After this many attempts a delivery that fails permanently (non-retryable) is set aside as dead. */
  maxAttempts?: number;
  /** Per-attempt timeout. */
  attemptTimeoutMs?: number;
  /**
   * Also look at the queue this often while idle, for deliveries that another process queued in the
   * same store (`localagent run` beside a running daemon); nothing else would wake this outbox for them.
   */
  pollIntervalMs?: number;
}

/**
 * The durable outbox: everything outbound is written here first, then delivered in order per
 * destination with retries and backoff. The idempotency key travels with each attempt, so a
 * receiver can drop the rare duplicate of a delivery whose acknowledgement was lost in a crash.
 */
export class Outbox implements DeliveryQueue {
  private readonly deliverers = new Map<string, Deliverer>();
  private readonly inFlight = new Set<string>();
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private running = false;
  private online = true;
  private controller = new AbortController();
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private ignoreBackoff = false;

  constructor(private readonly options: OutboxOptions) {
    for (const deliverer of options.deliverers) this.deliverers.set(deliverer.kind, deliverer);
  }

  register(deliverer: Deliverer): void {
    this.deliverers.set(deliverer.kind, deliverer);
    if (this.running) this.kick();
  }

  enqueue(delivery: { destination: string; kind: string; payload: unknown; idempotencyKey: string }): number | undefined {
    const { store, clock, events } = this.options;
    const id = store.enqueueDelivery({ ...delivery, at: clock.now() });
    if (id !== undefined) {
      events.emit({ type: "delivery-queued", deliveryId: id, destination: delivery.destination, at: clock.now() });
      if (this.running) this.kick();
    }
    return id;
  }

  start(): void {
    // stop() aborts for good; a restarted outbox needs a live signal, or every attempt would abort at once.
    if (this.controller.signal.aborted) this.controller = new AbortController();
    this.running = true;
    this.kick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.controller.abort(new LocalAgentError("delivery_failed", "outbox stopped"));
    await this.pumping;
  }

  /** Connectivity changed: while offline, network deliveries wait; on return they go at once. */
  setOnline(online: boolean): void {
    this.online = online;
    if (online && this.running) this.kick(true);
  }

  /** Schedules a pass over the queue heads soon. `now` ignores pending backoffs (network came back). */
  kick(now = false): void {
    if (!this.running) return;
    if (now) this.ignoreBackoff = true;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    const ignoreBackoff = this.ignoreBackoff;
    this.ignoreBackoff = false;
    this.pumping = this.pump(ignoreBackoff).finally(() => {
      this.pumping = undefined;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.kick();
      }
    });
  }

  private async pump(ignoreBackoff: boolean): Promise<void> {
    const { store, clock } = this.options;
    const heads = store.nextDeliveries();
    let earliest = Infinity;
    const sends: Promise<void>[] = [];
    let failed = false;
    for (const delivery of heads) {
      if (this.inFlight.has(delivery.destination)) continue;
      const deliverer = this.deliverers.get(delivery.kind);
      if (deliverer && !this.online && deliverer.needsNetwork(delivery)) continue;
      if (!ignoreBackoff && delivery.nextAttemptAt > clock.now()) {
        earliest = Math.min(earliest, delivery.nextAttemptAt);
        continue;
      }
      if (!deliverer) {
        // Its channel may be registered later: retry with backoff like any failure, dead after maxAttempts.
        this.fail(delivery, new LocalAgentError("delivery_failed", `no deliverer for kind "${delivery.kind}"`), true);
        failed = true;
        continue;
      }
      sends.push(this.send(deliverer, delivery));
    }
    await Promise.all(sends);
    if (sends.length > 0 || failed) this.pumpAgain = true;
    else {
      const poll = this.options.pollIntervalMs === undefined ? Infinity : clock.now() + this.options.pollIntervalMs;
      if (Math.min(earliest, poll) < Infinity) this.armTimer(Math.min(earliest, poll));
    }
  }

  private async send(deliverer: Deliverer, delivery: DeliveryRecord): Promise<void> {
    const { store, clock, events } = this.options;
    this.inFlight.add(delivery.destination);
    const controller = this.controller;
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.options.attemptTimeoutMs ?? 30_000)]);
    try {
      await deliverer.deliver(delivery, signal);
      store.markDelivered(delivery.id, clock.now());
      events.emit({
        type: "delivery-sent",
        deliveryId: delivery.id,
        destination: delivery.destination,
        attempts: delivery.attempts + 1,
        at: clock.now(),
      });
    } catch (error) {
      if (!controller.signal.aborted) this.fail(delivery, error, false);
    } finally {
      this.inFlight.delete(delivery.destination);
    }
  }

  private fail(delivery: DeliveryRecord, error: unknown, permanent: boolean): void {
    const { store, clock, events, logger } = this.options;
    const attempts = delivery.attempts + 1;
    const retryable = !permanent && !(error instanceof LocalAgentError && !error.retryable);
    const dead = !retryable && attempts >= (this.options.maxAttempts ?? 5);
    const base = this.options.backoffMs ?? 1000;
    const backoff = Math.min(base * 2 ** Math.min(attempts - 1, 20), this.options.maxBackoffMs ?? 300_000);
    // A destination that said when to come back (429/503 Retry-After, Telegram's retry_after) is not asked sooner.
    const delay = Math.max(backoff, retryAfterMsOf(error));
    const message = errorMessage(error);
    store.markDeliveryAttemptFailed(delivery.id, { error: message, nextAttemptAt: clock.now() + delay, dead });
    events.emit({
      type: "delivery-failed",
      deliveryId: delivery.id,
      destination: delivery.destination,
      attempts,
      error: message,
      at: clock.now(),
    });
    logger.warn(
      { delivery: delivery.id, destination: redactDestination(delivery.destination), attempts, dead },
      `delivery failed: ${message}`,
    );
  }

  private armTimer(at: number): void {
    const { clock } = this.options;
    // A pass that ends after stop() must not leave a timer keeping the process alive.
    if (!this.running) return;
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.kick();
    }, at - clock.now());
  }
}

/** Destinations may embed credentials in URLs; logs only ever see the origin. */
/** Longest wait a destination's Retry-After may ask for (a bogus huge value must not park the queue). */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** `details.retryAfterMs` of a deliverer's error, capped; 0 when it gave none. */
export function retryAfterMsOf(error: unknown): number {
  const value = error instanceof LocalAgentError ? error.details.retryAfterMs : undefined;
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.min(value, MAX_RETRY_AFTER_MS) : 0;
}

export function redactDestination(destination: string): string {
  const [kind, ...rest] = destination.split(":");
  try {
    const url = new URL(rest.join(":"));
    return `${kind}:${url.origin}${url.pathname}`;
  } catch {
    return destination;
  }
}
