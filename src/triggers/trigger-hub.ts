import type { Clock } from "../clock/index.js";
import { errorMessage } from "../errors/index.js";
import type { EventBus } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import type { EmitOptions, TriggerOutcome, TriggerSource } from "../scheduler/index.js";
import {
  formatPayloadErrors,
  validatePayload,
  type EventTriggerDefinition,
  type PayloadError,
  type WorkflowDefinition,
} from "../workflow/index.js";

/** What the hub asks of the daemon for one accepted fire: a journaled run, or the reason it was dropped. */
export type LaunchResult = { runId: string } | { skipped: string };

export interface TriggerHubOptions {
  sources: readonly TriggerSource[];
  /** Journals and schedules a run (the dispatcher's overlap policy may drop it). May throw (bad inputs). */
  launch: (workflow: WorkflowDefinition, fire: { trigger: string; payload: unknown }) => LaunchResult;
  events: EventBus;
  clock: Clock;
  logger: Logger;
}

interface Listener {
  workflow: WorkflowDefinition;
  trigger: EventTriggerDefinition;
}

/**
 * Routes what trigger sources emit to the workflows listening for it: matches the event name,
 * checks the payload against each workflow's `schema:`, and launches the runs. Every source goes
 * through the same path, so validation, events and logging are the same whatever fired.
 */
export class TriggerHub {
  private listeners = new Map<string, Listener[]>();
  private started: TriggerSource[] = [];
  private running = false;

  constructor(private readonly options: TriggerHubOptions) {}

  /** The loaded workflows (at start and after each reload); sources that watch per workflow are told too. */
  setWorkflows(workflows: readonly WorkflowDefinition[]): void {
    const listeners = new Map<string, Listener[]>();
    for (const workflow of workflows) {
      if (!workflow.enabled) continue;
      // One run per workflow and event, even when a workflow lists the same event twice.
      const seen = new Set<string>();
      for (const trigger of workflow.triggers) {
        if (trigger.kind !== "event" || seen.has(trigger.name)) continue;
        seen.add(trigger.name);
        listeners.set(trigger.name, [...(listeners.get(trigger.name) ?? []), { workflow, trigger }]);
      }
    }
    this.listeners = listeners;
    for (const source of this.options.sources) this.safely(source, "setWorkflows", () => source.setWorkflows?.(workflows));
  }

  /**
   * Starts every source in order. A source that fails to start is logged and left out: one broken
   * watcher must not keep the daemon (or the other triggers) from running.
   */
  async start(): Promise<void> {
    this.running = true;
    for (const source of this.options.sources) {
      try {
        await source.start((event, payload, options) => this.emit(source, event, payload, options));
        this.started.push(source);
      } catch (error) {
        this.options.logger.error(
          { err: error, source: source.name },
          `trigger source "${source.name}" failed to start; its events will not fire`,
        );
      }
    }
  }

  /** Stops the sources in reverse order; afterwards nothing is launched. */
  async stop(): Promise<void> {
    this.running = false;
    const sources = this.started.reverse();
    this.started = [];
    for (const source of sources) {
      try {
        await source.stop();
      } catch (error) {
        this.options.logger.error({ err: error, source: source.name }, `trigger source "${source.name}" failed to stop`);
      }
    }
  }

  /** The names of the events some enabled workflow listens to. */
  eventNames(): string[] {
    return [...this.listeners.keys()];
  }

  private emit(source: TriggerSource, event: string, payload: unknown, options: EmitOptions = {}): TriggerOutcome {
    const outcome: TriggerOutcome = { event, runs: [], skipped: [], rejected: [] };
    if (!this.running) {
      this.options.logger.debug({ source: source.name, event }, "event after the trigger sources stopped; ignored");
      return outcome;
    }
    const trigger = `event:${event}`;
    const accepted: Listener[] = [];
    for (const listener of this.listeners.get(event) ?? []) {
      if (source.accepts && !source.accepts(listener.trigger, payload)) continue;
      const errors = listener.trigger.schema ? validatePayload(listener.trigger.schema, payload) : [];
      if (errors.length === 0) accepted.push(listener);
      else {
        outcome.rejected.push({ workflow: listener.workflow.name, errors });
        this.reportRejected(source, listener.workflow, trigger, errors, options);
      }
    }
    if (options.atomic && outcome.rejected.length > 0) return outcome;
    for (const { workflow } of accepted) {
      try {
        const result = this.options.launch(workflow, { trigger, payload });
        if ("skipped" in result) {
          outcome.skipped.push({ workflow: workflow.name, reason: result.skipped });
          continue;
        }
        outcome.runs.push({ workflow: workflow.name, runId: result.runId });
        this.options.events.emit({
          type: "trigger-fired",
          workflow: workflow.name,
          trigger,
          source: source.name,
          runId: result.runId,
          at: this.options.clock.now(),
        });
      } catch (error) {
        this.options.logger.error({ workflow: workflow.name, event, source: source.name }, `event trigger failed: ${errorMessage(error)}`);
      }
    }
    return outcome;
  }

  private reportRejected(
    source: TriggerSource,
    workflow: WorkflowDefinition,
    trigger: string,
    errors: PayloadError[],
    options: EmitOptions,
  ): void {
    const text = formatPayloadErrors(errors);
    const fields = { workflow: workflow.name, trigger, source: source.name, errors: text };
    // An atomic caller (HTTP) is answered with the errors; other sources have nobody to tell but the log.
    if (options.atomic) this.options.logger.info(fields, "event payload refused by the workflow's schema; no run started");
    else this.options.logger.warn(fields, "event payload refused by the workflow's schema; no run started");
    this.options.events.emit({
      type: "trigger-rejected",
      workflow: workflow.name,
      trigger,
      source: source.name,
      errors: errors.map((error) => `payload${error.instancePath} ${error.message}`),
      at: this.options.clock.now(),
    });
  }

  private safely(source: TriggerSource, what: string, action: () => void): void {
    try {
      action();
    } catch (error) {
      this.options.logger.error({ err: error, source: source.name }, `trigger source "${source.name}" failed in ${what}`);
    }
  }
}
