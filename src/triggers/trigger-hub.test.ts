import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.js";
import { EventBus, type LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import type { TriggerEmit, TriggerSource } from "../scheduler/index.js";
import type { EventTriggerDefinition, WorkflowDefinition } from "../workflow/index.js";
import { TriggerHub, type LaunchResult } from "./trigger-hub.js";
import { testWorkflow } from "./trigger-source.conformance.js";

class FakeSource implements TriggerSource {
  emit: TriggerEmit | undefined;
  workflows: readonly WorkflowDefinition[] = [];
  constructor(
    readonly name: string,
    readonly accepts?: (trigger: EventTriggerDefinition, payload: unknown) => boolean,
  ) {}
  start(emit: TriggerEmit): void {
    this.emit = emit;
  }
  stop(): void {
    this.emit = undefined;
  }
  setWorkflows(workflows: readonly WorkflowDefinition[]): void {
    this.workflows = workflows;
  }
}

const versionSchema = { type: "object", required: ["version"], properties: { version: { type: "string" } } };
const event = (name: string, fields: Partial<EventTriggerDefinition> = {}): EventTriggerDefinition => ({ kind: "event", name, ...fields });

function setup(workflows: WorkflowDefinition[], sources: TriggerSource[], launch?: (workflow: WorkflowDefinition) => LaunchResult) {
  const events: LocalAgentEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((item) => events.push(item));
  const launched: Array<{ workflow: string; trigger: string; payload: unknown }> = [];
  let next = 0;
  const hub = new TriggerHub({
    sources,
    events: bus,
    clock: new ManualClock(5),
    logger: createSilentLogger(),
    launch: (workflow, fire) => {
      launched.push({ workflow: workflow.name, ...fire });
      return launch ? launch(workflow) : { runId: `run_${++next}` };
    },
  });
  hub.setWorkflows(workflows);
  return { hub, events, launched };
}

describe("TriggerHub", () => {
  it("launches every enabled workflow listening to the event, with the payload as trigger", async () => {
    const source = new FakeSource("http");
    const { hub, launched, events } = setup(
      [
        testWorkflow("a", [event("deploy")]),
        testWorkflow("b", [event("deploy"), event("deploy")]),
        testWorkflow("c", [event("other")]),
        testWorkflow("off", [event("deploy")], { enabled: false }),
      ],
      [source],
    );
    await hub.start();
    expect(source.workflows.map((workflow) => workflow.name)).toEqual(["a", "b", "c", "off"]);
    const outcome = source.emit!("deploy", { version: "1" });
    expect(outcome).toEqual({
      event: "deploy",
      runs: [
        { workflow: "a", runId: "run_1" },
        { workflow: "b", runId: "run_2" },
      ],
      skipped: [],
      rejected: [],
    });
    expect(launched).toEqual([
      { workflow: "a", trigger: "event:deploy", payload: { version: "1" } },
      { workflow: "b", trigger: "event:deploy", payload: { version: "1" } },
    ]);
    expect(events).toEqual([
      { type: "trigger-fired", workflow: "a", trigger: "event:deploy", source: "http", runId: "run_1", at: 5 },
      { type: "trigger-fired", workflow: "b", trigger: "event:deploy", source: "http", runId: "run_2", at: 5 },
    ]);
    expect(source.emit!("nobody", {})).toEqual({ event: "nobody", runs: [], skipped: [], rejected: [] });
    expect(hub.eventNames().sort()).toEqual(["deploy", "other"]);
  });

  it("checks the payload against each workflow's schema: a refused one starts no run, is logged and emitted", async () => {
    const source = new FakeSource("file");
    const { hub, launched, events } = setup(
      [testWorkflow("strict", [event("deploy", { schema: versionSchema })]), testWorkflow("lax", [event("deploy")])],
      [source],
    );
    await hub.start();
    const outcome = source.emit!("deploy", { version: 2 });
    expect(outcome.runs).toEqual([{ workflow: "lax", runId: "run_1" }]);
    expect(outcome.rejected).toEqual([
      { workflow: "strict", errors: [expect.objectContaining({ instancePath: "/version", keyword: "type", message: "must be string" })] },
    ]);
    expect(launched.map((entry) => entry.workflow)).toEqual(["lax"]);
    expect(events[0]).toEqual({
      type: "trigger-rejected",
      workflow: "strict",
      trigger: "event:deploy",
      source: "file",
      errors: ["payload/version must be string"],
      at: 5,
    });
    expect(source.emit!("deploy", { version: "2.0" }).runs.map((run) => run.workflow)).toEqual(["strict", "lax"]);
  });

  it("atomic emits start nothing when any listener refuses the payload", async () => {
    const source = new FakeSource("http");
    const { hub, launched } = setup(
      [testWorkflow("lax", [event("deploy")]), testWorkflow("strict", [event("deploy", { schema: versionSchema })])],
      [source],
    );
    await hub.start();
    const outcome = source.emit!("deploy", {}, { atomic: true });
    expect(outcome.runs).toEqual([]);
    expect(outcome.rejected.map((entry) => [entry.workflow, entry.errors[0]?.message])).toEqual([
      ["strict", "must have required property 'version'"],
    ]);
    expect(launched).toEqual([]);
  });

  it("lets the emitting source narrow the listeners (accepts), reports skips, survives a failing launch", async () => {
    const source = new FakeSource("file", (trigger) => trigger.name !== "x" || trigger.schema === undefined);
    const { hub } = setup(
      [
        testWorkflow("narrowed", [event("x", { schema: { type: "object" } })]),
        testWorkflow("busy", [event("x")]),
        testWorkflow("broken", [event("x")]),
        testWorkflow("fine", [event("x")]),
      ],
      [source],
      (workflow) => {
        if (workflow.name === "broken") throw new Error("inputs missing");
        return workflow.name === "busy" ? { skipped: "already running (overlap: skip)" } : { runId: "run_9" };
      },
    );
    await hub.start();
    expect(source.emit!("x", {})).toEqual({
      event: "x",
      runs: [{ workflow: "fine", runId: "run_9" }],
      skipped: [{ workflow: "busy", reason: "already running (overlap: skip)" }],
      rejected: [],
    });
  });

  it("keeps going when a source fails to start, stops sources in reverse order, ignores late emits", async () => {
    const order: string[] = [];
    const failing: TriggerSource = {
      name: "broken",
      start: () => {
        throw new Error("no inotify");
      },
      stop: () => void order.push("stop broken"),
    };
    const first = new FakeSource("first");
    const last = new FakeSource("last");
    first.stop = () => void order.push("stop first");
    last.stop = () => void order.push("stop last");
    const { hub, launched } = setup([testWorkflow("a", [event("e")])], [first, failing, last]);
    await hub.start();
    expect(last.emit).toBeDefined();
    const emit = first.emit!;
    await hub.stop();
    expect(order).toEqual(["stop last", "stop first"]);
    expect(emit("e", {}).runs).toEqual([]);
    expect(launched).toEqual([]);
  });
});
