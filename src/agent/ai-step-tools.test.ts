import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, Receiver } from "../../test/helpers/index.js";
import { ScriptedModel, toolResultsOf, type ScriptedTurn } from "../../test/helpers/scripted-model.js";
import { ApprovalService } from "../approvals/index.js";
import { AuditLog, readAuditEntries, verifyAuditLog } from "../audit/index.js";
import { systemClock } from "../clock/index.js";
import { Engine, type StepRunner, type WorkflowLauncher } from "../engine/index.js";
import { createEgressControl } from "../egress/index.js";
import { EventBus, type LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import { Outbox } from "../outbox/index.js";
import { createPolicyMiddleware } from "../policy/index.js";
import { aiStep, createDefaultRegistry } from "../steps/index.js";
import { SqliteStore } from "../store/index.js";
import { formatIssue, loadWorkflowText, type WorkflowDefinition } from "../workflow/index.js";
import { parseToolSelection, runAiStepWithTools } from "./ai-step-tools.js";

/** A daemon's engine, piece by piece: SQLite store, command policy, durable approvals, audit log, outbox. */
function setup(script: ScriptedTurn[], launcher?: WorkflowLauncher) {
  const temp = makeTempDir("localagent-ai-tools-");
  const store = new SqliteStore({ path: join(temp.dir, "localagent.db") });
  const bus = new EventBus();
  const events: LocalAgentEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const logger = createSilentLogger();
  const auditFile = join(temp.dir, "audit.log");
  const audit = new AuditLog({ file: auditFile, clock: systemClock, durability: "process", secrets: [] });
  const approvals = new ApprovalService({ store, clock: systemClock, events: bus, pollIntervalMs: 20 });
  const outbox = new Outbox({ store, clock: systemClock, events: bus, logger, deliverers: [] });
  const model = new ScriptedModel(script);
  const egress = createEgressControl({ socketDir: join(temp.dir, "egress") });
  // The ai step's fields, the tools path run on a scripted model (no router in this harness).
  const scriptedAiStep: StepRunner = {
    ...(aiStep as unknown as StepRunner),
    run: (context) => runAiStepWithTools(context as never, model),
  };
  const registry = createDefaultRegistry().register(scriptedAiStep);
  const engine = new Engine({
    store,
    registry,
    middleware: [createPolicyMiddleware(), egress.middleware],
    services: {
      clock: systemClock,
      logger,
      events: bus,
      deliveries: outbox,
      approvals,
      audit,
      ...(launcher ? { workflows: launcher } : {}),
      settings: { maxOutputBytes: 1 << 20, notificationPlatforms: {}, workspaceDir: temp.dir },
    },
  });
  const load = (yaml: string): WorkflowDefinition => {
    const result = loadWorkflowText("agent.yaml", yaml, registry);
    expect(result.issues.map(formatIssue)).toEqual([]);
    return result.workflows[0] as WorkflowDefinition;
  };
  return {
    dir: temp.dir,
    store,
    events,
    model,
    engine,
    approvals,
    auditFile,
    load,
    auditTypes: () => readAuditEntries(auditFile).map((entry) => entry.type),
    cleanup() {
      void egress.close();
      audit.close();
      store.close();
      temp.cleanup();
    },
  };
}

type Setup = ReturnType<typeof setup>;
let current: Setup | undefined;
beforeEach(() => {
  current = undefined;
});
afterEach(() => current?.cleanup());

function start(script: ScriptedTurn[], launcher?: WorkflowLauncher): Setup {
  current = setup(script, launcher);
  return current;
}

const workflowWith = (tools: string, extra = ""): string => `
name: helper
steps:
  - name: think
    type: ai
    prompt: "tidy the workspace"
    tools: ${tools}
${extra}`;

async function until(check: () => boolean): Promise<void> {
  for (let index = 0; index < 1000 && !check(); index++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!check()) throw new Error("condition never held");
}

describe("the ai step with tools:", () => {
  it("runs the model's shell call as a nested shell step and returns the answer; model, tool and policy are audited in one chain", async () => {
    const harness = start([
      { toolCalls: [{ name: "shell", arguments: { command: "echo hello from the shell" } }] },
      (request) => ({ text: `it said: ${toolResultsOf(request)[0] ?? ""}` }),
    ]);
    const run = await harness.engine.start(harness.load(workflowWith("[shell]")));
    expect(run.status).toBe("succeeded");
    expect(run.outputs).toMatchObject({
      text: "it said: hello from the shell",
      outcome: "stop",
      turns: 2,
      model: "scripted",
      tool_calls: [{ name: "shell", ok: true, decision: "allow" }],
    });
    // The call is journaled as a step of its own under the ai step.
    const paths = harness.store.getSteps(run.id).map((step) => [step.path, step.status]);
    expect(paths).toContainEqual([expect.stringMatching(/^think\[tool-1-0-[0-9a-f]{10}\]\.shell$/), "succeeded"]);
    expect(harness.model.requests[0]?.tools?.map((tool) => tool.name)).toEqual(["shell"]);
    expect(verifyAuditLog(harness.auditFile).ok).toBe(true);
    expect(harness.auditTypes()).toEqual(["model-call", "policy-decision", "tool-call", "model-call"]);
    const entries = readAuditEntries(harness.auditFile);
    expect(entries.filter((entry) => entry.type === "model-call")).toHaveLength(2);
    expect(entries.find((entry) => entry.type === "policy-decision")?.details).toMatchObject({
      command: "echo hello from the shell",
      decision: "allow",
    });
    expect(entries.find((entry) => entry.type === "tool-call")).toMatchObject({
      actor: { workflow: "helper", run: run.id, step: "think" },
      details: { tool: "shell", arguments: '{"command":"echo hello from the shell"}', decision: "allow", status: "ok" },
    });
    expect(harness.events.filter((event) => event.type === "agent-turn")).toHaveLength(2);
  });

  it("refuses a denied command: the model is told why, nothing runs, and the denial is audited", async () => {
    const harness = start([
      { toolCalls: [{ name: "shell", arguments: { command: "rm -rf / --no-preserve-root" } }] },
      (request) => ({ text: `refused: ${toolResultsOf(request)[0] ?? ""}` }),
    ]);
    const run = await harness.engine.start(harness.load(workflowWith("[shell]")));
    expect(run.status).toBe("succeeded");
    const told = toolResultsOf(harness.model.requests[1])[0] ?? "";
    expect(told).toMatch(/^error: step "think\[tool-1-0-[0-9a-f]+\]\.shell": command denied by policy \(rule [a-z.-]+\): /);
    expect(run.outputs).toMatchObject({ tool_calls: [{ name: "shell", ok: false, decision: "deny" }] });
    const entries = readAuditEntries(harness.auditFile);
    expect(entries.find((entry) => entry.type === "policy-decision")?.details).toMatchObject({ decision: "deny" });
    expect(entries.find((entry) => entry.type === "tool-call")?.details).toMatchObject({
      decision: "deny",
      rule: expect.stringMatching(/^[a-z]+\.[a-z-]+$/),
      status: "denied",
    });
  });

  it("pauses an ask command for approval, runs it once approved, and hands the output back", async () => {
    const harness = start([
      { toolCalls: [{ name: "shell", arguments: { command: "mkdir -p build && rm -rf build && echo wiped" } }] },
      (request) => ({ text: toolResultsOf(request)[0] ?? "" }),
    ]);
    const finished = harness.engine.start(harness.load(workflowWith("[shell]")));
    await until(() => harness.approvals.list({ status: "pending" }).length === 1);
    const [request] = harness.approvals.list({ status: "pending" });
    expect(request).toMatchObject({ command: "mkdir -p build && rm -rf build && echo wiped", rule: "risky.rm-recursive" });
    // Nothing ran while it waited.
    expect(harness.model.requests).toHaveLength(1);
    harness.approvals.decide(request!.id, "approve", "test:ada");
    const run = await finished;
    expect(run).toMatchObject({ status: "succeeded", outputs: { text: "wiped" } });
    const decisions = readAuditEntries(harness.auditFile).filter((entry) => entry.type === "policy-decision");
    expect(decisions.map((entry) => [entry.details.decision, entry.details.approval])).toEqual([["ask", "approve"]]);
    // The tool-call entry says so too.
    expect(readAuditEntries(harness.auditFile).find((entry) => entry.type === "tool-call")?.details).toMatchObject({
      decision: "ask",
      rule: "risky.rm-recursive",
      approval: "approve",
      status: "ok",
    });
    expect(run.outputs).toMatchObject({ tool_calls: [{ name: "shell", ok: true, decision: "ask" }] });
  });

  it("tells the model when the human says no, and runs nothing", async () => {
    const harness = start([
      { toolCalls: [{ name: "shell", arguments: { command: "mkdir -p build && rm -rf build && echo wiped" } }] },
      (request) => ({ text: toolResultsOf(request)[0] ?? "" }),
    ]);
    const finished = harness.engine.start(harness.load(workflowWith("[shell]")));
    await until(() => harness.approvals.list({ status: "pending" }).length === 1);
    harness.approvals.decide(harness.approvals.list({ status: "pending" })[0]!.id, "deny", "test:ada");
    const run = await finished;
    expect(run.status).toBe("succeeded");
    expect((run.outputs as { text: string }).text).toMatch(/command needs approval \(rule risky\.rm-recursive\).*it was not approved$/);
    expect(readAuditEntries(harness.auditFile).find((entry) => entry.type === "tool-call")?.details).toMatchObject({
      decision: "ask",
      approval: "deny",
      status: "denied",
    });
  });

  it("fails the step when the model is still calling tools at max_turns", async () => {
    const harness = start([{ toolCalls: [{ name: "shell", arguments: { command: "echo again" } }] }]);
    const run = await harness.engine.start(harness.load(workflowWith("[shell]", "    max_turns: 3")));
    expect(run.status).toBe("failed");
    expect(run.error).toBe('ai step "think": the model was still calling tools after 3 turns (max_turns); 3 tool calls ran');
    expect(harness.model.requests).toHaveLength(3);
  });

  it("never renders templates the model writes: {{ env.X }} in a command stays literal text", async () => {
    process.env.LOCALAGENT_TEST_AGENT_SECRET = "do-not-leak";
    try {
      const harness = start([
        { toolCalls: [{ name: "shell", arguments: { command: "echo '{{ env.LOCALAGENT_TEST_AGENT_SECRET }}'" } }] },
        (request) => ({ text: toolResultsOf(request)[0] ?? "" }),
      ]);
      const run = await harness.engine.start(harness.load(workflowWith("[shell]")));
      expect(run.outputs).toMatchObject({ text: "{{ env.LOCALAGENT_TEST_AGENT_SECRET }}" });
    } finally {
      delete process.env.LOCALAGENT_TEST_AGENT_SECRET;
    }
  });

  it("reads and writes files in the workspace, refuses to leave it, and queues a notification through the outbox", async () => {
    const harness = start([
      {
        toolCalls: [
          { name: "write_file", arguments: { path: "notes/todo.txt", content: "buy milk" } },
          { name: "read_file", arguments: { path: "../../../etc/passwd" } },
          { name: "notify", arguments: { message: "done tidying", title: "helper" } },
        ],
      },
      { toolCalls: [{ name: "read_file", arguments: { path: "notes/todo.txt" } }] },
      (request) => ({ text: toolResultsOf(request).join(" | ") }),
    ]);
    const run = await harness.engine.start(harness.load(workflowWith("all")));
    expect(run.status).toBe("succeeded");
    expect(readFileSync(join(harness.dir, "notes", "todo.txt"), "utf8")).toBe("buy milk");
    const [written, refused, notified, read] = toolResultsOf(harness.model.requests[2]);
    expect(JSON.parse(written ?? "")).toEqual({ path: "notes/todo.txt", bytes: 8 });
    expect(refused).toMatch(/^error: path "\.\.\/\.\.\/\.\.\/etc\/passwd" refused: it is outside the allowed folders/);
    expect(JSON.parse(notified ?? "")).toMatchObject({ queued: true, platform: "log" });
    expect(read).toBe("buy milk");
    const deliveries = harness.store.listDeliveries();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]?.payload).toMatchObject({ platform: "log", message: "done tidying", title: "helper", workflow: "helper" });
  });

  it("sends the model's http calls through the http step: POST with a JSON body, and a failing status as an error result", async () => {
    const receiver = await new Receiver().start();
    try {
      const harness = start([
        {
          toolCalls: [
            {
              name: "http",
              arguments: { url: receiver.url, method: "POST", body: { note: "{{ env.HOME }}" }, headers: { "x-from": "agent" } },
            },
          ],
        },
        () => {
          receiver.status = 503;
          return { toolCalls: [{ name: "http", arguments: { url: receiver.url } }] };
        },
        (request) => ({ text: toolResultsOf(request).join(" | ") }),
      ]);
      const run = await harness.engine.start(harness.load(workflowWith("[http]")));
      expect(run.status).toBe("succeeded");
      expect(receiver.requests).toHaveLength(1);
      // The body arrives as the model wrote it: templates in it are data, not rendered.
      expect(receiver.requests[0]).toMatchObject({ body: { note: "{{ env.HOME }}" }, headers: { "x-from": "agent" } });
      const [posted, failed] = toolResultsOf(harness.model.requests[2]);
      expect(JSON.parse(posted ?? "")).toEqual({ status: 200, body: { ok: true } });
      expect(failed).toBe(`error: GET http://127.0.0.1:${receiver.port}/hook answered 503`);
    } finally {
      await receiver.stop();
    }
  });

  it("gives the tool calls the ai step's network: allow-list (the egress check refuses other hosts)", async () => {
    const receiver = await new Receiver().start();
    try {
      const harness = start([
        {
          toolCalls: [
            { name: "http", arguments: { url: receiver.url } },
            { name: "http", arguments: { url: `http://localhost:${receiver.port}/hook` } },
          ],
        },
        (request) => ({ text: toolResultsOf(request).join(" | ") }),
      ]);
      const run = await harness.engine.start(harness.load(workflowWith("[http]", "    network: [127.0.0.1]")));
      expect(run.status).toBe("succeeded");
      const [allowed, refused] = toolResultsOf(harness.model.requests[1]);
      expect(JSON.parse(allowed ?? "")).toEqual({ status: 200, body: { ok: true } });
      expect(refused).toMatch(/^error: .*localhost.* (is )?not in the step's network allow-list/);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await receiver.stop();
    }
  });

  it("schedules another workflow through the launcher, and refuses to schedule itself", async () => {
    const launched: Array<{ workflow: string; inputs: Record<string, unknown>; trigger: string }> = [];
    const launcher: WorkflowLauncher = {
      launch(workflow, options) {
        launched.push({ workflow, ...options });
        return { runId: "run_other", status: "queued" };
      },
    };
    const harness = start(
      [
        {
          toolCalls: [
            { name: "run_workflow", arguments: { workflow: "backup", inputs: { full: true } } },
            { name: "run_workflow", arguments: { workflow: "helper" } },
          ],
        },
        (request) => ({ text: toolResultsOf(request).join(" | ") }),
      ],
      launcher,
    );
    const run = await harness.engine.start(harness.load(workflowWith("[run_workflow]")));
    expect(launched).toEqual([{ workflow: "backup", inputs: { full: true }, trigger: "agent:helper/think" }]);
    expect(run.outputs).toMatchObject({
      text: '{"run_id":"run_other","status":"queued"} | error: a workflow cannot schedule itself ("helper") from its own ai step',
    });
  });
});

describe("tools: selection", () => {
  it("takes all, built-in names and MCP selectors, and names the step when a tool is unknown", () => {
    expect(parseToolSelection("all", "s").builtins).toHaveLength(6);
    expect(parseToolSelection(["shell", "mcp:files", "mcp:web/fetch"], "s")).toEqual({
      builtins: ["shell"],
      mcp: ["mcp:files", "mcp:web/fetch"],
    });
    expect(() => parseToolSelection(["shell", "sudo"], "think")).toThrow(
      /^ai step "think": unknown tool "sudo" in tools: \(built-in: shell, http/,
    );
  });

  it("fails the step with a clear message when it names an MCP server and none is configured", async () => {
    const harness = start([{ text: "unused" }]);
    const run = await harness.engine.start(harness.load(workflowWith("[mcp:files]")));
    expect(run.error).toBe('ai step "think": tools: names mcp:files, but config.yaml has no mcp: servers');
  });
});
