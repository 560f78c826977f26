import { existsSync, readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngineHarness, groupAlive, type EngineHarness } from "../../test/helpers/engine-harness.js";
import { waitFor } from "../../test/helpers/index.js";

let harness: EngineHarness;
beforeEach(() => {
  harness = createEngineHarness();
});
afterEach(() => harness.cleanup());

const read = (name: string): string => readFileSync(harness.path(name), "utf8").trim();
const pidOf = (name: string): number => Number(read(name));

describe("engine: retry and timeout", () => {
  it("retries a failing step with backoff until it succeeds", async () => {
    const workflow = harness.load(`
name: flaky
steps:
  - name: flaky
    type: shell
    command: "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 3 ] && echo done-$n || exit 7"
    retry: { count: 3, backoff: 40ms, factor: 2 }
`);
    const started = Date.now();
    const run = await harness.engine.start(workflow);
    expect(run).toMatchObject({ status: "succeeded", outputs: "done-3" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
    const retries = harness.events.flatMap((event) => (event.type === "step-retrying" ? [[event.attempt, event.delayMs]] : []));
    expect(retries).toEqual([
      [1, 40],
      [2, 80],
    ]);
    expect(harness.store.getSteps(run.id)[0]).toMatchObject({ status: "succeeded", attempt: 3 });
  });

  it("fails once the retries are used up", async () => {
    const workflow = harness.load(`
name: broken
steps:
  - { name: broken, type: shell, command: "echo x >> tries; exit 4", retry: { count: 2, backoff: 1ms } }
`);
    const run = await harness.engine.start(workflow);
    expect(run).toMatchObject({ status: "failed", error: "command failed (exit status 4)" });
    expect(read("tries").split("\n")).toHaveLength(3);
  });

  it("a timeout kills the step's whole process group", async () => {
    const workflow = harness.load(`
name: slow
steps:
  - { name: slow, type: shell, command: "echo $$ > pid; sleep 30 & sleep 30", timeout: 300ms }
`);
    const started = Date.now();
    const run = await harness.engine.start(workflow);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(run).toMatchObject({ status: "failed", error: 'step "slow" timed out after 300 ms' });
    const pid = pidOf("pid");
    await waitFor(() => !groupAlive(pid), 5000);
    expect(groupAlive(pid)).toBe(false);
  });
});

describe("engine: cancel and drain", () => {
  const sleeper = `
name: sleeper
steps:
  - name: nap
    type: shell
    command: "if [ -f napped ]; then echo resumed $LOCALAGENT_STEP_KEY; else touch napped; echo $$ > pid; sleep 30 & sleep 30; fi"
`;

  it("cancel during a retry backoff ends the step as failed, not running", async () => {
    const workflow = harness.load(`
name: backoff
steps:
  - name: flaky
    type: shell
    command: "exit 3"
    retry: { count: 5, backoff: 30s }
`);
    const queued = harness.engine.createRun(workflow);
    const done = harness.engine.run(workflow, queued.id);
    await waitFor(() => harness.events.some((event) => event.type === "step-retrying"));
    expect(harness.engine.cancel(queued.id)).toBe(true);
    const run = await done;
    expect(run.status).toBe("cancelled");
    expect(harness.store.getSteps(run.id)[0]).toMatchObject({ status: "failed", error: "run cancelled", attempt: 1 });
  });

  it("cancel aborts a running shell step and kills its processes", async () => {
    const workflow = harness.load(sleeper);
    const queued = harness.engine.createRun(workflow);
    const done = harness.engine.run(workflow, queued.id);
    await waitFor(() => existsSync(harness.path("pid")));
    await waitFor(() => existsSync(harness.path("pid")) && read("pid") !== "");
    expect(groupAlive(pidOf("pid"))).toBe(true);
    expect(harness.engine.activeRunIds()).toEqual([queued.id]);
    expect(harness.engine.cancel(queued.id)).toBe(true);
    const run = await done;
    expect(run).toMatchObject({ status: "cancelled", error: "run cancelled" });
    expect(harness.store.getSteps(run.id)[0]).toMatchObject({ status: "failed", error: "run cancelled" });
    const pid = pidOf("pid");
    await waitFor(() => !groupAlive(pid), 5000);
    expect(harness.engine.activeRunIds()).toEqual([]);
    expect(harness.engine.cancel(queued.id)).toBe(false);
    expect(harness.engine.cancel("run_missing")).toBe(false);
  });

  it("cancel marks a queued run that is not running as cancelled", () => {
    const queued = harness.engine.createRun(harness.load(sleeper));
    expect(harness.engine.cancel(queued.id)).toBe(true);
    expect(harness.store.getRun(queued.id)).toMatchObject({ status: "cancelled", error: "run cancelled" });
  });

  it("drain leaves an interrupted run running in the store, and a new engine resumes it", async () => {
    const workflow = harness.load(sleeper);
    const queued = harness.engine.createRun(workflow);
    const done = harness.engine.run(workflow, queued.id);
    await waitFor(() => existsSync(harness.path("pid")));
    await harness.engine.drain(50);
    expect((await done).status).toBe("running");
    expect(harness.store.getRun(queued.id)?.status).toBe("running");
    expect(harness.store.getSteps(queued.id)[0]).toMatchObject({ path: "nap", status: "running", attempt: 1 });
    expect(harness.store.listUnfinishedRuns().map((run) => run.id)).toEqual([queued.id]);
    await waitFor(() => !groupAlive(pidOf("pid")), 5000);

    const resumed = await harness.restart().run(workflow, queued.id);
    expect(resumed).toMatchObject({ status: "succeeded", outputs: `resumed ${queued.id}:nap` });
    expect(harness.store.getSteps(queued.id)[0]).toMatchObject({ status: "succeeded", attempt: 2 });
  });
});

describe("engine: resume from the journal", () => {
  it("does not re-run a finished step, and re-runs an in-flight one with the same step key", async () => {
    const workflow = harness.load(`
name: resumable
steps:
  - { name: one, type: shell, command: "touch one-ran; echo fresh" }
  - { name: two, type: shell, command: "echo $LOCALAGENT_STEP_KEY >> keys; echo '{{ output }}+two'" }
`);
    const run = harness.engine.createRun(workflow);
    harness.store.markStepStarted(run.id, "one", 1, Date.now());
    harness.store.markStepFinished(run.id, "one", { status: "succeeded", output: "journaled", at: Date.now() });
    harness.store.markStepStarted(run.id, "two", 1, Date.now());
    harness.store.setRunStatus(run.id, "running", { at: Date.now() });

    const finished = await harness.engine.run(workflow, run.id);
    expect(finished).toMatchObject({ status: "succeeded", outputs: "journaled+two" });
    expect(existsSync(harness.path("one-ran"))).toBe(false);
    expect(read("keys")).toBe(`${run.id}:two`);
    const steps = new Map(harness.store.getSteps(run.id).map((step) => [step.path, step]));
    expect(steps.get("one")).toMatchObject({ status: "succeeded", attempt: 1, output: "journaled" });
    expect(steps.get("two")).toMatchObject({ status: "succeeded", attempt: 2 });
    expect(harness.events.find((event) => event.type === "run-started")).toMatchObject({ resumed: true });
  });

  it("foreach runs one checkpointed shard per item, and a resume skips finished shards", async () => {
    const workflow = harness.load(`
name: shards
steps:
  - name: each
    type: foreach
    items: [a, b, c]
    steps:
      - { name: work, type: shell, command: "echo {{ item }} >> worked; echo {{ item }}-{{ index }}" }
      - { name: shape, type: set, value: "{{ output | upper }}" }
`);
    const fresh = await harness.engine.start(workflow);
    expect(fresh).toMatchObject({ status: "succeeded", outputs: ["A-0", "B-1", "C-2"] });
    expect(
      harness.store
        .getSteps(fresh.id)
        .map((step) => step.path)
        .sort(),
    ).toEqual(["each", "each[0].shape", "each[0].work", "each[1].shape", "each[1].work", "each[2].shape", "each[2].work"]);

    const run = harness.engine.createRun(workflow);
    for (const [index, item] of ["a", "b"].entries()) {
      harness.store.markStepFinished(run.id, `each[${index}].work`, { status: "succeeded", output: `${item}-old`, at: Date.now() });
    }
    harness.store.markStepFinished(run.id, "each[0].shape", { status: "succeeded", output: "A-OLD", at: Date.now() });
    harness.store.markStepStarted(run.id, "each", 1, Date.now());
    const resumed = await harness.engine.run(workflow, run.id);
    expect(resumed).toMatchObject({ status: "succeeded", outputs: ["A-OLD", "B-OLD", "C-2"] });
    expect(read("worked").split("\n")).toEqual(["a", "b", "c", "c"]);
  });

  it("a foreach's timeout ends its sub-steps: their process groups are killed and no later shard starts", async () => {
    const workflow = harness.load(`
name: bounded
steps:
  - name: each
    type: foreach
    items: [a, b]
    timeout: 400ms
    steps:
      - { name: work, type: shell, command: "echo $$ > pid-{{ item }}; sleep 30 & sleep 30; touch finished-{{ item }}" }
`);
    const run = await harness.engine.start(workflow);
    expect(run).toMatchObject({ status: "failed", error: 'step "each" timed out after 400 ms' });
    const pid = pidOf("pid-a");
    await waitFor(() => !groupAlive(pid), 5000);
    expect(groupAlive(pid)).toBe(false);
    expect(existsSync(harness.path("finished-a"))).toBe(false);
    expect(existsSync(harness.path("pid-b"))).toBe(false);
    expect(harness.store.getSteps(run.id).find((step) => step.path === "each[0].work")).toMatchObject({ status: "failed" });
  });

  it("foreach with parallel runs shards at once", async () => {
    const workflow = harness.load(`
name: wide
steps:
  - name: each
    type: foreach
    items: "x\\ny"
    as: host
    parallel: 2
    steps:
      - name: probe
        type: shell
        command: "touch {{ host }}.started; for i in $(seq 100); do [ -f x.started ] && [ -f y.started ] && break; sleep 0.05; done; echo {{ host }}"
`);
    const run = await harness.engine.start(workflow);
    expect(run).toMatchObject({ status: "succeeded", outputs: ["x", "y"] });
    expect(Date.now() - run.createdAt).toBeLessThan(4000);
  });
});
