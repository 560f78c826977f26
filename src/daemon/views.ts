import type { TriggerOutcome } from "../scheduler/index.js";
import type { DeliveryRecord, RunRecord, StepRecord } from "../store/index.js";
import type { TriggerDefinition, WorkflowDefinition } from "../workflow/index.js";

/** The answer to `POST /api/events/:name`. */
export function triggerOutcomeView(outcome: TriggerOutcome): Record<string, unknown> {
  return {
    event: outcome.event,
    runs: outcome.runs.map((run) => ({ workflow: run.workflow, run_id: run.runId })),
    skipped: outcome.skipped,
  };
}

/** JSON shapes of the API and `--json` CLI output (snake_case, timestamps as ISO strings). */
export function runView(run: RunRecord, steps?: StepRecord[]): Record<string, unknown> {
  return {
    id: run.id,
    workflow: run.workflow,
    status: run.status,
    trigger: run.trigger,
    inputs: run.inputs,
    outputs: run.outputs,
    error: run.error,
    created_at: iso(run.createdAt),
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    ...(steps ? { steps: steps.sort(byStart).map(stepView) } : {}),
  };
}

export function stepView(step: StepRecord): Record<string, unknown> {
  return {
    path: step.path,
    status: step.status,
    attempt: step.attempt,
    output: step.output,
    error: step.error,
    started_at: iso(step.startedAt),
    finished_at: iso(step.finishedAt),
  };
}

/** Counters the daemon keeps per workflow (since it started). */
export interface WorkflowStats {
  /** Fires dropped by `overlap: skip`. */
  skipped: number;
}

export function workflowView(
  workflow: WorkflowDefinition,
  nextFireAt: number | null,
  lastRun?: RunRecord,
  stats?: WorkflowStats,
): Record<string, unknown> {
  return {
    name: workflow.name,
    description: workflow.description ?? null,
    file: workflow.file,
    enabled: workflow.enabled,
    triggers: workflow.triggers.map(describeTrigger),
    steps: workflow.steps.map((step) => ({ name: step.name, type: step.type })),
    inputs: workflow.inputs,
    priority: workflow.priority,
    concurrency: workflow.concurrency ?? null,
    overlap: workflow.overlap ?? "queue",
    ...(stats ? { skipped: stats.skipped } : {}),
    next_fire_at: iso(nextFireAt),
    last_run: lastRun ? { id: lastRun.id, status: lastRun.status, created_at: iso(lastRun.createdAt) } : null,
  };
}

export function deliveryView(delivery: DeliveryRecord): Record<string, unknown> {
  return {
    id: delivery.id,
    destination: delivery.destination.replace(/\/\/[^/@]*@/, "//"),
    kind: delivery.kind,
    status: delivery.status,
    attempts: delivery.attempts,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    delivered_at: iso(delivery.deliveredAt),
    next_attempt_at: delivery.status === "pending" ? iso(delivery.nextAttemptAt) : null,
  };
}

export function describeTrigger(trigger: TriggerDefinition): string {
  switch (trigger.kind) {
    case "cron":
      return `cron ${trigger.expression}${trigger.timezone ? ` (${trigger.timezone})` : ""}`;
    case "every":
      return `every ${trigger.intervalMs / 1000}s`;
    case "event":
      return `event:${trigger.name}`;
    case "manual":
      return "manual";
  }
}

function iso(at: number | null | undefined): string | null {
  return at === null || at === undefined ? null : new Date(at).toISOString();
}

function byStart(a: StepRecord, b: StepRecord): number {
  return (a.startedAt ?? a.finishedAt ?? 0) - (b.startedAt ?? b.finishedAt ?? 0);
}
