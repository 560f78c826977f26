import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../../../test/helpers/index.js";
import { ScriptedModel, toolResultsOf } from "../../../test/helpers/scripted-model.js";
import { systemClock } from "../../clock/index.js";
import type { StepServices } from "../../engine/index.js";
import { EventBus } from "../../events/index.js";
import { createSilentLogger } from "../../logger/index.js";
import { createCommandPolicy, createPolicyMiddleware } from "../../policy/index.js";
import { runAgentLoop } from "../agent-loop.js";
import { createPolicyToolHook } from "../policy-hook.js";
import { createStandaloneTools } from "./standalone-tools.js";

let temp: ReturnType<typeof makeTempDir>;
let services: StepServices;
beforeEach(() => {
  temp = makeTempDir("localagent-standalone-");
  services = {
    clock: systemClock,
    logger: createSilentLogger(),
    events: new EventBus(),
    deliveries: { enqueue: () => undefined },
    settings: { maxOutputBytes: 64, notificationPlatforms: {}, workspaceDir: temp.dir },
  };
});
afterEach(() => temp.cleanup());

/** What a chat conversation gets: tools without a workflow step, the command policy as the loop's hook. */
describe("standalone tools (chat conversations)", () => {
  it("run shell calls in the workspace with the output cap, and the policy hook refuses what a step would be refused", async () => {
    const model = new ScriptedModel([
      {
        toolCalls: [
          { name: "shell", arguments: { command: "pwd" } },
          { name: "shell", arguments: { command: "head -c 100 /dev/zero | tr '\\0' x" } },
          { name: "shell", arguments: { command: "rm -rf / --no-preserve-root" } },
          { name: "shell", arguments: { command: "exit 4" } },
          { name: "write_file", arguments: { path: "a.txt", content: "chat" } },
        ],
      },
      { text: "done" },
    ]);
    const result = await runAgentLoop({
      model,
      messages: [{ role: "user", content: "go" }],
      tools: createStandaloneTools({ services, caller: "chat:test:1" }),
      beforeToolCall: createPolicyToolHook(createCommandPolicy()),
    });
    expect(result.outcome).toBe("stop");
    const [pwd, capped, denied, failed, written] = toolResultsOf(model.requests[1]);
    expect(pwd).toBe(temp.dir);
    expect(capped).toBe(`${"x".repeat(64)}\n[output truncated: 36 more bytes]`);
    expect(denied).toMatch(/^error: shell call denied by policy \(rule [a-z.-]+\): /);
    expect(failed).toBe("error: command failed (exit status 4)");
    expect(JSON.parse(written ?? "")).toEqual({ path: "a.txt", bytes: 4 });
  });

  it("run inside the engine's middleware: the policy middleware refuses what it refuses a shell step", async () => {
    const model = new ScriptedModel([
      {
        toolCalls: [
          { name: "shell", arguments: { command: "rm -rf / --no-preserve-root" } },
          { name: "shell", arguments: { command: "echo allowed" } },
        ],
      },
      { text: "done" },
    ]);
    const result = await runAgentLoop({
      model,
      messages: [{ role: "user", content: "go" }],
      tools: createStandaloneTools({ services, caller: "chat:test:3", middleware: [createPolicyMiddleware()] }),
    });
    const [denied, allowed] = toolResultsOf(model.requests[1]);
    expect(denied).toMatch(/^error: step "shell\[1\.0\]": command denied by policy \(rule [a-z.-]+\): /);
    expect(allowed).toBe("allowed");
    expect(result.toolCalls.map((call) => call.decision)).toEqual(["deny", "allow"]);
  });

  it("kills a command that outlives its timeout", async () => {
    const model = new ScriptedModel([{ toolCalls: [{ name: "shell", arguments: { command: "sleep 30" } }] }, { text: "ok" }]);
    await runAgentLoop({
      model,
      messages: [{ role: "user", content: "go" }],
      tools: createStandaloneTools({ services, caller: "chat:test:2", timeoutMs: 200 }),
    });
    expect(toolResultsOf(model.requests[1])).toEqual(["error: shell call timed out after 200 ms"]);
  });
});
