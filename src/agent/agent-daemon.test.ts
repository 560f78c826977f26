import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, ROOT } from "../../test/helpers/index.js";
import { ScriptedModel, toolResultsOf } from "../../test/helpers/scripted-model.js";
import { readAuditEntries, verifyAuditLog } from "../audit/index.js";
import { loadConfig } from "../config/index.js";
import { LocalAgentError } from "../errors/index.js";
import type { LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import { Daemon } from "../daemon/index.js";
import { createDefaultRegistry, unconfiguredAiStep } from "../steps/index.js";
import { runAiStepWithTools } from "./ai-step-tools.js";

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

  it("calls an MCP server from config.yaml, schedules a workflow, audits it all, and stops the server with the daemon", async () => {
    writeFileSync(
      join(temp.dir, "config", "config.yaml"),
      `mcp:\n  servers:\n    calc:\n      command: ${JSON.stringify(process.execPath)}\n      args: [${JSON.stringify(FIXTURE)}, daemon]\n`,
    );
    writeFileSync(
      join(temp.dir, "config", "workflows", "agent.yaml"),
      'workflow:\n  name: helper\n  tasks:\n    - { name: think, type: ai, prompt: "sum it and archive", tools: ["mcp:calc", run_workflow] }\n',
    );
    writeFileSync(
      join(temp.dir, "config", "workflows", "archive.yaml"),
      "workflow:\n  name: archive\n  inputs: { total: { type: number } }\n  tasks:\n    - { name: keep, type: set, value: '{{ inputs.total }}' }\n",
    );
    const model = new ScriptedModel([
      {
        toolCalls: [
          { name: "calc__add", arguments: { a: 19, b: 23 } },
          { name: "calc__whoami", arguments: {} },
        ],
      },
      (request) => ({
        toolCalls: [{ name: "run_workflow", arguments: { workflow: "archive", inputs: { total: Number(toolResultsOf(request)[0]) } } }],
      }),
      (request) => ({ text: toolResultsOf(request).join(" | ") }),
    ]);
    const registry = createDefaultRegistry().register({
      ...unconfiguredAiStep,
      run: (context) => runAiStepWithTools(context as never, model),
    });
    const config = loadConfig({ configDir: join(temp.dir, "config"), dataDir: join(temp.dir, "data"), port: 0 });
    daemon = new Daemon({ config, registry, logger: createSilentLogger(), serve: false, probe: () => true });
    const events: LocalAgentEvent[] = [];
    daemon.events.subscribe((event) => events.push(event));
    await daemon.start();

    const view = (await daemon.runWorkflow("helper", {}, true)) as { status: string; outputs: { text: string } };
    expect(view.status).toBe("succeeded");
    const [sum, whoami, scheduled] = view.outputs.text.split(" | ");
    expect(sum).toBe("42");
    expect(JSON.parse(scheduled ?? "")).toMatchObject({ run_id: expect.stringMatching(/^run_/), status: "queued" });
    await until(() => events.some((event) => event.type === "run-finished" && event.workflow === "archive"));
    const archive = events.find((event) => event.type === "run-finished" && event.workflow === "archive");
    expect(archive).toMatchObject({ status: "succeeded" });
    expect(events.find((event) => event.type === "run-queued" && event.workflow === "archive")).toMatchObject({
      trigger: "agent:helper/think",
    });

    const auditFile = join(temp.dir, "data", "audit.log");
    expect(verifyAuditLog(auditFile).ok).toBe(true);
    const tools = readAuditEntries(auditFile)
      .filter((entry) => entry.type === "tool-call")
      .map((entry) => [entry.details.tool, entry.details.outcome]);
    expect(tools).toEqual([
      ["calc__add", "ok"],
      ["calc__whoami", "ok"],
      ["run_workflow", "ok"],
    ]);

    const pid = Number(whoami?.split(":")[1]);
    expect(alive(pid)).toBe(true);
    await daemon.stop();
    daemon = undefined;
    await until(() => !alive(pid));
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
