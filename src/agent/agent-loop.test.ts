import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { ScriptedModel, toolResultsOf } from "../../test/helpers/scripted-model.js";
import { AuditLog, readAuditEntries, verifyAuditLog } from "../audit/index.js";
import { systemClock } from "../clock/index.js";
import { EventBus, type LocalAgentEvent } from "../events/index.js";
import { createCommandPolicy } from "../policy/index.js";
import { runAgentLoop } from "./agent-loop.js";
import { createPolicyToolHook } from "./policy-hook.js";
import type { AgentTool } from "./types.js";

function tool(name: string, execute: AgentTool["execute"], properties: Record<string, unknown> = {}, required: string[] = []): AgentTool {
  return {
    definition: { name, description: name, parameters: { type: "object", properties, required, additionalProperties: false } },
    execute,
  };
}

const add = tool("add", async (args) => Number(args.a) + Number(args.b), { a: { type: "number" }, b: { type: "number" } }, ["a", "b"]);

let temp: ReturnType<typeof makeTempDir>;
let audit: AuditLog;
beforeEach(() => {
  temp = makeTempDir("localagent-agent-loop-");
  audit = new AuditLog({ file: join(temp.dir, "audit.log"), clock: systemClock, durability: "process", secrets: ["s3cret-value"] });
});
afterEach(() => {
  audit.close();
  temp.cleanup();
});

describe("runAgentLoop", () => {
  it("runs the tool the model calls, hands back the result, and stops at the answer; every call is audited and emitted", async () => {
    const model = new ScriptedModel([
      { toolCalls: [{ name: "add", arguments: { a: 2, b: 40 } }] },
      (request) => ({ text: `the sum is ${toolResultsOf(request)[0] ?? "?"}` }),
    ]);
    const bus = new EventBus();
    const events: LocalAgentEvent[] = [];
    bus.subscribe((event) => events.push(event));
    const result = await runAgentLoop({
      model,
      messages: [{ role: "user", content: "add 2 and 40" }],
      tools: [add],
      audit,
      events: bus,
      actor: { workflow: "w", run: "run_1", step: "think" },
    });
    expect(result).toMatchObject({ outcome: "stop", text: "the sum is 42", turns: 2, usage: { inputTokens: 20, outputTokens: 10 } });
    expect(model.requests[0]?.tools?.map((definition) => definition.name)).toEqual(["add"]);
    expect(result.messages.map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(result.messages[2]).toMatchObject({ role: "tool", content: "42", toolCallId: "call_1_0", name: "add" });
    expect(events.map((event) => event.type)).toEqual(["agent-turn", "agent-tool-call", "agent-turn"]);
    expect(events[1]).toMatchObject({ tool: "add", ok: true, decision: "allow", runId: "run_1", step: "think" });

    expect(verifyAuditLog(join(temp.dir, "audit.log"))).toMatchObject({ ok: true, entries: 3 });
    const entries = readAuditEntries(join(temp.dir, "audit.log"));
    expect(entries.map((entry) => entry.type)).toEqual(["model-call", "tool-call", "model-call"]);
    expect(entries[0]).toMatchObject({
      actor: { workflow: "w", run: "run_1", step: "think" },
      details: {
        turn: 1,
        model: "scripted",
        provider: "scripted",
        inputTokens: 10,
        outputTokens: 5,
        cached: false,
        status: "ok",
        toolCalls: ["add"],
      },
    });
    expect(entries[1]?.details).toMatchObject({
      tool: "add",
      arguments: '{"a":2,"b":40}',
      decision: "allow",
      status: "ok",
      turn: 1,
      callId: "call_1_0",
    });
  });

  it("runs several calls of one turn in parallel and returns the results in call order", async () => {
    const order: string[] = [];
    let releaseSlow: () => void = () => {};
    const slow = tool("slow", () => new Promise((resolve) => (releaseSlow = () => resolve("slow done"))));
    const fast = tool("fast", async () => {
      order.push("fast");
      releaseSlow();
      return "fast done";
    });
    const model = new ScriptedModel([
      {
        toolCalls: [
          { name: "slow", arguments: {} },
          { name: "fast", arguments: {} },
        ],
      },
      { text: "ok" },
    ]);
    const result = await runAgentLoop({ model, messages: [{ role: "user", content: "go" }], tools: [slow, fast] });
    // fast ran while slow was still waiting: they ran at the same time.
    expect(order).toEqual(["fast"]);
    expect(toolResultsOf(model.requests[1])).toEqual(["slow done", "fast done"]);
    expect(result.outcome).toBe("stop");
  });

  it("answers an unknown tool, invalid arguments and a throwing tool with error results, and goes on", async () => {
    let ran = 0;
    const boom = tool("boom", () => {
      ran += 1;
      return Promise.reject(new Error("disk on fire"));
    });
    const model = new ScriptedModel([
      {
        toolCalls: [
          { name: "nope", arguments: {} },
          { name: "add", arguments: { a: "two", b: 1 } },
          { name: "add", arguments: { a: 1, b: 1, c: 3 } },
          { name: "boom", arguments: {} },
        ],
      },
      { text: "sorry" },
    ]);
    const result = await runAgentLoop({ model, messages: [{ role: "user", content: "x" }], tools: [add, boom], audit });
    const results = toolResultsOf(model.requests[1]);
    expect(results[0]).toBe('error: unknown tool "nope"; the tools available are: add, boom');
    expect(results[1]).toBe("error: invalid arguments for add: arguments.a must be number");
    expect(results[2]).toBe("error: invalid arguments for add: arguments must NOT have additional properties (c)");
    expect(results[3]).toBe("error: disk on fire");
    expect(ran).toBe(1);
    expect(result).toMatchObject({ outcome: "stop", text: "sorry" });
    expect(result.toolCalls.map((call) => [call.name, call.ok, call.decision])).toEqual([
      ["nope", false, "invalid"],
      ["add", false, "invalid"],
      ["add", false, "invalid"],
      ["boom", false, "allow"],
    ]);
    const outcomes = readAuditEntries(join(temp.dir, "audit.log"))
      .filter((entry) => entry.type === "tool-call")
      .map((entry) => [entry.details.decision, entry.details.rule ?? null, entry.details.status]);
    expect(outcomes).toEqual([
      ["deny", "agent.invalid-call", "denied"],
      ["deny", "agent.invalid-call", "denied"],
      ["deny", "agent.invalid-call", "denied"],
      ["allow", null, "error"],
    ]);
  });

  it("stops a model that keeps calling tools at max_turns", async () => {
    let calls = 0;
    const counter = tool("count", async () => ++calls);
    const model = new ScriptedModel([{ toolCalls: [{ name: "count", arguments: {} }] }]);
    const result = await runAgentLoop({ model, messages: [{ role: "user", content: "loop" }], tools: [counter], maxTurns: 3 });
    expect(result).toMatchObject({ outcome: "max_turns", turns: 3 });
    expect(model.requests).toHaveLength(3);
    expect(calls).toBe(3);
  });

  it("stops when the token budget is used up, and gives each call only what is left", async () => {
    const counter = tool("count", async () => "again");
    const model = new ScriptedModel([{ toolCalls: [{ name: "count", arguments: {} }], usage: { inputTokens: 300, outputTokens: 100 } }]);
    const result = await runAgentLoop({ model, messages: [{ role: "user", content: "loop" }], tools: [counter], maxTokens: 1000 });
    expect(result).toMatchObject({ outcome: "max_tokens", turns: 3, usage: { inputTokens: 900, outputTokens: 300 } });
    expect(model.requests.map((request) => request.maxTokens)).toEqual([1000, 600, 200]);
  });

  it("reports a failing model as outcome error, with what was done so far", async () => {
    const model = new ScriptedModel([{ toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] }, new Error("connection refused")]);
    const result = await runAgentLoop({ model, messages: [{ role: "user", content: "x" }], tools: [add], audit });
    expect(result).toMatchObject({ outcome: "error", turns: 1 });
    expect(result.error?.message).toBe("connection refused");
    expect(result.toolCalls).toHaveLength(1);
    const last = readAuditEntries(join(temp.dir, "audit.log")).at(-1);
    expect(last).toMatchObject({ type: "model-call", details: { turn: 2, error: "connection refused" } });
  });

  it("puts the command policy in front of a command tool: deny is told to the model, ask waits for the approver", async () => {
    const ran: string[] = [];
    const shell: AgentTool = {
      ...tool(
        "shell",
        async (args) => {
          ran.push(args.command as string);
          return "done";
        },
        { command: { type: "string" } },
        ["command"],
      ),
      commandOf: (args) => args.command as string,
    };
    const asked: string[] = [];
    const model = new ScriptedModel([
      {
        toolCalls: [
          { name: "shell", arguments: { command: "rm -rf /" } },
          { name: "shell", arguments: { command: "mkdir -p build && rm -rf build" } },
          { name: "shell", arguments: { command: "echo fine" } },
        ],
      },
      { text: "done" },
    ]);
    const result = await runAgentLoop({
      model,
      messages: [{ role: "user", content: "clean up" }],
      tools: [shell],
      beforeToolCall: createPolicyToolHook(createCommandPolicy()),
      approve: async (call) => {
        asked.push(call.arguments.command as string);
        return "approve";
      },
      audit,
    });
    expect(result.outcome).toBe("stop");
    expect([...ran].sort()).toEqual(["echo fine", "mkdir -p build && rm -rf build"]);
    expect(asked).toEqual(["mkdir -p build && rm -rf build"]);
    const [denied, approved, allowed] = toolResultsOf(model.requests[1]);
    expect(denied).toMatch(/^error: shell call denied by policy \(rule [a-z.-]+\): /);
    expect([approved, allowed]).toEqual(["done", "done"]);
    const details = readAuditEntries(join(temp.dir, "audit.log"))
      .filter((entry) => entry.type === "tool-call")
      .map((entry) => [entry.details.decision, entry.details.approval ?? null, entry.details.status])
      .sort();
    expect(details).toEqual([
      ["allow", null, "ok"],
      ["ask", "approve", "ok"],
      ["deny", null, "denied"],
    ]);
  });

  it("denies an ask when nobody can approve, and keeps known secrets out of the audit log", async () => {
    const shell: AgentTool = {
      ...tool("shell", async () => "ran", { command: { type: "string" } }),
      commandOf: (args) => args.command as string,
    };
    const model = new ScriptedModel([
      { toolCalls: [{ name: "shell", arguments: { command: "mkdir -p b && rm -rf b s3cret-value" } }] },
      { text: "ok" },
    ]);
    await runAgentLoop({
      model,
      messages: [{ role: "user", content: "x" }],
      tools: [shell],
      beforeToolCall: createPolicyToolHook(createCommandPolicy()),
      audit,
    });
    expect(toolResultsOf(model.requests[1])[0]).toMatch(
      /^error: shell call needs approval \(rule risky\.rm-recursive\).*; it was not approved$/,
    );
    const text = readAuditEntries(join(temp.dir, "audit.log"))
      .map((entry) => JSON.stringify(entry))
      .join("\n");
    expect(text).not.toContain("s3cret-value");
    expect(text).toContain('"approval":"deny"');
  });

  it("ends with the caller's abort", async () => {
    const controller = new AbortController();
    const hang = tool("hang", () => {
      controller.abort(new Error("cancelled by test"));
      return new Promise(() => {});
    });
    const model = new ScriptedModel([{ toolCalls: [{ name: "hang", arguments: {} }] }]);
    const loop = runAgentLoop({ model, messages: [{ role: "user", content: "x" }], tools: [hang], signal: controller.signal });
    // The tool never settles; the loop still ends with the abort's reason.
    await expect(loop).rejects.toThrow("cancelled by test");
  });
});
