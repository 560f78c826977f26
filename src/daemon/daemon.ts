import { mkdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import type { ApprovalDecision, ApprovalService } from "../approvals/index.js";
import type { AuditLog } from "../audit/index.js";
import { ChannelManager, LanguageModelResponder, loadPlatforms, noModelResponder, type ConversationResponder } from "../channels/index.js";
import type { LanguageModel } from "../models/types.js";
import "../channels/builtin.js";
import { systemClock, type Clock } from "../clock/index.js";
import { loadConfig, type ResolvedConfig } from "../config/index.js";
import type { Engine, StepMiddleware, StepRegistry } from "../engine/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import { EventBus, type LocalAgentEvent, type RunStatus } from "../events/index.js";
import { createLogger, type Logger } from "../logger/index.js";
import type { ConnectivityProbe, Outbox } from "../outbox/index.js";
import { createWheelClock, TimingWheel, WheelScheduler, type Scheduler, type TriggerSource } from "../scheduler/index.js";
import { HttpServer, type DaemonApi, type ModelsApi } from "../server/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import type { RunRecord, Store } from "../store/index.js";
import {
  ChatCommandSource,
  DaemonStartSource,
  FileSource,
  HttpEventSource,
  NetworkSource,
  TriggerHub,
  WorkflowFinishedSource,
} from "../triggers/index.js";
import { formatIssue, type WorkflowDefinition, type WorkflowIssue } from "../workflow/index.js";
import { Dispatcher, type Submission } from "./dispatcher.js";
import { acquirePidLock, runOwner } from "./pid-lock.js";
import { deliveryView, runView, triggerOutcomeView, workflowView } from "./views.js";
import { createRuntime, modelSections, type Runtime } from "./runtime.js";
import { createConversationResponder } from "./conversations.js";
import { loadWorkflowSet } from "./workflow-set.js";

export interface DaemonOptions {
  config: ResolvedConfig;
  /** Extra workflow files given on the command line. */
  workflowFiles?: string[];
  clock?: Clock;
  logger?: Logger;
  registry?: StepRegistry;
  middleware?: StepMiddleware[];
  scheduler?: Scheduler;
  probe?: ConnectivityProbe;
  /** More event sources beside the built-in ones (HTTP, files, network, workflow finished, daemon start, chat). */
  triggerSources?: TriggerSource[];
  /** How often a file trigger looks again for a missing folder (default 5 s). */
  fileRetryMs?: number;
  /** Serve HTTP (default true). */
  serve?: boolean;
  /** Answers chat messages (conversations); default: the configured model once the model layer lands, else a notice. */
  conversationResponder?: ConversationResponder;
}

export const VERSION = readVersion();

/** The always-on process: loads workflows, schedules them, serves the API, resumes what a crash interrupted. */
export class Daemon implements DaemonApi {
  readonly events: EventBus;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: StepRegistry;
  private store!: Store;
  private engine!: Engine;
  private runtime: Runtime | undefined;
  private outbox!: Outbox;
  private dispatcher!: Dispatcher;
  private server: HttpServer | undefined;
  private readonly scheduler: Scheduler;
  private readonly wheel: TimingWheel;
  private readonly triggers: TriggerHub;
  private readonly network: NetworkSource;
  private readonly httpEvents = new HttpEventSource();
  private readonly daemonStart = new DaemonStartSource();
  /** Chat commands (`on: chat:/deploy`): the channels layer hands each authorised inbound message to `receive`. */
  readonly chatCommands = new ChatCommandSource();
  private workflows = new Map<string, WorkflowDefinition>();
  private issues: WorkflowIssue[] = [];
  private releaseLock: (() => void) | undefined;
  /** The chat channels (platforms.json / platforms:), after start. */
  channels: ChannelManager | undefined;
  private startedAt = 0;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: DaemonOptions) {
    const base = options.clock ?? systemClock;
    this.logger = options.logger ?? createLogger({ level: options.config.logLevel });
    this.events = new EventBus((error) => this.logger.error({ err: error }, "event listener failed"));
    this.registry = options.registry ?? createDefaultRegistry();
    // One wheel holds every timer of the daemon: schedules, step timeouts, retry backoffs, outbox delays.
    this.wheel = new TimingWheel({ clock: base, onError: (error) => this.logger.error({ err: error }, "timer callback failed") });
    this.clock = createWheelClock(this.wheel, base);
    this.scheduler =
      options.scheduler ??
      new WheelScheduler({
        clock: base,
        wheel: this.wheel,
        lastFire: (workflow) => this.store.getLastFire(workflow),
        onError: (error) => this.logger.error({ err: error }, "scheduled fire failed"),
      });
    this.network = new NetworkSource({
      clock: this.clock,
      intervalMs: options.config.networkProbeIntervalMs,
      ...(options.probe ? { probe: options.probe } : {}),
      onChange: (online) => this.onNetworkChange(online),
    });
    const files = new FileSource({
      clock: this.clock,
      logger: this.logger,
      ...(options.fileRetryMs !== undefined ? { retryMs: options.fileRetryMs } : {}),
    });
    this.triggers = new TriggerHub({
      sources: [
        this.network,
        this.httpEvents,
        files,
        this.chatCommands,
        new WorkflowFinishedSource(this.events),
        ...(options.triggerSources ?? []),
        this.daemonStart,
      ],
      launch: (workflow, fire) => {
        const submitted = this.submit(workflow, { trigger: fire.trigger, triggerPayload: fire.payload });
        return submitted.status === "skipped" ? { skipped: submitted.reason } : { runId: submitted.run.id };
      },
      events: this.events,
      clock: this.clock,
      logger: this.logger,
    });
  }

  /** The audit log (after start; undefined when disabled): `audit.record(entry)` for the policy and model/tool calls. */
  get audit(): AuditLog | undefined {
    return this.runtime?.audit;
  }

  /** Durable approvals (after start); `approvals.gate` is the command policy's `ApprovalGate`. */
  get approvals(): ApprovalService {
    if (!this.runtime) throw new LocalAgentError("unavailable", "the daemon has not started");
    return this.runtime.approvals;
  }

  get config(): ResolvedConfig {
    return this.options.config;
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return this.server?.port ?? this.config.server.port;
  }

  /** Starts everything; on failure whatever was already started is stopped again before the error is rethrown. */
  async start(): Promise<void> {
    try {
      await this.open();
    } catch (error) {
      // Without this a failed start (port in use, bad host) left the network probe's timer, the
      // store and the pid lock behind: the process printed the error and then never exited.
      await this.stop().catch((stopError: unknown) => this.logger.error({ err: stopError }, "cleanup after a failed start failed"));
      throw error;
    }
  }

  private async open(): Promise<void> {
    const { config } = this.options;
    this.startedAt = this.clock.now();
    mkdirSync(config.dataDir, { recursive: true });
    mkdirSync(config.cacheDir, { recursive: true });
    this.releaseLock = acquirePidLock(config.dataDir);
    const platforms = this.loadPlatforms();
    config.secrets.push(...platforms.secrets);
    // `platform: NAME` in a notification step goes to the chat platform NAME when one is configured.
    for (const platform of platforms.platforms)
      config.notifications[platform.name] = {
        type: "channel",
        channel: platform.name,
        ...(platform.chat_id ? { chatId: platform.chat_id } : {}),
      };
    const runtime = createRuntime({
      config,
      clock: this.clock,
      logger: this.logger,
      events: this.events,
      registry: this.registry,
      middleware: this.options.middleware ?? [],
      workflows: { launch: (name, launch) => this.launchFromAgent(name, launch) },
    });
    this.runtime = runtime;
    this.store = runtime.store;
    this.outbox = runtime.outbox;
    this.engine = runtime.engine;
    this.dispatcher = new Dispatcher({
      engine: this.engine,
      logger: this.logger,
      events: this.events,
      clock: this.clock,
      maxConcurrent: config.maxConcurrentRuns,
    });
    this.events.subscribe((event) => this.onEvent(event));
    this.reload();
    this.watchModelConfig();
    // Event sources start before the API listens, so an event posted as soon as /healthz answers is taken.
    await this.triggers.start();
    this.outbox.setOnline(this.network.online);
    this.channels = this.createChannels(platforms.platforms);
    await this.channels.start();
    if (this.options.serve !== false) {
      const server = new HttpServer({
        host: config.server.host,
        port: config.server.port,
        token: config.server.token,
        secrets: config.secrets,
        api: this,
        logger: this.logger,
        channels: this.channels,
      });
      await server.listen();
      this.server = server;
    }
    this.resumeUnfinished();
    this.outbox.start();
    this.wheel.start();
    this.recordScheduleBaseline();
    this.scheduler.start((fire) => {
      this.store.setLastFire(fire.workflow.name, fire.scheduledAt);
      this.submit(fire.workflow, { trigger: fire.trigger });
    });
    this.daemonStart.ready(this.startedAt);
    // Warm-up prompts fill the result cache in the background: readiness does not wait for models.
    void runtime.models.warmup();
    this.logger.info(
      {
        port: this.port,
        host: config.server.host,
        workflows: this.workflows.size,
        problems: this.issues.length,
        dataDir: config.dataDir,
        cacheDir: config.cacheDir,
        // Accepted now, consumed by the model and channel layers.
        ...(config.modelPath ? { modelPath: config.modelPath } : {}),
        ...(config.platformConfig ? { platformConfig: config.platformConfig } : {}),
        ...(config.memoryLimitBytes ? { memoryLimitBytes: config.memoryLimitBytes } : {}),
      },
      "localagent ready",
    );
  }

  /**
   * `platforms:` (validated with config.yaml) and `--platform-config FILE`. A platforms.json that
   * cannot be read or is invalid does not stop the daemon: it is logged and listed in
   * `GET /api/channels` as a failed entry with the reason (file and JSON path).
   */
  private loadPlatforms(): ReturnType<typeof loadPlatforms> {
    const { config } = this.options;
    const inline = loadPlatforms({ inline: config.extensions.platforms });
    if (!config.platformConfig) return inline;
    try {
      const file = loadPlatforms({ file: config.platformConfig });
      const clash = file.platforms.find((platform) => inline.platforms.some((other) => other.name === platform.name));
      if (clash)
        throw new LocalAgentError("config_invalid", `${clash.where}: name "${clash.name}" is already used by platforms: in config.yaml`);
      return { platforms: [...inline.platforms, ...file.platforms], secrets: [...inline.secrets, ...file.secrets] };
    } catch (error) {
      const reason = errorMessage(error);
      this.logger.error({ file: config.platformConfig }, `platform config not loaded: ${reason}`);
      const failed = { name: basename(config.platformConfig), kind: "platforms.json", where: config.platformConfig, error: reason };
      return { platforms: [...inline.platforms, failed], secrets: inline.secrets };
    }
  }

  private createChannels(platforms: ReturnType<typeof loadPlatforms>["platforms"]): ChannelManager {
    return new ChannelManager({
      platforms,
      store: this.store,
      outbox: this.outbox,
      events: this.events,
      clock: this.clock,
      logger: this.logger,
      audit: this.runtime?.audit,
      approvals: this.runtime?.approvals,
      responder: this.options.conversationResponder ?? this.modelResponder(),
      commands: {
        runWorkflow: (name) => {
          const submitted = this.submit(this.workflow(name), { trigger: "chat" });
          if (submitted.status === "skipped") throw new LocalAgentError("conflict", `not started: ${submitted.reason}`);
          return Promise.resolve(submitted.run.id);
        },
        status: () => {
          const health = this.health();
          const pending = this.approvals.list({ status: "pending" }).length;
          return `LocalAgent ${health.version}: ${health.workflows} workflows, ${health.activeRuns} runs active, ${pending} approvals pending, ${health.problems} problems`;
        },
        chatCommand: (message) => this.chatCommands.receive(message),
      },
    });
  }

  /**
   * Conversations through the model router (task type `general` by default) when the runtime has
   * configured models (`runtime.models`, the model layer), else a notice that no model is set up.
   * Looked up per message, so models configured at run time are used at once.
   */
  private modelResponder(): ConversationResponder {
    // The agent loop with the configured tools (conversations:), each call through the command policy.
    if (this.runtime) return createConversationResponder({ config: this.options.config, runtime: () => this.runtime, events: this.events });
    return {
      respond: (request) => {
        const models = (this.runtime as { models?: { configured?: boolean; router?: LanguageModel } } | undefined)?.models;
        if (models?.configured && models.router) return new LanguageModelResponder(models.router).respond(request);
        return noModelResponder.respond(request);
      },
    };
  }

  /** Re-reads the workflow files (SIGHUP). Broken files are reported; the rest keep running. */
  reload(): void {
    const { config } = this.options;
    const set = loadWorkflowSet([config.workflowsDir, ...config.workflowPaths, ...(this.options.workflowFiles ?? [])], this.registry);
    this.workflows = set.workflows;
    this.issues = set.issues;
    for (const issue of set.issues) this.logger.error({ file: issue.file, line: issue.line, column: issue.column }, formatIssue(issue));
    const byFile = new Map<string, string[]>();
    for (const issue of set.issues) byFile.set(issue.file, [...(byFile.get(issue.file) ?? []), formatIssue(issue)]);
    for (const [file, errors] of byFile) this.events.emit({ type: "workflow-invalid", file, errors, at: this.clock.now() });
    this.scheduler.setWorkflows([...this.workflows.values()]);
    this.triggers.setWorkflows([...this.workflows.values()]);
    // SIGHUP also re-reads models:, routing: and cache: (skipped on the first call, from start()).
    if (this.modelsWatched) this.runtime?.models.reloadFile(config.configFile, () => this.readModelSections(), true);
  }

  private modelsWatched = false;

  /** The model sections of config.yaml as they are now on disk (validated; throws config_invalid naming file:line:column). */
  private readModelSections() {
    const { config } = this.options;
    return modelSections(
      loadConfig({ configDir: config.configDir, dataDir: config.dataDir, ...(config.modelPath ? { modelPath: config.modelPath } : {}) }),
    );
  }

  /** Config file edits apply models:, routing: and cache: without a restart. */
  private watchModelConfig(): void {
    this.modelsWatched = true;
    const file = this.options.config.configFile;
    if (file) this.runtime?.models.watch(file, () => this.readModelSections());
  }

  /** Graceful stop: no new runs, running steps get the grace period, state is flushed. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.logger.info({ graceMs: this.config.shutdownGraceMs }, "stopping");
    this.scheduler.stop();
    await this.channels?.stop();
    await this.triggers.stop();
    // Before the drain: a run finishing during it would otherwise hand its slot to a queued run.
    this.dispatcher?.close();
    await this.engine?.drain(this.config.shutdownGraceMs);
    await this.server?.close();
    await this.outbox?.stop();
    this.wheel.stop();
    this.runtime?.close();
    this.store?.close();
    this.releaseLock?.();
    this.logger.info("stopped");
  }

  /**
   * A scheduled workflow that never fired gets "now" as its last fire, so time the daemon is down
   * from here on counts as missed (misfire policy) even before its first fire.
   */
  private recordScheduleBaseline(): void {
    const now = this.clock.now();
    for (const workflow of this.workflows.values()) {
      const timed = workflow.triggers.some((trigger) => trigger.kind === "cron" || trigger.kind === "every");
      if (timed && this.store.getLastFire(workflow.name) === undefined) this.store.setLastFire(workflow.name, now);
    }
  }

  private resumeUnfinished(): void {
    for (const run of this.store.listUnfinishedRuns()) {
      const owner = runOwner(this.store, run.id);
      if (owner !== undefined) {
        this.logger.info({ run: run.id, pid: owner }, "run belongs to a foreground localagent run; not resuming it");
        continue;
      }
      const workflow = this.workflows.get(run.workflow);
      if (!workflow) {
        const hint = run.trigger === "cli" ? "; it was a foreground run: run its file again with localagent run" : "";
        this.store.setRunStatus(run.id, "failed", {
          error: `workflow "${run.workflow}" is not among the daemon's workflows${hint}`,
          at: this.clock.now(),
        });
        continue;
      }
      this.logger.info({ run: run.id, workflow: run.workflow }, "resuming run");
      void this.dispatcher.enqueue(workflow, run.id).catch(() => undefined);
    }
  }

  /** The agent's run_workflow tool: queues a run like the API does, without waiting for it. */
  private launchFromAgent(name: string, options: { inputs: Record<string, unknown>; trigger: string }): { runId: string; status: string } {
    if (this.stopping) throw new LocalAgentError("unavailable", "the daemon is shutting down", { retryable: true });
    const submitted = this.submit(this.workflow(name), options);
    if (submitted.status === "skipped") throw new LocalAgentError("conflict", `workflow "${name}" not started: ${submitted.reason}`);
    return { runId: submitted.run.id, status: submitted.run.status };
  }

  private submit(
    workflow: WorkflowDefinition,
    options: { trigger: string; inputs?: Record<string, unknown>; triggerPayload?: unknown },
  ): Submission {
    const submitted = this.dispatcher.submit(workflow, options);
    if (submitted.status === "queued") submitted.done.catch(() => undefined);
    return submitted;
  }

  private onEvent(event: LocalAgentEvent): void {
    if (event.type === "run-finished") {
      this.logger.info({ run: event.runId, workflow: event.workflow, status: event.status, error: event.error }, "run finished");
    } else if (event.type === "step-finished" && event.status === "failed") {
      this.logger.warn({ run: event.runId, step: event.step, error: event.error }, "step failed");
    }
  }

  private onNetworkChange(online: boolean): void {
    this.logger.info({ online }, online ? "network online" : "network offline");
    this.events.emit({ type: "network-changed", online, at: this.clock.now() });
    this.outbox.setOnline(online);
  }

  private workflow(name: string): WorkflowDefinition {
    const workflow = this.workflows.get(name);
    if (!workflow) throw new LocalAgentError("workflow_not_found", `no workflow named "${name}"`);
    return workflow;
  }

  // ---- DaemonApi ----

  health() {
    return {
      status: "ok" as const,
      version: VERSION,
      uptimeMs: this.clock.now() - this.startedAt,
      workflows: this.workflows.size,
      problems: this.issues.length,
      activeRuns: this.engine.activeRunIds().length,
    };
  }

  listWorkflows(): unknown[] {
    return [...this.workflows.values()].map((workflow) => this.workflowView(workflow));
  }

  getWorkflow(name: string): unknown {
    return this.workflowView(this.workflow(name));
  }

  private workflowView(workflow: WorkflowDefinition): Record<string, unknown> {
    return workflowView(workflow, this.scheduler.nextFireAt(workflow.name), this.store.listRuns({ workflow: workflow.name, limit: 1 })[0], {
      skipped: this.dispatcher.skippedCount(workflow.name),
    });
  }

  async runWorkflow(name: string, inputs: Record<string, unknown>, wait: boolean): Promise<unknown> {
    if (this.stopping)
      throw new LocalAgentError("unavailable", "the daemon is shutting down; retry after it restarts", { retryable: true });
    const submitted = this.submit(this.workflow(name), { trigger: "api", inputs });
    if (submitted.status === "skipped") throw new LocalAgentError("conflict", `not started: ${submitted.reason}`, { retryable: true });
    const { run, done } = submitted;
    if (!wait) return { run_id: run.id, status: run.status };
    const finished = await done;
    return runView(finished, this.store.getSteps(finished.id));
  }

  listRuns(query: { workflow?: string | undefined; status?: string | undefined; limit?: number | undefined }): unknown[] {
    const status = query.status ? (query.status.split(",") as RunStatus[]) : undefined;
    return this.store
      .listRuns({ ...(query.workflow ? { workflow: query.workflow } : {}), ...(status ? { status } : {}), limit: query.limit ?? 50 })
      .map((run) => runView(run));
  }

  getRun(id: string): unknown {
    const run = this.requireRun(id);
    return runView(run, this.store.getSteps(id));
  }

  cancelRun(id: string): unknown {
    this.requireRun(id);
    return { id, cancelled: this.engine.cancel(id) };
  }

  resumeRun(id: string): unknown {
    const run = this.requireRun(id);
    if (run.status === "succeeded") throw new LocalAgentError("bad_request", `run ${id} already succeeded`);
    if (this.engine.activeRunIds().includes(id)) return { id, resumed: false, reason: "already running" };
    this.store.setRunStatus(id, "queued", { at: this.clock.now() });
    void this.dispatcher.enqueue(this.workflow(run.workflow), id).catch(() => undefined);
    return { id, resumed: true };
  }

  /** `POST /api/events/:name`, through the HTTP trigger source: a payload a listening workflow's schema refuses is a 400. */
  fireEvent(name: string, payload: unknown): unknown {
    return triggerOutcomeView(this.httpEvents.receive(name, payload));
  }

  listDeliveries(status: string | undefined): unknown[] {
    const known = status === "pending" || status === "delivered" || status === "dead";
    return this.store.listDeliveries(known ? { status } : {}).map(deliveryView);
  }

  listApprovals(status: string | undefined): unknown[] {
    const known = status === "pending" || status === "approved" || status === "denied" || status === "expired";
    if (status !== undefined && status !== "" && status !== "all" && !known)
      throw new LocalAgentError("bad_request", `status must be pending, approved, denied, expired or all, got "${status}"`);
    return this.approvals.list(known ? { status: status } : {});
  }

  decideApproval(id: string, decision: ApprovalDecision, by: string): unknown {
    return this.approvals.decide(id, decision, by);
  }

  problems(): unknown[] {
    return this.issues.map((issue) => ({ ...issue, text: formatIssue(issue) }));
  }

  subscribe(listener: (event: LocalAgentEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  models(): ModelsApi | undefined {
    return this.runtime?.models;
  }

  private requireRun(id: string): RunRecord {
    const run = this.store.getRun(id);
    if (!run) throw new LocalAgentError("run_not_found", `no run with id ${id}`);
    return run;
  }
}

function readVersion(): string {
  try {
    const file = new URL("../../package.json", import.meta.url);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}
