import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { agentToolLoop, McpClients, type McpConfig } from "../agent/index.js";
import { ApprovalService } from "../approvals/index.js";
import { AuditLog, createAuditAlerter, subscribeAuditRecorder, type AuditEntry } from "../audit/index.js";
import type { Clock } from "../clock/index.js";
import type { ResolvedConfig } from "../config/index.js";
import { createEgressControl } from "../egress/index.js";
import {
  Engine,
  type EngineOptions,
  type StepMiddleware,
  type StepRegistry,
  type StepServices,
  type WorkflowLauncher,
} from "../engine/index.js";
import type { EventBus } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import { ModelService, type ModelsConfigInput } from "../models/index.js";
import { createLogDeliverer, createWebhookDeliverer, Outbox } from "../outbox/index.js";
import { createPolicyMiddleware } from "../policy/index.js";
import { createSandboxMiddleware, workspaceFor } from "../sandbox/index.js";
import { shellCommandOf } from "../steps/shell/index.js";
import { SqliteStore, type Store } from "../store/index.js";
import { createEmbeddedAllocator } from "../models/embedded/index.js";

export interface RuntimeOptions {
  config: ResolvedConfig;
  clock: Clock;
  logger: Logger;
  events: EventBus;
  registry: StepRegistry;
  middleware?: StepMiddleware[];
  /** Starts workflow runs for the agent's run_workflow tool (the daemon's dispatcher). */
  workflows?: WorkflowLauncher;
}

/** Store, outbox and engine wired together; shared by the daemon and the foreground `run` command. */
export interface Runtime {
  store: Store;
  outbox: Outbox;
  engine: Engine;
  /** The hash-chained audit log (DATA_DIR/audit.log); undefined when `audit.enabled: false`. */
  audit: AuditLog | undefined;
  approvals: ApprovalService;
  /** The MCP servers of config.yaml `mcp:` (connected on first use); undefined when none are configured. */
  mcp: McpClients | undefined;
  /** Models, routing matrix and result cache (`models:`, `routing:`, `cache:`). */
  models: ModelService;
  /** The engine's step services and middleware chain (policy, egress, sandbox): chat tools run through the same checks as shell steps. */
  stepServices: StepServices;
  stepMiddleware: readonly StepMiddleware[];
  /** Stops recording events and closes the audit log (the store is closed by its owner). */
  close(): void;
}

/** How soon a daemon notices a delivery queued by another process (`localagent run`) in its store. */
const OUTBOX_POLL_INTERVAL_MS = 1000;

/** The data directory's audit log as configured (`DATA_DIR/audit.log`); the CLI uses it to record its own acts. */
export function createAuditLog(config: ResolvedConfig, clock: Clock, onEntry?: (entry: AuditEntry) => void): AuditLog {
  return new AuditLog({
    file: join(config.dataDir, "audit.log"),
    clock,
    durability: config.audit.durability ?? config.durability,
    secrets: config.secrets,
    ...(onEntry ? { onEntry } : {}),
  });
}

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
  const approvals = new ApprovalService({ store, clock, events, defaultTimeoutMs: config.approvals.timeoutMs });
  const unsubscribeApprovals = events.subscribe((event) => {
    if (event.type === "run-finished") approvals.closeRun(event.runId, event.status);
  });
  let audit: AuditLog | undefined;
  let unsubscribe = (): void => {};
  if (config.audit.enabled) {
    const alert = createAuditAlerter({ rules: config.audit.alerts, queue: outbox, platforms: config.notifications, logger });
    audit = createAuditLog(config, clock, alert);
    const log = audit;
    unsubscribe = subscribeAuditRecorder(events, (input) => log.record(input), logger);
  }
  // network: [hosts] steps: a per-step egress proxy (started on first use), closed with the runtime.
  const egress = createEgressControl({ socketDir: join(config.dataDir, "egress") });
  const mcpConfig = config.extensions.mcp as McpConfig | undefined;
  const mcp = mcpConfig && Object.keys(mcpConfig.servers).length > 0 ? new McpClients({ config: mcpConfig, logger }) : undefined;
  const models = createModelService(config, store, logger, audit);
  const engineOptions: EngineOptions = {
    store,
    registry,
    // The command policy wraps every step, outermost, so nothing runs a shell command it has not checked.
    middleware: [
      createPolicyMiddleware({ config: config.extensions.policy }),
      // Outside the sandbox: opens the step's egress proxy (network: [hosts]); the sandbox binds its socket in.
      egress.middleware,
      // Inside the policy: the sandbox wraps the command the policy allowed, never another one.
      createSandboxMiddleware({ config: config.extensions.sandbox, dataDir: config.dataDir, commandOf: shellCommandOf }),
      ...(options.middleware ?? []),
    ],
    services: {
      clock,
      logger,
      events,
      deliveries: outbox,
      approvals,
      ...(audit ? { audit } : {}),
      ...(options.workflows ? { workflows: options.workflows } : {}),
      ...(mcp ? { mcp } : {}),
      models,
      // The ai step's tools: path runs the agent loop (src/agent) on the routed model.
      agentLoop: agentToolLoop,
      settings: {
        maxOutputBytes: config.maxOutputBytes,
        notificationPlatforms: config.notifications,
        workspaceDir,
        // Where the sandbox middleware runs a workflow's shell steps; the agent's file tools use the same folder.
        workflowWorkspace: (workflow) => workspaceFor(config.dataDir, workflow),
      },
    },
  };
  const engine = new Engine(engineOptions);
  return {
    stepServices: engineOptions.services,
    stepMiddleware: engineOptions.middleware ?? [],
    store,
    outbox,
    engine,
    audit,
    approvals,
    mcp,
    models,
    close: () => {
      // Ends the MCP sessions and the stdio servers the agent started.
      void mcp?.close().catch((error: unknown) => logger.warn({ err: error }, "MCP clients did not close cleanly"));
      void models.close();
      unsubscribeApprovals();
      unsubscribe();
      void egress.close();
      audit?.close();
    },
  };
}

/** The `models:`/`routing:`/`cache:` sections of a resolved config (validated by the config schema). */
export function modelSections(config: ResolvedConfig): ModelsConfigInput {
  const { models, routing, cache } = config.extensions as ModelsConfigInput;
  return { ...(models ? { models } : {}), ...(routing ? { routing } : {}), ...(cache ? { cache } : {}) };
}

function createModelService(config: ResolvedConfig, store: Store, logger: Logger, audit: AuditLog | undefined): ModelService {
  return new ModelService({
    initial: modelSections(config),
    source: config.configFile ?? "config.yaml",
    configDir: config.configDir,
    ...(config.modelPath ? { modelPath: config.modelPath } : {}),
    store,
    logger,
    ...(audit ? { audit } : {}),
    deps: {
      ...(config.memoryLimitBytes !== undefined ? { memoryLimitBytes: config.memoryLimitBytes } : {}),
      allocator: createEmbeddedAllocator(config, logger),
    },
  });
}
