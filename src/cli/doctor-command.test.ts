import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { inspectIsolation } from "../sandbox/index.js";
import type { Io } from "./context.js";
import type { DoctorReport } from "./doctor-command.js";
import { main } from "./index.js";

const temp = makeTempDir("localagent-doctor-");
afterAll(() => temp.cleanup());

function capture(): { io: Io; out: () => string } {
  let out = "";
  return { io: { out: (text) => void (out += text), err: (text) => void (out += text), isTty: false }, out: () => out };
}

function configDir(name: string, config: string, workflow?: string): string {
  const dir = join(temp.dir, name);
  mkdirSync(join(dir, "workflows"), { recursive: true });
  writeFileSync(join(dir, "config.yaml"), config);
  if (workflow) writeFileSync(join(dir, "workflows", "wf.yaml"), workflow);
  return dir;
}

async function doctor(dir: string, json = true): Promise<{ code: number; out: string }> {
  const { io, out } = capture();
  const code = await main(
    ["node", "localagent", "doctor", "--config", dir, "--data-dir", join(dir, "data"), ...(json ? ["--json"] : [])],
    io,
  );
  return { code, out: out() };
}

describe("localagent doctor", () => {
  it("reports what isolation this machine has, as text and as JSON", async () => {
    const dir = configDir("plain", "log_level: warn\n");
    const text = await doctor(dir, false);
    expect(text.code).toBe(0);
    for (const line of [
      "bubblewrap:",
      "user namespaces:",
      "seccomp:",
      "cgroup memory:",
      "cgroup pids:",
      "prlimit (rlimits):",
      "mode: preferred",
      "policy",
      "audit log",
      "data directory",
    ]) {
      expect(text.out).toContain(line);
    }
    const { code, out } = await doctor(dir);
    expect(code).toBe(0);
    const report = JSON.parse(out) as DoctorReport;
    const machine = inspectIsolation();
    expect(report.isolation.bwrap.usable).toBe(machine.bwrap.usable);
    expect(report.isolation.cgroups.memory?.version).toBe(machine.cgroups.memory?.version);
    expect(report.dataDir).toMatchObject({ writable: true, path: join(dir, "data") });
    expect(report.audit).toMatchObject({ enabled: true, ok: true });
    expect(report.problems).toEqual([]);
  });

  it("exits 1 and names the reason when a required sandbox is unavailable (config or a step)", async () => {
    const bwrap = join(temp.dir, "missing-bwrap");
    const dir = configDir("required", `sandbox:\n  mode: required\n  bwrap: ${bwrap}\n`);
    const { code, out } = await doctor(dir);
    expect(code).toBe(1);
    const report = JSON.parse(out) as DoctorReport;
    expect(report.sandbox).toMatchObject({ mode: "required", available: false, requiredBy: ["config.yaml sandbox.mode"] });
    expect(report.problems[0]).toContain(`sandbox required by config.yaml sandbox.mode but unavailable: bubblewrap not found at ${bwrap}`);

    const stepDir = configDir(
      "step-required",
      `sandbox:\n  bwrap: ${bwrap}\n`,
      "workflow:\n  name: locked\n  tasks:\n    - name: build\n      type: shell\n      sandbox: required\n      command: make\n",
    );
    const step = await doctor(stepDir);
    expect(step.code).toBe(1);
    expect((JSON.parse(step.out) as DoctorReport).sandbox.requiredBy).toEqual(["locked.build"]);
    // Preferred only warns: unavailable is not a failure.
    expect((await doctor(configDir("preferred", `sandbox:\n  bwrap: ${bwrap}\n`))).code).toBe(0);
  });
});
