import { describe, expect, it } from "vitest";
import { EventBus } from "../../events/index.js";
import type { TriggerOutcome } from "../../scheduler/index.js";
import { describeTriggerSourceConformance } from "../trigger-source.conformance.js";
import { WorkflowFinishedSource } from "./workflow-finished-source.js";

describeTriggerSourceConformance("WorkflowFinishedSource", () => {
  const bus = new EventBus();
  return {
    source: new WorkflowFinishedSource(bus),
    event: "workflow.finished:backup",
    provoke: () => bus.emit({ type: "run-finished", runId: "run_1", workflow: "backup", status: "succeeded", at: 1 }),
  };
});

describe("WorkflowFinishedSource", () => {
  it("fires workflow.finished:NAME with the status (and the error of a failed run) for every run-finished", () => {
    const bus = new EventBus();
    const source = new WorkflowFinishedSource(bus);
    const emitted: unknown[][] = [];
    source.start((event, payload): TriggerOutcome => {
      emitted.push([event, payload]);
      return { event, runs: [], skipped: [], rejected: [] };
    });
    bus.emit({ type: "run-started", runId: "run_1", workflow: "backup", resumed: false, at: 1 });
    bus.emit({ type: "run-finished", runId: "run_1", workflow: "backup", status: "succeeded", at: 2 });
    bus.emit({ type: "run-finished", runId: "run_2", workflow: "sync", status: "failed", error: "exit 3", at: 3 });
    expect(emitted).toEqual([
      ["workflow.finished:backup", { workflow: "backup", run_id: "run_1", status: "succeeded" }],
      ["workflow.finished:sync", { workflow: "sync", run_id: "run_2", status: "failed", error: "exit 3" }],
    ]);
    source.stop();
    expect(bus.listenerCount).toBe(0);
  });
});
