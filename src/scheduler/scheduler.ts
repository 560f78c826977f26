import type { WorkflowDefinition } from "../workflow/index.js";

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

/** Sources of event triggers (HTTP events, network changes, workflow finished, daemon start, chat commands). */
export interface TriggerSource {
  readonly name: string;
  start(emit: (event: string, payload: unknown) => void): void | Promise<void>;
  stop(): void | Promise<void>;
}
