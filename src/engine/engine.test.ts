import { readFileSync, writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngineHarness, type EngineHarness } from "../../test/helpers/engine-harness.js";
import { LocalAgentError } from "../errors/index.js";

let harness: EngineHarness;
beforeEach(() => {
  harness = createEngineHarness();
});
afterEach(() => harness.cleanup());

function stepStatuses(runId: string): Record<string, string> {
  return Object.fromEntries(harness.store.getSteps(runId).map((step) => [step.path, step.status]));
}

describe("engine: data flow", () => {
  it("passes each step's output to the next as output, and journals every step", async () => {
    const workflow = harness.load(`
name: flow
steps:
  - { name: a, type: shell, command: "echo hello" }
  - { name: b, type: shell, command: "echo '{{ output }} world'" }
`);
    const run = await harness.engine.start(workflow);
    expect(run).toMatchObject({ status: "succeeded", outputs: "hello world", error: null });
    expect(harness.store.getSteps(run.id).map((step) => [step.path, step.status, step.output, step.attempt])).toEqual(
      expect.arrayContaining([
        ["a", "succeeded", "hello", 1],
        ["b", "succeeded", "hello world", 1],
      ]),
    );
    const types = harness.events
      .filter((event) => event.type.startsWith("run-") || event.type === "step-finished")
      .map((event) => event.type);
    expect(types).toEqual(["run-queued", "run-started", "step-finished", "step-finished", "run-finished"]);
  });

  it("reads any earlier step as steps.<name>.output", async () => {
    const workflow = harness.load(`
name: named
steps:
  - { name: a, type: set, values: { x: 20 } }
  - { name: b, type: shell, command: "echo unrelated" }
  - { name: c, type: set, value: "{{ steps.a.output.x + 22 }}" }
  - { name: d, type: set, value: "{{ steps.b.status }}:{{ steps.b.output }}" }
`);
    const run = await harness.engine.start(workflow);
    const outputs = Object.fromEntries(harness.store.getSteps(run.id).map((step) => [step.path, step.output]));
    expect(outputs.c).toBe(42);
    expect(run.outputs).toBe("succeeded:unrelated");
  });

  it("skips a step whose condition is false and runs the rest", async () => {
    const workflow = harness.load(`
name: conditional
steps:
  - { name: empty, type: shell, command: "true" }
  - { name: notify, type: shell, command: "touch notified", condition: "{{ output.length > 0 }}" }
  - { name: always, type: shell, command: "echo after", condition: "{{ steps.notify.status == 'skipped' }}" }
`);
    const run = await harness.engine.start(workflow);
    expect(run.status).toBe("succeeded");
    expect(stepStatuses(run.id)).toEqual({ empty: "succeeded", notify: "skipped", always: "succeeded" });
    expect(() => readFileSync(harness.path("notified"))).toThrow();
    expect(run.outputs).toBe("after");
  });

  it("needs: [] makes a root step that runs beside the first one", async () => {
    const waitFor = (mine: string, other: string): string =>
      `touch ${mine}.started; for i in $(seq 100); do [ -f ${other}.started ] && exit 0; sleep 0.05; done; exit 1`;
    const workflow = harness.load(`
name: roots
steps:
  - { name: first, type: shell, command: "${waitFor("first", "second")}" }
  - { name: second, type: shell, needs: [], command: "${waitFor("second", "first")}" }
`);
    const run = await harness.engine.start(workflow);
    expect(run.status, run.error ?? "").toBe("succeeded");
  });

  it("runs independent needs branches concurrently and joins them in dependency order", async () => {
    // a and b each wait for the other's marker: they can only both succeed when they overlap.
    const waitFor = (mine: string, other: string): string =>
      `echo ${mine} >> order; touch ${mine}.started; for i in $(seq 100); do [ -f ${other}.started ] && exit 0; sleep 0.05; done; exit 1`;
    const workflow = harness.load(`
name: dag
steps:
  - { name: root, type: shell, command: "echo root >> order; echo seed" }
  - { name: a, type: shell, needs: root, command: "${waitFor("a", "b")}" }
  - { name: b, type: shell, needs: [root], command: "${waitFor("b", "a")}" }
  - { name: join, type: shell, needs: [a, b], command: "echo join >> order; echo {{ steps.root.output }}" }
`);
    const run = await harness.engine.start(workflow);
    expect(run.status, run.error ?? "").toBe("succeeded");
    const order = readFileSync(harness.path("order"), "utf8").trim().split("\n");
    expect(order[0]).toBe("root");
    expect(order.slice(1, 3).sort()).toEqual(["a", "b"]);
    expect(order[3]).toBe("join");
    expect(run.outputs).toBe("seed");
  });
});

describe("engine: failures", () => {
  it("fails the run at a failing step and does not run later steps", async () => {
    const workflow = harness.load(`
name: stops
steps:
  - { name: bad, type: shell, command: "echo oops >&2; exit 3" }
  - { name: later, type: shell, command: "touch later" }
`);
    const run = await harness.engine.start(workflow);
    expect(run.status).toBe("failed");
    expect(run.error).toBe("command failed (exit status 3): oops");
    expect(stepStatuses(run.id)).toEqual({ bad: "failed" });
    expect(() => readFileSync(harness.path("later"))).toThrow();
  });

  it("on_failure: continue records the failure and goes on", async () => {
    const workflow = harness.load(`
name: continues
steps:
  - { name: bad, type: shell, command: "exit 2", on_failure: continue }
  - { name: next, type: set, value: "{{ steps.bad.status }}: {{ steps.bad.error }}" }
`);
    const run = await harness.engine.start(workflow);
    expect(run.status).toBe("succeeded");
    expect(run.outputs).toBe("failed: command failed (exit status 2)");
    expect(stepStatuses(run.id)).toEqual({ bad: "failed", next: "succeeded" });
  });

  it("on_failure: <step> runs that step with the error, then fails the run", async () => {
    const workflow = harness.load(`
name: handled
steps:
  - { name: bad, type: shell, command: "echo disk full >&2; exit 1", on_failure: cleanup }
  - { name: later, type: shell, command: "touch later" }
  - { name: cleanup, type: shell, command: "echo '{{ error.step }}/{{ error.message }}' > handled" }
`);
    const run = await harness.engine.start(workflow);
    expect(run.status).toBe("failed");
    expect(readFileSync(harness.path("handled"), "utf8").trim()).toBe("bad/command failed (exit status 1): disk full");
    expect(stepStatuses(run.id)).toEqual({ bad: "failed", cleanup: "succeeded" });
  });

  it("journals a condition or template that fails at run time as the step's failure", async () => {
    const workflow = harness.load(`
name: bad_data
steps:
  - { name: parse, type: set, value: "{{ inputs.raw | parseJson }}", on_failure: continue }
  - { name: check, type: set, value: 1, condition: "{{ inputs.raw | parseJson }}" }
`);
    const run = await harness.engine.start(workflow, { inputs: { raw: "{not json" } });
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/^expression "inputs.raw \| parseJson" failed: /);
    expect(stepStatuses(run.id)).toEqual({ parse: "failed", check: "failed" });
    expect(harness.store.getSteps(run.id).find((step) => step.path === "parse")?.error).toBe(run.error);
    const finished = harness.events.filter((event) => event.type === "step-finished").map((event) => event.step);
    expect(finished).toEqual(["parse", "check"]);
  });

  it("never runs an on_failure handler in the normal flow", async () => {
    const workflow = harness.load(`
name: quiet
steps:
  - { name: ok, type: shell, command: "echo fine", on_failure: cleanup }
  - { name: cleanup, type: shell, command: "touch handled" }
`);
    const run = await harness.engine.start(workflow);
    expect(run).toMatchObject({ status: "succeeded", outputs: "fine" });
    expect(() => readFileSync(harness.path("handled"))).toThrow();
  });

  it('an ai step without a provider fails with "no model provider configured"', async () => {
    const workflow = harness.load(`
workflow:
  name: needs_model
  tasks:
    - { name: review, type: ai, model: code_gen, prompt: "review this" }
`);
    const run = await harness.engine.start(workflow);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/^no model provider configured: step "review" asks for model "code_gen"/);
  });
});

describe("engine: cache_key", () => {
  it("delta mode: a second run sees only new lines, and cache.<key> holds the previous value", async () => {
    const workflow = harness.load(`
name: monitor
steps:
  - { name: scan, type: shell, command: "cat log.txt", cache_key: seen }
  - { name: report, type: set, values: { fresh: "{{ output }}", before: "{{ cache.seen }}" } }
`);
    writeFileSync(harness.path("log.txt"), "error 1\nerror 2\n");
    const first = await harness.engine.start(workflow);
    expect(first.outputs).toEqual({ fresh: "error 1\nerror 2", before: null });
    writeFileSync(harness.path("log.txt"), "error 1\nerror 2\nerror 3\n");
    const second = await harness.engine.start(workflow);
    expect(second.outputs).toEqual({ fresh: "error 3", before: "error 1\nerror 2" });
    const third = await harness.engine.start(workflow);
    expect(third.outputs).toEqual({ fresh: "", before: "error 1\nerror 2\nerror 3" });
    expect(harness.store.getCache("monitor:seen")).toBe("error 1\nerror 2\nerror 3");
  });

  it("value mode keeps the whole output", async () => {
    const workflow = harness.load(`
name: values
steps:
  - { name: scan, type: shell, command: "cat log.txt", cache_key: seen, cache_mode: value }
`);
    writeFileSync(harness.path("log.txt"), "a\n");
    await harness.engine.start(workflow);
    writeFileSync(harness.path("log.txt"), "a\nb\n");
    expect((await harness.engine.start(workflow)).outputs).toBe("a\nb");
  });
});

describe("engine: inputs", () => {
  const yaml = `
name: greet
inputs:
  name: { type: string, default: world }
  times: { type: number, required: true }
steps:
  - { name: hello, type: set, value: "{{ inputs.name }} x{{ inputs.times }} {{ inputs.extra }}" }
`;

  it("applies defaults and passes unknown inputs through", async () => {
    const run = await harness.engine.start(harness.load(yaml), { inputs: { times: 2, extra: "!" } });
    expect(run.inputs).toEqual({ times: 2, extra: "!", name: "world" });
    expect(run.outputs).toBe("world x2 !");
  });

  it("refuses missing required inputs and wrong types before creating a run", () => {
    const workflow = harness.load(yaml);
    expect(() => harness.engine.createRun(workflow, {})).toThrow('workflow "greet": input "times" is required');
    try {
      harness.engine.createRun(workflow, { inputs: { times: "2", name: 5 } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(LocalAgentError);
      expect((error as LocalAgentError).code).toBe("bad_request");
      expect((error as LocalAgentError).details.problems).toEqual([
        'input "name" must be string, got number',
        'input "times" must be number, got string',
      ]);
    }
    expect(harness.store.listRuns()).toEqual([]);
  });
});
