import { describe, expect, it } from "vitest";
import { ApprovalService } from "../../approvals/index.js";
import { systemClock } from "../../clock/index.js";
import { Engine } from "../../engine/index.js";
import { EventBus } from "../../events/index.js";
import { createSilentLogger } from "../../logger/index.js";
import { MemoryStore } from "../../store/index.js";
import { loadWorkflowText } from "../../workflow/index.js";
import { createDefaultRegistry } from "../index.js";

const WORKFLOW = `
workflow:
  name: gate
  trigger: manual
  tasks:
    - name: ask
      type: approval
      message: "Ship {{ inputs.version }}?"
      timeout: 200ms
    - name: after
      type: set
      value: "{{ steps.ask.output.by }}"
`;

function setup(withApprovals = true) {
  const store = new MemoryStore();
  const events = new EventBus();
  const registry = createDefaultRegistry();
  const approvals = new ApprovalService({ store, clock: systemClock, events, pollIntervalMs: 20 });
  const engine = new Engine({
    store,
    registry,
    services: {
      clock: systemClock,
      logger: createSilentLogger(),
      events,
      deliveries: { enqueue: () => undefined },
      ...(withApprovals ? { approvals } : {}),
      settings: { maxOutputBytes: 1 << 20, notificationPlatforms: {}, workspaceDir: "/tmp" },
    },
  });
  const result = loadWorkflowText("gate.yaml", WORKFLOW, registry);
  const workflow = result.workflows[0];
  if (!workflow) throw new Error(JSON.stringify(result.issues));
  events.subscribe((event) => {
    if (event.type === "approval-requested" && event.command === "Ship 1.2?") approvals.decide(event.approvalId, "approve", "ada");
  });
  return { store, engine, workflow, approvals };
}

describe("approval step", () => {
  it("waits for the answer and outputs who approved", async () => {
    const { engine, workflow, store } = setup();
    const run = await engine.run(workflow, engine.createRun(workflow, { trigger: "manual", inputs: { version: "1.2" } }).id);
    expect(run.status).toBe("succeeded");
    expect(store.getSteps(run.id).map((step) => [step.path, step.output])).toEqual([
      ["ask", { approved: true, by: "ada", id: expect.stringMatching(/^ap_/) }],
      ["after", "ada"],
    ]);
  });

  it("fails (not retried) when nobody answers before the timeout", async () => {
    const { engine, workflow, approvals } = setup();
    const run = await engine.run(workflow, engine.createRun(workflow, { trigger: "manual", inputs: { version: "9" } }).id);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/expired without an answer/);
    expect(approvals.list()[0]?.status).toBe("expired");
  });

  it("says how to fix it when no approvals service is present", async () => {
    const { engine, workflow } = setup(false);
    const run = await engine.run(workflow, engine.createRun(workflow, { trigger: "manual", inputs: { version: "1.2" } }).id);
    expect(run.error).toMatch(/needs the daemon's approvals service/);
  });
});
