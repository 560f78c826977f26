import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import type { LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import { Daemon } from "./daemon.js";

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("Daemon (in process)", () => {
  let dir: string;
  let daemon: Daemon | undefined;
  let online = true;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-daemon-"));
    mkdirSync(join(dir, "config", "workflows"), { recursive: true });
    writeFileSync(join(dir, "config", "config.yaml"), "network: { probe_interval: 20ms }\n");
    online = true;
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function workflow(name: string, text: string): void {
    writeFileSync(join(dir, "config", "workflows", `${name}.yaml`), text);
  }

  async function start(): Promise<{ daemon: Daemon; events: LocalAgentEvent[] }> {
    const config = loadConfig({ configDir: join(dir, "config"), dataDir: join(dir, "data"), port: 0 });
    const instance = new Daemon({ config, logger: createSilentLogger(), probe: () => online });
    daemon = instance;
    const events: LocalAgentEvent[] = [];
    instance.events.subscribe((event) => events.push(event));
    await instance.start();
    return { daemon: instance, events };
  }

  const finished = (events: LocalAgentEvent[], workflowName: string): LocalAgentEvent[] =>
    events.filter((event) => event.type === "run-finished" && event.workflow === workflowName);

  it("emits network.offline / network.online and runs the workflows listening to them", async () => {
    workflow("sync", "workflow:\n  name: sync\n  on: network.online\n  tasks:\n    - { type: set, value: '{{ trigger.online }}' }\n");
    workflow("note", "workflow:\n  name: note\n  on: network.offline\n  tasks:\n    - { type: set, value: offline }\n");
    const { events } = await start();
    online = false;
    await until(() => finished(events, "note").length === 1);
    online = true;
    await until(() => finished(events, "sync").length === 1);
    const changes = events.filter((event) => event.type === "network-changed").map((event) => (event as { online: boolean }).online);
    expect(changes).toEqual([false, true]);
    expect(finished(events, "sync")[0]).toMatchObject({ status: "succeeded" });
  });

  it("fires daemon.start and workflow.finished:NAME with the finished run's status", async () => {
    workflow("boot", "workflow:\n  name: boot\n  on: daemon.start\n  tasks:\n    - { type: set, value: booted }\n");
    workflow(
      "after",
      "workflow:\n  name: after\n  on: workflow.finished:boot\n  tasks:\n    - { name: seen, type: set, value: '{{ trigger.workflow }} {{ trigger.status }}' }\n",
    );
    const { daemon: instance, events } = await start();
    await until(() => finished(events, "after").length === 1);
    const run = (instance.listRuns({ workflow: "after" })[0] ?? {}) as { outputs?: unknown };
    expect(run.outputs).toBe("boot succeeded");
  });

  it("keeps running good workflows beside a broken file and picks up fixes on reload", async () => {
    workflow("good", "workflow:\n  name: good\n  tasks:\n    - { type: set, value: 1 }\n");
    workflow("bad", "workflow:\n  name: bad\n  tasks:\n    - { type: nope }\n");
    const { daemon: instance } = await start();
    expect(instance.health()).toMatchObject({ workflows: 1, problems: 1 });
    expect(instance.problems()).toEqual([
      expect.objectContaining({ line: 4, column: 15, text: expect.stringContaining('unknown step type "nope"') }),
    ]);
    workflow("bad", "workflow:\n  name: bad\n  tasks:\n    - { type: set, value: 2 }\n");
    instance.reload();
    expect(instance.health()).toMatchObject({ workflows: 2, problems: 0 });
    await expect(instance.runWorkflow("bad", {}, true)).resolves.toMatchObject({ status: "succeeded", outputs: 2 });
  });
});

describe("Daemon triggers (in process)", () => {
  let dir: string;
  let daemon: Daemon | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-daemon-triggers-"));
    mkdirSync(join(dir, "config", "workflows"), { recursive: true });
    writeFileSync(join(dir, "config", "config.yaml"), "network: { probe_interval: 1h }\n");
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function workflow(name: string, text: string): void {
    writeFileSync(join(dir, "config", "workflows", `${name}.yaml`), text);
  }

  async function start(): Promise<{ daemon: Daemon; events: LocalAgentEvent[] }> {
    const config = loadConfig({ configDir: join(dir, "config"), dataDir: join(dir, "data"), port: 0 });
    const instance = new Daemon({ config, logger: createSilentLogger(), probe: () => true, serve: false });
    daemon = instance;
    const events: LocalAgentEvent[] = [];
    instance.events.subscribe((event) => events.push(event));
    await instance.start();
    return { daemon: instance, events };
  }

  it("runs a chat command handed over by a channel, with its arguments as trigger", async () => {
    workflow(
      "deploy",
      "workflow:\n  name: deploy\n  on: chat:/deploy\n  tasks:\n    - { type: set, value: '{{ trigger.args[0] }} by {{ trigger.user }}' }\n",
    );
    const { daemon: instance, events } = await start();
    const outcome = instance.chatCommands.receive({ text: "/deploy billing", platform: "web", user: "ada" });
    expect(outcome).toMatchObject({ event: "chat:/deploy", runs: [{ workflow: "deploy" }], rejected: [] });
    await until(() => events.some((event) => event.type === "run-finished"));
    expect(instance.listRuns({ workflow: "deploy" })[0]).toMatchObject({ trigger: "event:chat:/deploy", outputs: "billing by ada" });
    expect(instance.chatCommands.receive({ text: "/unknown" })).toMatchObject({ runs: [] });
  });

  it("refuses payloads the workflow's schema rejects: HTTP gets the errors, other sources log and emit trigger-rejected", async () => {
    workflow(
      "release",
      [
        "workflow:",
        "  name: release",
        "  on:",
        "    - event: deploy",
        "      schema: { type: object, required: [version], properties: { version: { type: string } } }",
        "    - chat: /release",
        "      schema: { type: object, properties: { args: { type: array, minItems: 1 } } }",
        "  tasks:",
        "    - { type: set, value: '{{ trigger.version }}' }",
        "",
      ].join("\n"),
    );
    const { daemon: instance, events } = await start();
    expect(() => instance.fireEvent("deploy", { version: 3 })).toThrow(
      expect.objectContaining({ code: "payload_invalid", details: expect.objectContaining({ event: "deploy" }) }),
    );
    expect(instance.chatCommands.receive({ text: "/release" })).toMatchObject({ runs: [], rejected: [{ workflow: "release" }] });
    expect(events.filter((event) => event.type === "trigger-rejected")).toEqual([
      expect.objectContaining({ workflow: "release", source: "http", errors: ["payload/version must be string"] }),
      expect.objectContaining({ workflow: "release", source: "chat", errors: ["payload/args must NOT have fewer than 1 items"] }),
    ]);
    expect(instance.listRuns({})).toEqual([]);
    expect(instance.fireEvent("deploy", { version: "2.0" })).toMatchObject({ runs: [{ workflow: "release" }] });
  });

  it("counts fires dropped by overlap: skip in the workflow view", async () => {
    workflow("slow", "workflow:\n  name: slow\n  on: tick\n  overlap: skip\n  tasks:\n    - { type: shell, command: 'sleep 0.3' }\n");
    const { daemon: instance } = await start();
    expect(instance.fireEvent("tick", {})).toMatchObject({ runs: [{ workflow: "slow" }], skipped: [] });
    expect(instance.fireEvent("tick", {})).toMatchObject({
      runs: [],
      skipped: [{ workflow: "slow", reason: "slow already has a run going (overlap: skip)" }],
    });
    await expect(instance.runWorkflow("slow", {}, false)).rejects.toMatchObject({ code: "conflict" });
    expect(instance.getWorkflow("slow")).toMatchObject({ overlap: "skip", concurrency: null, skipped: 2 });
  });
});
