import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.js";
import type { ApprovalQuestion } from "../engine/index.js";
import { LocalAgentError } from "../errors/index.js";
import { EventBus, type LocalAgentEvent } from "../events/index.js";
import { MemoryStore } from "../store/index.js";
import { approvalId, ApprovalService } from "./approval-service.js";

const T0 = Date.UTC(2026, 0, 1, 12);
const LONG_COMMAND = `rsync -av /home/ada/ backup:/srv/ada ${"--exclude x ".repeat(200)}`;

function question(overrides: Partial<ApprovalQuestion> = {}): ApprovalQuestion {
  return { stepKey: "run1:deploy", runId: "run1", workflow: "wf", step: "deploy", command: LONG_COMMAND, rule: "ask-rsync", ...overrides };
}

function setup() {
  const store = new MemoryStore();
  const clock = new ManualClock(T0);
  const events = new EventBus();
  const seen: LocalAgentEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const service = new ApprovalService({ store, clock, events, defaultTimeoutMs: 60_000, pollIntervalMs: 1_000 });
  return { store, clock, events, seen, service };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((done) => setImmediate(done));

describe("ApprovalService", () => {
  it("stores the request with the whole command, waits, and answers approve", async () => {
    const { service, seen } = setup();
    const answer = service.ask(question());
    await settle();
    const [pending] = service.list({ status: "pending" });
    expect(pending).toMatchObject({ id: approvalId("run1:deploy", LONG_COMMAND), command: LONG_COMMAND, rule: "ask-rsync" });
    expect(pending?.expiresAt).toBe(T0 + 60_000);
    expect(seen.map((event) => event.type)).toEqual(["approval-requested"]);
    service.decide(pending?.id ?? "", "approve", "cli:ada");
    await expect(answer).resolves.toMatchObject({ decision: "approve", outcome: "approved", by: "cli:ada" });
    expect(seen.map((event) => event.type)).toEqual(["approval-requested", "approval-decided"]);
  });

  it("finds the same request when the step asks again (a re-run after a restart)", async () => {
    const { store, clock, service } = setup();
    void service.ask(question()).catch(() => undefined);
    await settle();
    const id = service.list()[0]?.id ?? "";
    // A new service on the same store, as after a restart.
    const restarted = new ApprovalService({ store, clock, defaultTimeoutMs: 60_000 });
    restarted.decide(id, "deny", "api");
    await expect(restarted.ask(question())).resolves.toMatchObject({ id, decision: "deny", outcome: "denied" });
    expect(restarted.list()).toHaveLength(1);
  });

  it("expires at the deadline and answers deny; a later decision is refused", async () => {
    const { clock, service, seen } = setup();
    const answer = service.ask(question({ timeoutMs: 5_000 }));
    await settle();
    clock.advance(5_000);
    await expect(answer).resolves.toMatchObject({ decision: "deny", outcome: "expired", by: "timeout" });
    expect(seen.at(-1)).toMatchObject({ type: "approval-decided", decision: "expired" });
    const id = service.list()[0]?.id ?? "";
    expect(() => service.decide(id, "approve", "cli")).toThrow(/already expired/);
  });

  it("sees a decision another process wrote to the store (poll)", async () => {
    const { store, clock, service } = setup();
    const answer = service.ask(question());
    await settle();
    const other = new ApprovalService({ store, clock });
    other.decide(service.list()[0]?.id ?? "", "approve", "cli:bob");
    clock.advance(1_000);
    await expect(answer).resolves.toMatchObject({ decision: "approve", by: "cli:bob" });
  });

  it("rejects with the abort reason when the step is cancelled, leaving the request pending", async () => {
    const { service } = setup();
    const controller = new AbortController();
    const answer = service.ask(question(), controller.signal);
    await settle();
    controller.abort(new LocalAgentError("step_cancelled", "stopping", { retryable: true }));
    await expect(answer).rejects.toThrow("stopping");
    expect(service.list({ status: "pending" })).toHaveLength(1);
  });

  it("answers unknown ids with approval_not_found and a second answer with bad_request", async () => {
    const { service } = setup();
    expect(() => service.decide("ap_nope", "approve", "cli")).toThrow(expect.objectContaining({ code: "approval_not_found" }));
    const answer = service.ask(question());
    await settle();
    const id = service.list()[0]?.id ?? "";
    service.decide(id, "deny", "cli");
    await answer;
    expect(() => service.decide(id, "approve", "cli")).toThrow(expect.objectContaining({ code: "bad_request" }));
  });

  it("expires the pending requests of a run that ended, and asks afresh when the run is resumed", async () => {
    const { service, clock } = setup();
    const controller = new AbortController();
    const first = service.ask(question(), controller.signal);
    await settle();
    controller.abort(new Error("cancelled"));
    await expect(first).rejects.toThrow("cancelled");
    service.closeRun("run1", "cancelled");
    expect(service.list()[0]).toMatchObject({ status: "expired", decidedBy: "run-cancelled" });
    clock.advance(1_000);
    const resumed = service.ask(question());
    await settle();
    expect(service.list()[0]).toMatchObject({ status: "pending", requestedAt: T0 + 1_000 });
    service.decide(service.list()[0]?.id ?? "", "approve", "ada");
    await expect(resumed).resolves.toMatchObject({ decision: "approve" });
    // Other runs' requests are left alone; a real expiry is final.
    service.closeRun("other-run", "failed");
    expect(service.list()[0]?.status).toBe("approved");
  });

  it("gate resolves to the decision only", async () => {
    const { service } = setup();
    const decision = service.gate(question({ command: "rm -rf build" }));
    await settle();
    service.decide(service.list()[0]?.id ?? "", "approve", "dashboard");
    await expect(decision).resolves.toBe("approve");
  });
});
