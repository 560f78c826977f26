import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../clock/index.js";
import type { LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import type { RunRecord } from "../store/index.js";
import { createEngineHarness, type EngineHarness } from "../../test/helpers/engine-harness.js";
import { Dispatcher, type Submission } from "./dispatcher.js";

/** A workflow whose one shell step sleeps; `header` lines go under `workflow:`. */
function slowYaml(name: string, seconds: number, header: string[] = []): string {
  return [
    "workflow:",
    `  name: ${name}`,
    ...header.map((line) => `  ${line}`),
    "  tasks:",
    "    - name: work",
    "      type: shell",
    `      command: "sleep ${seconds}; echo done"`,
    "",
  ].join("\n");
}

function queued(submission: Submission): { run: RunRecord; done: Promise<RunRecord> } {
  if (submission.status !== "queued") throw new Error(`expected a queued run, got skipped: ${submission.reason}`);
  return submission;
}

describe("Dispatcher", () => {
  let harness: EngineHarness;
  let skipEvents: LocalAgentEvent[];

  beforeEach(() => {
    harness = createEngineHarness();
    skipEvents = [];
  });
  afterEach(async () => {
    await harness.engine.drain(0);
    harness.cleanup();
  });

  function dispatcher(maxConcurrent: number): Dispatcher {
    harness.bus.subscribe((event) => {
      if (event.type === "run-skipped") skipEvents.push(event);
    });
    return new Dispatcher({ engine: harness.engine, logger: createSilentLogger(), events: harness.bus, clock: systemClock, maxConcurrent });
  }

  /** The order runs started in, as `workflow` names (or run ids with `ids`). */
  const starts = (ids = false): string[] =>
    harness.events.flatMap((event) => (event.type === "run-started" ? [ids ? event.runId : event.workflow] : []));

  /** The most runs of `workflow` that were in the engine at once, replayed from the events. */
  function peakConcurrency(workflow?: string): number {
    const started = new Set(starts(true));
    let current = 0;
    let peak = 0;
    for (const event of harness.events) {
      if (event.type === "run-started" && (!workflow || event.workflow === workflow)) peak = Math.max(peak, ++current);
      if (event.type === "run-finished" && (!workflow || event.workflow === workflow) && started.has(event.runId)) current -= 1;
    }
    return peak;
  }

  it("starts the highest priority first when the global limit is 1 (equal priorities keep their order)", async () => {
    const dispatch = dispatcher(1);
    const blocker = harness.load(slowYaml("blocker", 0.3));
    const low = harness.load(slowYaml("low", 0, ["priority: -5"]));
    const normal = harness.load(slowYaml("normal", 0));
    const normal2 = harness.load(slowYaml("normal2", 0));
    const high = harness.load(slowYaml("high", 0, ["priority: 10"]));
    const runs = [blocker, low, normal, normal2, high].map((workflow) => queued(dispatch.submit(workflow, { trigger: "test" })));
    expect(dispatch.queued).toBe(4);
    const finished = await Promise.all(runs.map((run) => run.done));
    expect(finished.map((run) => run.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(starts()).toEqual(["blocker", "high", "normal", "normal2", "low"]);
    expect(peakConcurrency()).toBe(1);
  });

  it("keeps a workflow under its concurrency: while other workflows use the free slots", async () => {
    const dispatch = dispatcher(10);
    const pair = harness.load(slowYaml("pair", 0.2, ["concurrency: 2"]));
    const other = harness.load(slowYaml("other", 0.2));
    const runs = [pair, pair, pair, pair, pair, other, other].map((workflow) => queued(dispatch.submit(workflow, {})));
    const began = Date.now();
    await Promise.all(runs.map((run) => run.done));
    expect(peakConcurrency("pair")).toBe(2);
    expect(peakConcurrency("other")).toBe(2);
    // Five runs two at a time take three rounds; the other workflow did not wait for them.
    expect(Date.now() - began).toBeGreaterThanOrEqual(550);
    expect(starts().slice(0, 4).sort()).toEqual(["other", "other", "pair", "pair"]);
  });

  it("overlap: queue (the default) runs a second fire after the first, never beside it", async () => {
    const dispatch = dispatcher(10);
    const serial = harness.load(slowYaml("serial", 0.2, ["concurrency: 1"]));
    const first = queued(dispatch.submit(serial, {}));
    const second = queued(dispatch.submit(serial, {}));
    expect(harness.store.getRun(second.run.id)?.status).toBe("queued");
    const [a, b] = await Promise.all([first.done, second.done]);
    expect([a.status, b.status]).toEqual(["succeeded", "succeeded"]);
    expect(b.startedAt!).toBeGreaterThanOrEqual(a.finishedAt!);
  });

  it("overlap: skip drops a fire while a run is going or waiting (logged, evented, counted), and takes the next one after", async () => {
    const dispatch = dispatcher(1);
    const blocker = harness.load(slowYaml("blocker", 0.2));
    const once = harness.load(slowYaml("once", 0.2, ["overlap: skip"]));
    const blocking = queued(dispatch.submit(blocker, {}));
    const first = queued(dispatch.submit(once, { trigger: "cron" }));
    // The first fire only waits for the global slot, and it already counts.
    const second = dispatch.submit(once, { trigger: "event:deploy" });
    expect(second).toEqual({ status: "skipped", workflow: "once", reason: "once already has a run going (overlap: skip)" });
    expect(skipEvents).toEqual([
      {
        type: "run-skipped",
        workflow: "once",
        trigger: "event:deploy",
        reason: "once already has a run going (overlap: skip)",
        at: expect.any(Number),
      },
    ]);
    await blocking.done;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dispatch.submit(once, {}).status).toBe("skipped");
    expect(dispatch.skippedCount("once")).toBe(2);
    expect(await first.done).toMatchObject({ status: "succeeded" });
    const third = queued(dispatch.submit(once, {}));
    expect(await third.done).toMatchObject({ status: "succeeded" });
    expect(harness.store.listRuns({ workflow: "once" })).toHaveLength(2);
  });

  it("overlap: skip with concurrency: 2 allows two at once", async () => {
    const dispatch = dispatcher(10);
    const two = harness.load(slowYaml("two", 0.2, ["concurrency: 2", "overlap: skip"]));
    const submissions = [0, 1, 2].map(() => dispatch.submit(two, {}));
    expect(submissions.map((submission) => submission.status)).toEqual(["queued", "queued", "skipped"]);
    expect(submissions[2]).toMatchObject({ reason: "two already has 2 runs going (overlap: skip)" });
    await Promise.all(submissions.flatMap((submission) => (submission.status === "queued" ? [submission.done] : [])));
  });

  it("overlap: replace cancels the running run (its command is stopped) and starts the new one once it has gone", async () => {
    const dispatch = dispatcher(10);
    const latest = harness.load(slowYaml("latest", 30, ["overlap: replace"]));
    const quick = harness.load(slowYaml("latest", 0.1, ["overlap: replace"]));
    const first = queued(dispatch.submit(latest, {}));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(harness.store.getRun(first.run.id)?.status).toBe("running");
    const began = Date.now();
    const second = queued(dispatch.submit(quick, {}));
    const old = await first.done;
    expect(old).toMatchObject({ status: "cancelled", error: `run cancelled: replaced by ${second.run.id} (overlap: replace)` });
    const replacement = await second.done;
    expect(replacement).toMatchObject({ status: "succeeded", outputs: "done" });
    expect(Date.now() - began).toBeLessThan(5000);
    expect(replacement.startedAt!).toBeGreaterThanOrEqual(old.finishedAt!);
    expect(peakConcurrency("latest")).toBe(1);
  });

  it("overlap: replace drops a replacement still waiting when a newer fire comes", async () => {
    const dispatch = dispatcher(10);
    const latest = harness.load(slowYaml("latest", 30, ["overlap: replace"]));
    const quick = harness.load(slowYaml("latest", 0.1, ["overlap: replace"]));
    const first = queued(dispatch.submit(latest, {}));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = queued(dispatch.submit(latest, {}));
    const third = queued(dispatch.submit(quick, {}));
    const [a, b, c] = await Promise.all([first.done, second.done, third.done]);
    expect(a).toMatchObject({ status: "cancelled", error: `run cancelled: replaced by ${second.run.id} (overlap: replace)` });
    expect(b).toMatchObject({
      status: "cancelled",
      startedAt: null,
      error: `run cancelled: replaced by ${third.run.id} (overlap: replace)`,
    });
    expect(c).toMatchObject({ status: "succeeded" });
    expect(starts(true)).toEqual([first.run.id, third.run.id]);
  });

  it("a run cancelled while it waits leaves the queue at once and no longer counts for skip", async () => {
    const dispatch = dispatcher(1);
    const blocker = harness.load(slowYaml("blocker", 0.3));
    const once = harness.load(slowYaml("once", 0, ["overlap: skip"]));
    const blocking = queued(dispatch.submit(blocker, {}));
    const waiting = queued(dispatch.submit(once, {}));
    expect(harness.engine.cancel(waiting.run.id)).toBe(true);
    expect(await waiting.done).toMatchObject({ status: "cancelled", startedAt: null });
    expect(dispatch.queued).toBe(0);
    const next = queued(dispatch.submit(once, {}));
    await Promise.all([blocking.done, next.done]);
    expect(starts()).toEqual(["blocker", "once"]);
  });

  it("a run that cannot be created (bad inputs) replaces nothing", async () => {
    const dispatch = dispatcher(10);
    const needy = harness.load(
      [
        "workflow:",
        "  name: needy",
        "  overlap: replace",
        "  inputs: { n: { type: number, required: true } }",
        "  tasks:",
        "    - { type: shell, command: 'sleep 0.3' }",
        "",
      ].join("\n"),
    );
    const first = queued(dispatch.submit(needy, { inputs: { n: 1 } }));
    expect(() => dispatch.submit(needy, {})).toThrow(/input "n" is required/);
    expect(await first.done).toMatchObject({ status: "succeeded" });
  });
});
