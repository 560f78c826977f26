import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewRun, Store } from "./store.js";

export interface StoreConformanceOptions {
  /** Closes the store and opens the same data again; only persistent stores give it. */
  reopen?: (store: Store) => Store;
}

const T0 = 1_700_000_000_000;

function newRun(id: string, fields: Partial<NewRun> = {}): NewRun {
  return { id, workflow: "wf", trigger: "manual", inputs: { n: 1 }, createdAt: T0, ...fields };
}

function delivery(key: string, destination = "webhook:a", at = T0): Parameters<Store["enqueueDelivery"]>[0] {
  return { destination, kind: "webhook", payload: { message: key }, idempotencyKey: key, at };
}

/**
 * The behaviour every `Store` must have: the engine, outbox and scheduler rely on exactly this.
 * Run it once per implementation (SQLite now, PostgreSQL later) from that store's test file.
 */
export function describeStoreConformance(name: string, createStore: () => Store, options: StoreConformanceOptions = {}): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    beforeEach(() => {
      store = createStore();
    });
    afterEach(() => store.close());

    describe("runs", () => {
      it("creates a queued run and reads it back", () => {
        const created = store.createRun(newRun("r1", { triggerPayload: { file: "a.txt" } }));
        const expected = {
          id: "r1",
          workflow: "wf",
          status: "queued",
          trigger: "manual",
          inputs: { n: 1 },
          triggerPayload: { file: "a.txt" },
          outputs: null,
          error: null,
          createdAt: T0,
          startedAt: null,
          finishedAt: null,
        };
        expect(created).toEqual(expected);
        expect(store.getRun("r1")).toEqual(expected);
        expect(store.getRun("missing")).toBeUndefined();
        expect(store.createRun(newRun("r2")).triggerPayload).toBeNull();
      });

      it("refuses a second run with the same id and keeps the first", () => {
        store.createRun(newRun("r1"));
        expect(() => store.createRun(newRun("r1", { workflow: "other" }))).toThrow();
        expect(store.getRun("r1")?.workflow).toBe("wf");
      });

      it("lists newest first, filtered by workflow and status, limited", () => {
        store.createRun(newRun("a", { createdAt: T0 }));
        store.createRun(newRun("b", { createdAt: T0 + 2, workflow: "other" }));
        store.createRun(newRun("c", { createdAt: T0 + 1 }));
        store.createRun(newRun("d", { createdAt: T0 + 1 }));
        store.setRunStatus("c", "succeeded", { at: T0 + 5 });
        const ids = (runs: Array<{ id: string }>): string[] => runs.map((run) => run.id);
        expect(ids(store.listRuns())).toEqual(["b", "d", "c", "a"]);
        expect(ids(store.listRuns({ workflow: "wf" }))).toEqual(["d", "c", "a"]);
        expect(ids(store.listRuns({ status: ["succeeded", "failed"] }))).toEqual(["c"]);
        expect(ids(store.listRuns({ status: [] }))).toHaveLength(4);
        expect(ids(store.listRuns({ limit: 2 }))).toEqual(["b", "d"]);
        expect(ids(store.listUnfinishedRuns()).sort()).toEqual(["a", "b", "d"]);
      });

      it("moves a run through running, finished and back to queued", () => {
        store.createRun(newRun("r1"));
        store.setRunStatus("r1", "running", { at: T0 + 1 });
        store.setRunStatus("r1", "running", { at: T0 + 9 });
        expect(store.getRun("r1")).toMatchObject({ status: "running", startedAt: T0 + 1, finishedAt: null });
        store.setRunStatus("r1", "failed", { error: "boom", outputs: { partial: [1, 2] }, at: T0 + 10 });
        expect(store.getRun("r1")).toMatchObject({ status: "failed", error: "boom", outputs: { partial: [1, 2] }, finishedAt: T0 + 10 });
        expect(store.listUnfinishedRuns()).toEqual([]);
        store.setRunStatus("r1", "queued", { at: T0 + 11 });
        expect(store.getRun("r1")).toMatchObject({ status: "queued", error: null, finishedAt: null, startedAt: T0 + 1 });
        store.setRunStatus("r1", "succeeded", { at: T0 + 12 });
        expect(store.getRun("r1")).toMatchObject({ status: "succeeded", error: null, outputs: null, finishedAt: T0 + 12 });
      });

      it("keeps values apart from the objects passed in and handed out", () => {
        const inputs = { list: [1] };
        store.createRun(newRun("r1", { inputs }));
        inputs.list.push(2);
        const read = store.getRun("r1");
        (read?.inputs.list as number[]).push(3);
        expect(store.getRun("r1")?.inputs).toEqual({ list: [1] });
      });
    });

    describe("steps", () => {
      it("journals start and finish with attempts, output and error", () => {
        store.createRun(newRun("r1"));
        store.markStepStarted("r1", "fetch", 1, T0 + 1);
        expect(store.getSteps("r1")).toEqual([
          { runId: "r1", path: "fetch", status: "running", attempt: 1, output: null, error: null, startedAt: T0 + 1, finishedAt: null },
        ]);
        store.markStepFinished("r1", "fetch", { status: "failed", error: "exit 1", at: T0 + 2 });
        expect(store.getSteps("r1")[0]).toMatchObject({ status: "failed", attempt: 1, error: "exit 1", finishedAt: T0 + 2 });
        store.markStepStarted("r1", "fetch", 2, T0 + 3);
        expect(store.getSteps("r1")[0]).toMatchObject({ status: "running", attempt: 2, output: null, error: null, finishedAt: null });
        store.markStepFinished("r1", "fetch", { status: "succeeded", output: { lines: ["a", "b"] }, at: T0 + 4 });
        expect(store.getSteps("r1")).toEqual([
          {
            runId: "r1",
            path: "fetch",
            status: "succeeded",
            attempt: 2,
            output: { lines: ["a", "b"] },
            error: null,
            startedAt: T0 + 3,
            finishedAt: T0 + 4,
          },
        ]);
        expect(store.getSteps("other")).toEqual([]);
      });

      it("restarting a finished step clears its old output", () => {
        store.markStepStarted("r1", "a", 1, T0);
        store.markStepFinished("r1", "a", { status: "succeeded", output: "old", at: T0 + 1 });
        store.markStepStarted("r1", "a", 2, T0 + 2);
        expect(store.getSteps("r1")[0]).toMatchObject({ status: "running", attempt: 2, output: null });
      });

      it("records a skipped step that never started, and shard paths", () => {
        store.markStepFinished("r1", "notify", { status: "skipped", at: T0 });
        store.markStepStarted("r1", "each[0].get", 1, T0);
        store.markStepFinished("r1", "each[0].get", { status: "succeeded", output: "", at: T0 + 1 });
        const byPath = new Map(store.getSteps("r1").map((step) => [step.path, step]));
        expect(byPath.get("notify")).toMatchObject({ status: "skipped", output: null, attempt: 0, finishedAt: T0 });
        expect(byPath.get("each[0].get")).toMatchObject({ status: "succeeded", output: "" });
      });
    });

    describe("cache", () => {
      it("is written with the finished step and read back", () => {
        expect(store.getCache("wf:seen")).toBeUndefined();
        store.markStepStarted("r1", "a", 1, T0);
        store.markStepFinished("r1", "a", { status: "succeeded", output: "x", at: T0 + 1, cache: { key: "wf:seen", value: "x\ny" } });
        expect(store.getCache("wf:seen")).toBe("x\ny");
        store.markStepFinished("r1", "b", { status: "succeeded", output: "z", at: T0 + 2 });
        expect(store.getCache("wf:seen")).toBe("x\ny");
        store.markStepFinished("r1", "a", { status: "succeeded", output: [1], at: T0 + 3, cache: { key: "wf:seen", value: [1] } });
        expect(store.getCache("wf:seen")).toEqual([1]);
      });

      it("is written atomically with the step: both or neither", () => {
        store.markStepStarted("r1", "a", 1, T0);
        // A BigInt cannot be serialized by a JSON-backed store: then the step must not be finished either.
        const cache = { key: "wf:big", value: { n: 10n } };
        let threw = false;
        try {
          store.markStepFinished("r1", "a", { status: "succeeded", output: "ok", at: T0 + 1, cache });
        } catch {
          threw = true;
        }
        const finished = store.getSteps("r1")[0]?.status === "succeeded";
        const cached = store.getCache("wf:big") !== undefined;
        expect(finished).toBe(cached);
        expect(finished).toBe(!threw);
      });
    });

    describe("outbox", () => {
      it("queues a delivery once per idempotency key", () => {
        const first = store.enqueueDelivery(delivery("k1"));
        expect(first).toEqual(expect.any(Number));
        expect(store.enqueueDelivery({ ...delivery("k1"), payload: { message: "changed" } })).toBeUndefined();
        const second = store.enqueueDelivery(delivery("k2"));
        expect(second).toBeGreaterThan(first!);
        const all = store.listDeliveries();
        expect(all).toHaveLength(2);
        expect(all[0]).toEqual({
          id: first,
          idempotencyKey: "k1",
          destination: "webhook:a",
          kind: "webhook",
          payload: { message: "k1" },
          status: "pending",
          attempts: 0,
          nextAttemptAt: T0,
          lastError: null,
          createdAt: T0,
          deliveredAt: null,
        });
      });

      it("hands out only the oldest pending delivery of each destination", () => {
        const a1 = store.enqueueDelivery(delivery("a1", "webhook:a"));
        const b1 = store.enqueueDelivery(delivery("b1", "webhook:b"));
        const a2 = store.enqueueDelivery(delivery("a2", "webhook:a"));
        const b2 = store.enqueueDelivery(delivery("b2", "webhook:b"));
        expect(store.nextDeliveries().map((next) => next.id)).toEqual([a1, b1]);
        store.markDelivered(a1!, T0 + 5);
        expect(store.nextDeliveries().map((next) => next.id)).toEqual([b1, a2]);
        store.markDeliveryAttemptFailed(b1!, { error: "answered 500", nextAttemptAt: T0 + 100, dead: false });
        expect(store.nextDeliveries().map((next) => next.id)).toEqual([b1, a2]);
        store.markDeliveryAttemptFailed(b1!, { error: "answered 400", nextAttemptAt: T0 + 200, dead: true });
        expect(store.nextDeliveries().map((next) => next.id)).toEqual([a2, b2]);
        expect(store.listDeliveries({ status: "delivered" }).map((done) => done.id)).toEqual([a1]);
        expect(store.listDeliveries({ limit: 2 }).map((any) => any.id)).toEqual([a1, b1]);
      });

      it("counts attempts and records errors, retry times and the dead state", () => {
        const id = store.enqueueDelivery(delivery("k"))!;
        store.markDeliveryAttemptFailed(id, { error: "refused", nextAttemptAt: T0 + 1000, dead: false });
        expect(store.listDeliveries()[0]).toMatchObject({ status: "pending", attempts: 1, lastError: "refused", nextAttemptAt: T0 + 1000 });
        store.markDeliveryAttemptFailed(id, { error: "answered 404", nextAttemptAt: T0 + 3000, dead: true });
        expect(store.listDeliveries()[0]).toMatchObject({ status: "dead", attempts: 2, lastError: "answered 404" });
        expect(store.listDeliveries({ status: "dead" })).toHaveLength(1);
        expect(store.nextDeliveries()).toEqual([]);
        const other = store.enqueueDelivery(delivery("k2"))!;
        store.markDeliveryAttemptFailed(other, { error: "refused", nextAttemptAt: T0 + 1, dead: false });
        store.markDelivered(other, T0 + 50);
        expect(store.listDeliveries({ status: "delivered" })[0]).toMatchObject({ attempts: 2, lastError: null, deliveredAt: T0 + 50 });
      });
    });

    it("remembers the last fire time of each workflow", () => {
      expect(store.getLastFire("wf")).toBeUndefined();
      store.setLastFire("wf", T0);
      store.setLastFire("wf", T0 + 60_000);
      store.setLastFire("other", T0 + 1);
      expect(store.getLastFire("wf")).toBe(T0 + 60_000);
      expect(store.getLastFire("other")).toBe(T0 + 1);
    });

    it("reports an optimistic locking conflict instead of overwriting", () => {
      expect(store.getState("agent", "memory")).toBeUndefined();
      expect(store.compareAndSetState("agent", "memory", { turns: 1 }, 5)).toBe(false);
      expect(store.compareAndSetState("agent", "memory", { turns: 1 }, null)).toBe(true);
      expect(store.getState("agent", "memory")).toEqual({ value: { turns: 1 }, version: 1 });
      expect(store.compareAndSetState("agent", "memory", { turns: 9 }, null)).toBe(false);
      expect(store.compareAndSetState("agent", "memory", { turns: 2 }, 1)).toBe(true);
      // A second writer that read version 1 loses, and its value is not written.
      expect(store.compareAndSetState("agent", "memory", { turns: 99 }, 1)).toBe(false);
      expect(store.getState("agent", "memory")).toEqual({ value: { turns: 2 }, version: 2 });
      expect(store.getState("other", "memory")).toBeUndefined();
    });

    it("lists the entries of one namespace in key order", () => {
      expect(store.listState("approval")).toEqual([]);
      store.compareAndSetState("approval", "b", { n: 2 }, null);
      store.compareAndSetState("approval", "a", { n: 1 }, null);
      store.compareAndSetState("approval", "a", { n: 3 }, 1);
      store.compareAndSetState("other", "c", { n: 4 }, null);
      expect(store.listState("approval")).toEqual([
        { key: "a", value: { n: 3 }, version: 2 },
        { key: "b", value: { n: 2 }, version: 1 },
      ]);
    });

    it("deletes one state entry", () => {
      store.compareAndSetState("inbox", "a", { n: 1 }, null);
      store.compareAndSetState("inbox", "b", { n: 2 }, null);
      expect(store.deleteState("inbox", "a")).toBe(true);
      expect(store.deleteState("inbox", "a")).toBe(false);
      expect(store.getState("inbox", "a")).toBeUndefined();
      expect(store.listState("inbox").map((entry) => entry.key)).toEqual(["b"]);
      expect(store.compareAndSetState("inbox", "a", { n: 3 }, null)).toBe(true);
    });

    it("rolls back a transaction that throws", () => {
      store.createRun(newRun("r1"));
      expect(() =>
        store.transaction(() => {
          store.setRunStatus("r1", "running", { at: T0 + 1 });
          store.setLastFire("wf", T0);
          store.enqueueDelivery(delivery("k"));
          throw new Error("abort");
        }),
      ).toThrow("abort");
      expect(store.getRun("r1")?.status).toBe("queued");
      expect(store.getLastFire("wf")).toBeUndefined();
      expect(store.listDeliveries()).toEqual([]);
      expect(store.enqueueDelivery(delivery("k"))).toEqual(expect.any(Number));
      expect(store.transaction(() => store.getRun("r1")?.id)).toBe("r1");
    });

    it.skipIf(!options.reopen)("keeps everything across a close and reopen", () => {
      store.createRun(newRun("r1"));
      store.setRunStatus("r1", "running", { at: T0 + 1 });
      store.markStepStarted("r1", "a", 1, T0 + 1);
      store.markStepFinished("r1", "a", { status: "succeeded", output: { ok: true }, at: T0 + 2, cache: { key: "wf:k", value: "v" } });
      store.markStepStarted("r1", "b", 3, T0 + 3);
      const id = store.enqueueDelivery(delivery("k1"));
      store.setLastFire("wf", T0 + 4);
      store.compareAndSetState("ns", "key", [1, 2], null);
      store = options.reopen!(store);
      expect(store.getRun("r1")).toMatchObject({ status: "running", startedAt: T0 + 1 });
      expect(store.listUnfinishedRuns().map((run) => run.id)).toEqual(["r1"]);
      const steps = new Map(store.getSteps("r1").map((step) => [step.path, step]));
      expect(steps.get("a")).toMatchObject({ status: "succeeded", output: { ok: true } });
      expect(steps.get("b")).toMatchObject({ status: "running", attempt: 3 });
      expect(store.getCache("wf:k")).toBe("v");
      expect(store.nextDeliveries().map((next) => next.id)).toEqual([id]);
      expect(store.enqueueDelivery(delivery("k1"))).toBeUndefined();
      expect(store.getLastFire("wf")).toBe(T0 + 4);
      expect(store.getState("ns", "key")).toEqual({ value: [1, 2], version: 1 });
    });
  });
}
