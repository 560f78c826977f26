import type { EventTriggerDefinition, PayloadError, WorkflowDefinition } from "../workflow/index.js";

/** One scheduled fire of a workflow. */
export interface Fire {
  workflow: WorkflowDefinition;
  /** `cron` or `every`. */
  trigger: string;
  scheduledAt: number;
}

export type FireHandler = (fire: Fire) => void;

/**
 * Time-based triggers. The daemon hands it the current workflows; it calls `onFire` when one is due.
 * The timing-wheel scheduler replaces the simple one behind this same interface.
 */
export interface Scheduler {
  setWorkflows(workflows: readonly WorkflowDefinition[]): void;
  /** Next fire time (ms since epoch), or null when the workflow has no time trigger. */
  nextFireAt(workflow: string): number | null;
  start(onFire: FireHandler): void;
  stop(): void;
}

/** What became of one emitted event. */
export interface TriggerOutcome {
  event: string;
  /** Runs started (journaled as queued), one per listening workflow that took the event. */
  runs: Array<{ workflow: string; runId: string }>;
  /** Workflows that dropped the fire because a run was still going (`overlap: skip`). */
  skipped: Array<{ workflow: string; reason: string }>;
  /** Workflows whose payload schema refused the payload: no run for them. */
  rejected: Array<{ workflow: string; errors: PayloadError[] }>;
}

export interface EmitOptions {
  /**
   * All or nothing: when any listening workflow refuses the payload, no run starts at all. For callers
   * that are told and can send again (HTTP answers 400), so a corrected retry starts nothing twice.
   */
  atomic?: boolean;
}

/** Hands one event to the daemon: the workflows listening to `event` run with `payload` as `trigger`. */
export type TriggerEmit = (event: string, payload: unknown, options?: EmitOptions) => TriggerOutcome;

/**
 * A source of event triggers (HTTP events, file changes, network changes, workflow finished, daemon
 * start, chat commands). `start` receives the emitter; after `stop` the source emits nothing.
 * Implementations pass the conformance suite in src/triggers/trigger-source.conformance.ts.
 */
export interface TriggerSource {
  readonly name: string;
  start(emit: TriggerEmit): void | Promise<void>;
  stop(): void | Promise<void>;
  /** Told the loaded workflows before start and after every reload (for sources that watch per workflow, such as files). */
  setWorkflows?(workflows: readonly WorkflowDefinition[]): void;
  /** Narrows which listening triggers one fire reaches (a file trigger's `events:`); absent means all of them. */
  accepts?(trigger: EventTriggerDefinition, payload: unknown): boolean;
}
