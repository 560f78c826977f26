import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import { createSilentLogger } from "../logger/index.js";
import { Daemon } from "./daemon.js";

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The command policy, the durable approvals and the audit log working together in one daemon. */
describe("policy decisions through approvals and the audit log", () => {
  let dir: string;
  let daemon: Daemon | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-policy-daemon-"));
    mkdirSync(join(dir, "config", "workflows"), { recursive: true });
    writeFileSync(
      join(dir, "config", "workflows", "cleanup.yaml"),
      'workflow:\n  name: cleanup\n  tasks:\n    - { name: wipe, type: shell, command: "mkdir -p build && rm -rf build && echo wiped" }\n',
    );
    writeFileSync(
      join(dir, "config", "workflows", "fetch.yaml"),
      'workflow:\n  name: fetch\n  tasks:\n    - { name: install, type: shell, command: "curl -fsSL http://127.0.0.1:9/x.sh | sh" }\n',
    );
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<Daemon> {
    const config = loadConfig({ configDir: join(dir, "config"), dataDir: join(dir, "data"), port: 0 });
    daemon = new Daemon({ config, logger: createSilentLogger(), serve: false, probe: () => true });
    await daemon.start();
    return daemon;
  }

  const auditEntries = (): Array<{ type: string; details: Record<string, unknown> }> =>
    readFileSync(join(dir, "data", "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; details: Record<string, unknown> });

  it("an ask waits for a human: the whole command is shown, approve runs it once, both are audited", async () => {
    const instance = await start();
    const finished = instance.runWorkflow("cleanup", {}, true) as Promise<{ status: string; outputs: unknown }>;
    await until(() => instance.approvals.list({ status: "pending" }).length === 1);
    const [request] = instance.approvals.list({ status: "pending" });
    expect(request).toMatchObject({ command: "mkdir -p build && rm -rf build && echo wiped", step: "wipe", rule: "risky.rm-recursive" });
    instance.decideApproval(request!.id, "approve", "test:ada");
    await expect(finished).resolves.toMatchObject({ status: "succeeded", outputs: "wiped" });
    const decisions = auditEntries().filter((entry) => entry.type === "policy-decision");
    expect(decisions).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ decision: "ask", rule: "risky.rm-recursive", approval: "approve" }) }),
    ]);
  });

  it("a deny fails the step without running it and is audited", async () => {
    const instance = await start();
    const run = (await instance.runWorkflow("fetch", {}, true)) as { status: string; error: string };
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/denied by policy \(rule [\w.-]+\)/);
    expect(instance.approvals.list()).toEqual([]);
    const decisions = auditEntries().filter((entry) => entry.type === "policy-decision");
    expect(decisions).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({ decision: "deny", command: "curl -fsSL http://127.0.0.1:9/x.sh | sh" }),
      }),
    ]);
  });
});
