import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../clock/index.js";
import type { ResolvedConfig } from "../config/index.js";
import { Engine, type StepMiddleware, type StepRegistry } from "../engine/index.js";
import type { EventBus } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import { createLogDeliverer, createWebhookDeliverer, Outbox } from "../outbox/index.js";
import { createPolicyMiddleware } from "../policy/index.js";
import { SqliteStore, type Store } from "../store/index.js";

export interface RuntimeOptions {
  config: ResolvedConfig;
  clock: Clock;
  logger: Logger;
  events: EventBus;
  registry: StepRegistry;
  middleware?: StepMiddleware[];
}

/** Store, outbox and engine wired together; shared by the daemon and the foreground `run` command. */
export interface Runtime {
  store: Store;
  outbox: Outbox;
  engine: Engine;
}

/** How soon a daemon notices a delivery queued by another process (`localagent run`) in its store. */
const OUTBOX_POLL_INTERVAL_MS = 1000;

export function createRuntime(options: RuntimeOptions): Runtime {
  const { config, clock, logger, events, registry } = options;
  const workspaceDir = join(config.dataDir, "workspace");
  mkdirSync(workspaceDir, { recursive: true });
  const store = new SqliteStore({ path: config.databasePath, durability: config.durability });
  const outbox = new Outbox({
    store,
    clock,
    events,
    logger,
    deliverers: [createLogDeliverer(logger), createWebhookDeliverer()],
    backoffMs: config.outbox.backoffMs,
    maxBackoffMs: config.outbox.maxBackoffMs,
    pollIntervalMs: OUTBOX_POLL_INTERVAL_MS,
  });
  const engine = new Engine({
    store,
    registry,
    // The command policy wraps every step, outermost, so nothing runs a shell command it has not checked.
    middleware: [createPolicyMiddleware({ config: config.extensions.policy }), ...(options.middleware ?? [])],
    services: {
      clock,
      logger,
      events,
      deliveries: outbox,
      settings: { maxOutputBytes: config.maxOutputBytes, notificationPlatforms: config.notifications, workspaceDir },
    },
  });
  return { store, outbox, engine };
}
