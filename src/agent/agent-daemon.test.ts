import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, ROOT } from "../../test/helpers/index.js";
import { ModelServer } from "../../test/helpers/model-servers.js";
import { readAuditEntries, verifyAuditLog } from "../audit/index.js";
import { loadConfig } from "../config/index.js";
import { LocalAgentError } from "../errors/index.js";
import type { LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import { Daemon } from "../daemon/index.js";

const FIXTURE = join(ROOT, "test", "fixtures", "mcp-server.mjs");

async function until(check: () => boolean): Promise<void> {
  for (let index = 0; index < 1000 && !check(); index++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!check()) throw new Error("condition never held");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The agent inside a whole daemon: config.yaml `mcp:`, the dispatcher behind run_workflow, the audit log, stop. */
describe("agent tools in the daemon", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let daemon: Daemon | undefined;
  beforeEach(() => {
    temp = makeTempDir("localagent-agent-daemon-");
    mkdirSync(join(temp.dir, "config", "workflows"), { recursive: true });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    temp.cleanup();
  });

  it("runs the ai step's tools: path on a routed OpenAI-compatible model: MCP from config.yaml, run_workflow, audit, stop", async () => {
    const server = await new ModelServer("openai").start();
    try {
      server.reply(
        {
          toolCalls: [
            { name: "calc__add", arguments: { a: 19, b: 23 } },
            { name: "calc__whoami", arguments: {} },
          ],
        },
        { toolCalls: [{ name: "run_workflow", arguments: { workflow: "archive", inputs: { total: 42 } } }] },
        { text: "42, archived" },
      );
      writeFileSync(
        join(temp.dir, "config", "config.yaml"),
        [
          "models:",
          `  local: { provider: openai, base_url: "${server.url}", model: qwen-test }`,
          "routing:",
          "  general: [local]",
          "mcp:",
          "  servers:",
          "    calc:",
          `      command: ${JSON.stringify(process.execPath)}`,
          `      args: [${JSON.stringify(FIXTURE)}, daemon]`,
          "",
        ].join("\n"),
      );
      writeFileSync(
        join(temp.dir, "config", "workflows", "agent.yaml"),
        'workflow:\n  name: helper\n  tasks:\n    - { name: think, type: ai, prompt: "sum it and archive", tools: ["mcp:calc", run_workflow] }\n',
      );
      writeFileSync(
        join(temp.dir, "config", "workflows", "archive.yaml"),
        "workflow:\n  name: archive\n  inputs: { total: { type: number } }\n  tasks:\n    - { name: keep, type: set, value: '{{ inputs.total }}' }\n",
      );
      const config = loadConfig({ configDir: join(temp.dir, "config"), dataDir: join(temp.dir, "data"), port: 0 });
      daemon = new Daemon({ config, logger: createSilentLogger(), serve: false, probe: () => true });
      const events: LocalAgentEvent[] = [];
      daemon.events.subscribe((event) => events.push(event));
      await daemon.start();

      const view = (await daemon.runWorkflow("helper", {}, true)) as { status: string; outputs: { text: string; model: string } };
      expect(view).toMatchObject({ status: "succeeded", outputs: { text: "42, archived", model: "local" } });
      // What went over the wire: the tools' definitions, then the tool results in call order.
      const first = server.requests[0]?.body as { tools: Array<{ function: { name: string } }> };
      expect(first.tools.map((tool) => tool.function.name).sort()).toEqual(["calc__add", "calc__fail", "calc__whoami", "run_workflow"]);
      const second = server.requests[1]?.body as { messages: Array<{ role: string; content: string; tool_call_id?: string }> };
      const results = second.messages.filter((message) => message.role === "tool").map((message) => message.content);
      expect(results[0]).toBe("42");
      expect(results[1]).toMatch(/^daemon:\d+:$/);
      const third = server.requests[2]?.body as { messages: Array<{ role: string; content: string }> };
      const scheduled = third.messages.filter((message) => message.role === "tool").at(-1)?.content ?? "";
      expect(JSON.parse(scheduled)).toMatchObject({ run_id: expect.stringMatching(/^run_/), status: "queued" });

      await until(() => events.some((event) => event.type === "run-finished" && event.workflow === "archive"));
      expect(events.find((event) => event.type === "run-finished" && event.workflow === "archive")).toMatchObject({ status: "succeeded" });
      expect(events.find((event) => event.type === "run-queued" && event.workflow === "archive")).toMatchObject({
        trigger: "agent:helper/think",
      });
      expect(events.filter((event) => event.type === "agent-turn")).toHaveLength(3);

      const auditFile = join(temp.dir, "data", "audit.log");
      expect(verifyAuditLog(auditFile).ok).toBe(true);
      const entries = readAuditEntries(auditFile);
      // The router writes one model-call entry per call (the loop does not write a second one).
      expect(entries.filter((entry) => entry.type === "model-call")).toHaveLength(3);
      expect(entries.filter((entry) => entry.type === "model-call").every((entry) => entry.actor?.step === "think")).toBe(true);
      const tools = entries.filter((entry) => entry.type === "tool-call").map((entry) => [entry.details.tool, entry.details.status]);
      expect(tools).toEqual([
        ["calc__add", "ok"],
        ["calc__whoami", "ok"],
        ["run_workflow", "ok"],
      ]);

      const pid = Number(results[1]?.split(":")[1]);
      expect(alive(pid)).toBe(true);
      await daemon.stop();
      daemon = undefined;
      await until(() => !alive(pid));
    } finally {
      await server.stop();
    }
  });

  it("refuses an mcp: section with a mistake at start, naming the field", () => {
    writeFileSync(join(temp.dir, "config", "config.yaml"), "mcp:\n  servers:\n    web: { url: not-a-url }\n");
    let error: unknown;
    try {
      loadConfig({ configDir: join(temp.dir, "config"), dataDir: join(temp.dir, "data"), port: 0 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LocalAgentError);
    expect((error as LocalAgentError).format()).toContain("mcp.servers.web.url");
  });
});
