import type { EventBus } from "../../events/index.js";
import type { TriggerEmit, TriggerSource } from "../../scheduler/index.js";

/**
 * `workflow.finished:NAME` when a run of NAME ends, whatever its status, with the payload
 * `{workflow, run_id, status, error?}` (listeners check `trigger.status`).
 */
export class WorkflowFinishedSource implements TriggerSource {
  readonly name = "workflow-finished";
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly events: EventBus) {}

  start(emit: TriggerEmit): void {
    this.unsubscribe?.();
    this.unsubscribe = this.events.subscribe((event) => {
      if (event.type !== "run-finished") return;
      emit(`workflow.finished:${event.workflow}`, {
        workflow: event.workflow,
        run_id: event.runId,
        status: event.status,
        ...(event.error ? { error: event.error } : {}),
      });
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
