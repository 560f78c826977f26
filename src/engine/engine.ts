import { randomBytes } from "node:crypto";
import { sleep } from "../clock/index.js";
import { errorMessage, isRetryable, LocalAgentError, toError } from "../errors/index.js";
import type { RunStatus, StepStatus } from "../events/index.js";
import { evaluateCondition, renderDeep, type TemplateScope } from "../expression/index.js";
import type { RunRecord, StepRecord, Store } from "../store/index.js";
import type { StepDefinition, WorkflowDefinition } from "../workflow/index.js";
import { resolveInputs } from "./inputs.js";
import { composeMiddleware, createTimeoutMiddleware } from "./middleware.js";
import type { StepRegistry } from "./registry.js";
import type { StepContext, StepMiddleware, StepResult, StepServices } from "./step-runner.js";
import { deltaOf } from "./delta.js";

export interface EngineOptions {
  store: Store;
  registry: StepRegistry;
  services: StepServices;
  /** Extra middleware around every step (policy, audit, sandbox), outermost first. */
  middleware?: StepMiddleware[];
  createRunId?: () => string;
}

export interface StartRunOptions {
  trigger?: string;
  inputs?: Record<string, unknown>;
  triggerPayload?: unknown;
}

interface ActiveRun {
  controller: AbortController;
  done: Promise<RunRecord>;
}

interface StepOutcome {
  status: StepStatus;
  output: unknown;
}

/** Why a run stopped early: a user cancel ends it, a shutdown leaves it to be resumed. */
class ShutdownSignal extends LocalAgentError {
  constructor() {
    super("step_cancelled", "the daemon is shutting down; the step will be resumed at next start", { retryable: true });
  }
}

/**
 * The durable workflow engine. Every run and step transition is written to the store before it is
 * acted on, so `execute` after a crash resumes a run at its first unfinished step.
 */
export class Engine {
  private readonly active = new Map<string, ActiveRun>();
  private readonly execute: (context: StepContext) => Promise<StepResult>;
  private readonly createRunId: () => string;
  /** The daemon's environment, copied once: reading process.env is slow, and it does not change under us. */
  readonly processEnv: Readonly<Record<string, string | undefined>> = { ...process.env };

  constructor(private readonly options: EngineOptions) {
    const ownsTimeout = (context: StepContext): boolean => options.registry.get(context.step.type).ownsTimeout === true;
    const chain = [...(options.middleware ?? []), createTimeoutMiddleware({ ownsTimeout })];
    this.execute = composeMiddleware(chain, (context) => options.registry.get(context.step.type).run(context));
    this.createRunId = options.createRunId ?? createRunId;
  }

  get store(): Store {
    return this.options.store;
  }

  /** Journals a new queued run. Inputs are checked against the workflow's `inputs:`. */
  createRun(workflow: WorkflowDefinition, options: StartRunOptions = {}): RunRecord {
    const inputs = resolveInputs(workflow, options.inputs ?? {});
    const { clock, events } = this.options.services;
    const run = this.options.store.createRun({
      id: this.createRunId(),
      workflow: workflow.name,
      trigger: options.trigger ?? "manual",
      inputs,
      triggerPayload: options.triggerPayload,
      createdAt: clock.now(),
    });
    events.emit({ type: "run-queued", runId: run.id, workflow: workflow.name, trigger: run.trigger, at: run.createdAt });
    return run;
  }

  /** Creates and runs a workflow; resolves with the final run record. */
  async start(workflow: WorkflowDefinition, options: StartRunOptions = {}): Promise<RunRecord> {
    return this.run(workflow, this.createRun(workflow, options).id);
  }

  /** Runs (or resumes) a journaled run. Completed steps are not run again. */
  run(workflow: WorkflowDefinition, runId: string): Promise<RunRecord> {
    const existing = this.active.get(runId);
    if (existing) return existing.done;
    const controller = new AbortController();
    const done = this.runToEnd(workflow, runId, controller).finally(() => this.active.delete(runId));
    this.active.set(runId, { controller, done });
    return done;
  }

  /** Cancels a run: in flight it is aborted, otherwise it is marked cancelled. `reason` becomes the run's error. */
  cancel(runId: string, reason = "run cancelled"): boolean {
    const active = this.active.get(runId);
    if (active) {
      active.controller.abort(new LocalAgentError("step_cancelled", reason));
      return true;
    }
    const run = this.options.store.getRun(runId);
    if (!run || (run.status !== "queued" && run.status !== "running")) return false;
    this.finishRun(run, "cancelled", { error: reason });
    return true;
  }

  activeRunIds(): string[] {
    return [...this.active.keys()];
  }

  /**
   * Graceful stop: waits up to `graceMs` for running steps, then aborts the rest. Aborted runs stay
   * `running` in the store and resume at the next start.
   */
  async drain(graceMs: number): Promise<void> {
    const pending = [...this.active.values()].map((run) => run.done.catch(() => undefined));
    if (pending.length === 0) return;
    const clock = this.options.services.clock;
    let handle: ReturnType<typeof clock.setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      handle = clock.setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(pending), timeout]);
    if (handle) clock.clearTimeout(handle);
    for (const run of this.active.values()) run.controller.abort(new ShutdownSignal());
    await Promise.all([...this.active.values()].map((run) => run.done.catch(() => undefined)));
  }

  private async runToEnd(workflow: WorkflowDefinition, runId: string, controller: AbortController): Promise<RunRecord> {
    const { store, services } = this.options;
    const queued = store.getRun(runId);
    if (!queued) throw new LocalAgentError("run_not_found", `run ${runId} not found`);
    // Cancelled (or otherwise finished) while it waited for a slot: the journal has the last word.
    if (queued.status !== "queued" && queued.status !== "running") return queued;
    const records = new Map(store.getSteps(runId).map((record) => [record.path, record]));
    const startedAt = services.clock.now();
    store.setRunStatus(runId, "running", { at: startedAt });
    const run: RunRecord = { ...queued, status: "running", startedAt: queued.startedAt ?? startedAt };
    services.events.emit({ type: "run-started", runId, workflow: workflow.name, resumed: records.size > 0, at: services.clock.now() });
    const state = new RunState(this, workflow, run, records, controller);
    let timer: ReturnType<typeof services.clock.setTimeout> | undefined;
    if (workflow.timeoutMs) {
      timer = services.clock.setTimeout(() => {
        controller.abort(new LocalAgentError("step_timeout", `workflow timed out after ${workflow.timeoutMs} ms`));
      }, workflow.timeoutMs);
    }
    try {
      const output = await state.runSteps(workflow.steps, "", state.baseScope());
      return this.finishRun(run, "succeeded", { outputs: output });
    } catch (error) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
      if (reason instanceof ShutdownSignal) return store.getRun(runId) ?? run;
      const cancelled = reason instanceof LocalAgentError && reason.code === "step_cancelled";
      return this.finishRun(run, cancelled ? "cancelled" : "failed", { error: errorMessage(reason) });
    } finally {
      if (timer) services.clock.clearTimeout(timer);
    }
  }

  /** Journals the end of a run and returns the final record (built here: the store already has it). */
  private finishRun(run: RunRecord, status: RunStatus, fields: { error?: string; outputs?: unknown }): RunRecord {
    const { store, services } = this.options;
    const at = services.clock.now();
    const error = fields.error ?? null;
    const outputs = fields.outputs === undefined ? null : fields.outputs;
    store.setRunStatus(run.id, status, { error, outputs: fields.outputs, at });
    services.events.emit({
      type: "run-finished",
      runId: run.id,
      workflow: run.workflow,
      status,
      ...(fields.error ? { error: fields.error } : {}),
      at,
    });
    return { ...run, status, error, outputs, finishedAt: at };
  }

  /** @internal used by RunState */
  runStep(context: StepContext): Promise<StepResult> {
    return this.execute(context);
  }

  /** @internal */
  get engineOptions(): EngineOptions {
    return this.options;
  }
}

/** The mutable state of one run while it executes. */
class RunState {
  private readonly cache: Record<string, unknown> = {};

  constructor(
    private readonly engine: Engine,
    private readonly workflow: WorkflowDefinition,
    private readonly run: RunRecord,
    private readonly records: Map<string, StepRecord>,
    private readonly controller: AbortController,
  ) {
    const { store } = engine.engineOptions;
    for (const key of cacheKeysOf(workflow.steps)) this.cache[key] = store.getCache(cacheStoreKey(workflow.name, key)) ?? null;
  }

  baseScope(): TemplateScope {
    const clock = this.engine.engineOptions.services.clock;
    return {
      inputs: this.run.inputs,
      env: Object.keys(this.workflow.env).length > 0 ? { ...this.engine.processEnv, ...this.workflow.env } : this.engine.processEnv,
      cache: this.cache,
      trigger: this.run.triggerPayload ?? {},
      now: clock.now(),
      run: { id: this.run.id, workflow: this.workflow.name, trigger: this.run.trigger },
      steps: {},
      output: null,
    };
  }

  /** Runs a list of steps in DAG order (listed order unless `needs` says otherwise); returns the last output. */
  /** Runs a list of steps; `parentSignal` is the attempt signal of the step that runs them as sub-steps (its timeout ends them). */
  async runSteps(steps: StepDefinition[], prefix: string, scope: TemplateScope, parentSignal?: AbortSignal): Promise<unknown> {
    const handlers = new Set(steps.flatMap((step) => (step.onFailure.kind === "step" ? [step.onFailure.step] : [])));
    const flow = steps.filter((step) => !handlers.has(step.name));
    const dependencies = new Map<string, string[]>();
    flow.forEach((step, index) => {
      const previous = flow[index - 1];
      dependencies.set(step.name, step.needs.length > 0 || step.needsGiven ? step.needs : previous ? [previous.name] : []);
    });
    const stepScope = { ...(scope.steps as Record<string, unknown>) };
    const outcomes = new Map<string, StepOutcome>();
    const running = new Map<string, Promise<void>>();
    let failure: unknown;
    let lastOutput: unknown = null;

    const startStep = (step: StepDefinition): void => {
      const needs = dependencies.get(step.name) ?? [];
      const previous = needs[needs.length - 1];
      const local: TemplateScope = {
        ...scope,
        steps: stepScope,
        output: previous ? (outcomes.get(previous)?.output ?? null) : scope.output,
      };
      const promise = this.runOne(step, `${prefix}${step.name}`, local, parentSignal).then(
        (outcome) => {
          outcomes.set(step.name, outcome);
          stepScope[step.name] = { output: outcome.output, status: outcome.status };
          if (outcome.status === "succeeded") lastOutput = outcome.output;
        },
        async (error: unknown) => {
          stepScope[step.name] = { output: null, status: "failed", error: errorMessage(error) };
          if (step.onFailure.kind === "continue" && !this.controller.signal.aborted) {
            outcomes.set(step.name, { status: "failed", output: null });
            return;
          }
          failure ??= error;
          const handlerName = step.onFailure.kind === "step" ? step.onFailure.step : undefined;
          const handler = steps.find((candidate) => candidate.name === handlerName);
          if (handler && !this.controller.signal.aborted) {
            const handlerScope = { ...scope, steps: stepScope, output: null, error: { step: step.name, message: errorMessage(error) } };
            await this.runOne(handler, `${prefix}${handler.name}`, handlerScope, parentSignal).catch(() => undefined);
          }
          outcomes.set(step.name, { status: "failed", output: null });
        },
      );
      running.set(
        step.name,
        promise.finally(() => running.delete(step.name)),
      );
    };

    for (;;) {
      if (failure === undefined && !this.controller.signal.aborted && !parentSignal?.aborted) {
        for (const step of flow) {
          if (outcomes.has(step.name) || running.has(step.name)) continue;
          if ((dependencies.get(step.name) ?? []).every((need) => outcomes.has(need))) startStep(step);
        }
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    if (failure !== undefined) throw toError(failure);
    if (this.controller.signal.aborted) throw toError(this.controller.signal.reason);
    if (parentSignal?.aborted) throw toError(parentSignal.reason);
    return lastOutput;
  }

  private async runOne(step: StepDefinition, path: string, scope: TemplateScope, parentSignal?: AbortSignal): Promise<StepOutcome> {
    const { store, services, registry } = this.engine.engineOptions;
    const { clock, events } = services;
    const record = this.records.get(path);
    if (record && (record.status === "succeeded" || record.status === "skipped")) {
      return { status: record.status, output: record.output };
    }
    if (this.controller.signal.aborted) throw toError(this.controller.signal.reason);
    if (parentSignal?.aborted) throw toError(parentSignal.reason);
    const startedAt = clock.now();
    let skip: boolean;
    const rendered: Record<string, unknown> = {};
    let env: Record<string, string> = {};
    try {
      skip = step.condition !== undefined && !evaluateCondition(step.condition, scope);
      if (!skip) {
        const raw = new Set(registry.get(step.type).rawFields ?? []);
        for (const [key, value] of Object.entries(step.config)) rendered[key] = raw.has(key) ? value : renderDeep(value, scope);
        env = { ...this.workflow.env, ...(renderDeep(step.env, scope) as Record<string, string>) };
      }
    } catch (error) {
      // A condition or template that fails at run time is this step's failure: journal it as one.
      this.journalFailure(path, startedAt, errorMessage(error));
      throw error;
    }
    if (skip) {
      store.markStepFinished(this.run.id, path, { status: "skipped", output: null, at: clock.now() });
      events.emit({ type: "step-finished", runId: this.run.id, step: path, status: "skipped", durationMs: 0, at: clock.now() });
      return { status: "skipped", output: null };
    }
    let attempt = record?.attempt ?? 0;
    let retries = 0;
    for (;;) {
      attempt += 1;
      store.markStepStarted(this.run.id, path, attempt, clock.now());
      events.emit({ type: "step-started", runId: this.run.id, step: path, attempt, stepType: step.type, at: clock.now() });
      const attemptController = new AbortController();
      const onRunAbort = (): void => attemptController.abort(this.controller.signal.reason);
      this.controller.signal.addEventListener("abort", onRunAbort, { once: true });
      // A sub-step ends with the attempt of the step that runs it (its timeout, its cancellation).
      const onParentAbort = (): void => attemptController.abort(parentSignal?.reason);
      parentSignal?.addEventListener("abort", onParentAbort, { once: true });
      const context: StepContext = {
        runId: this.run.id,
        workflow: this.workflow,
        step,
        path,
        stepKey: `${this.run.id}:${path}`,
        attempt,
        interrupted: retries === 0 && record?.status === "running",
        config: rendered,
        env: Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)])),
        scope,
        signal: attemptController.signal,
        abort: (reason) => attemptController.abort(reason),
        services,
        runSubSteps: (shardKey, steps, shardScope) => this.runSteps(steps, `${path}[${shardKey}].`, shardScope, attemptController.signal),
        progress: (stream, text) => events.emit({ type: "step-output", runId: this.run.id, step: path, stream, text, at: clock.now() }),
      };
      try {
        const result = await this.engine.runStep(context);
        return this.succeed(step, path, result.output, startedAt);
      } catch (error) {
        const runAborted = this.controller.signal.aborted;
        const retry = step.retry;
        if (!runAborted && !parentSignal?.aborted && retry && retries < retry.count && isRetryable(error)) {
          const delayMs = Math.min(retry.backoffMs * retry.factor ** retries, retry.maxBackoffMs);
          retries += 1;
          events.emit({
            type: "step-retrying",
            runId: this.run.id,
            step: path,
            attempt,
            delayMs,
            error: errorMessage(error),
            at: clock.now(),
          });
          try {
            await sleep(clock, delayMs, this.controller.signal);
          } catch (reason) {
            // A cancel during the backoff ends the step; a shutdown leaves it to be resumed.
            if (reason instanceof ShutdownSignal) throw reason;
            this.journalFailure(path, startedAt, errorMessage(reason));
            throw toError(reason);
          }
          continue;
        }
        if (runAborted && this.controller.signal.reason instanceof ShutdownSignal) throw toError(this.controller.signal.reason);
        this.journalFailure(path, startedAt, errorMessage(runAborted ? this.controller.signal.reason : error));
        throw toError(runAborted ? this.controller.signal.reason : error);
      } finally {
        this.controller.signal.removeEventListener("abort", onRunAbort);
        parentSignal?.removeEventListener("abort", onParentAbort);
      }
    }
  }

  private journalFailure(path: string, startedAt: number, message: string): void {
    const { store, services } = this.engine.engineOptions;
    const { clock, events } = services;
    store.markStepFinished(this.run.id, path, { status: "failed", error: message, at: clock.now() });
    events.emit({
      type: "step-finished",
      runId: this.run.id,
      step: path,
      status: "failed",
      durationMs: clock.now() - startedAt,
      error: message,
      at: clock.now(),
    });
  }

  private succeed(step: StepDefinition, path: string, value: unknown, startedAt: number): StepOutcome {
    const { store, services } = this.engine.engineOptions;
    const { clock, events } = services;
    let output: unknown = value === undefined ? null : value;
    let cache: { key: string; value: unknown } | undefined;
    if (step.cacheKey) {
      const previous = this.cache[step.cacheKey];
      cache = { key: cacheStoreKey(this.workflow.name, step.cacheKey), value: output };
      if (step.cacheMode === "delta") output = deltaOf(previous, output);
    }
    store.markStepFinished(this.run.id, path, { status: "succeeded", output, at: clock.now(), ...(cache ? { cache } : {}) });
    events.emit({
      type: "step-finished",
      runId: this.run.id,
      step: path,
      status: "succeeded",
      durationMs: clock.now() - startedAt,
      at: clock.now(),
    });
    return { status: "succeeded", output };
  }
}

function cacheKeysOf(steps: StepDefinition[]): string[] {
  return steps.flatMap((step) => [...(step.cacheKey ? [step.cacheKey] : []), ...cacheKeysOf(step.steps ?? [])]);
}

function cacheStoreKey(workflow: string, key: string): string {
  return `${workflow}:${key}`;
}

let lastIdTime = 0;
let idCounter = 0;
/** Random per process, so ids made in the same millisecond by the daemon and the CLI still differ. */
const PROCESS_ID_SUFFIX = randomBytes(4).toString("hex");

/** Time-sortable run ids: `run_` + milliseconds + counter (base 36) + a per-process random part. */
export function createRunId(): string {
  // Never backwards (a clock jump back must not repeat an earlier id of this process).
  const now = Math.max(Date.now(), lastIdTime);
  idCounter = now === lastIdTime ? idCounter + 1 : 0;
  lastIdTime = now;
  return `run_${now.toString(36)}${idCounter.toString(36).padStart(3, "0")}${PROCESS_ID_SUFFIX}`;
}
