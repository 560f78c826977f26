import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { loadConfig } from "../config/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import { formatIssue, loadWorkflowText } from "../workflow/index.js";
import { writeFileSync } from "node:fs";
import { prepareDirect } from "./direct-launch.js";
import { createSandboxRunner } from "./sandbox-test-kit.js";
import type { Sandbox, SandboxRequest } from "./types.js";

const temp = makeTempDir("localagent-sandbox-mw-");
afterAll(() => temp.cleanup());

/** A sandbox that records what it was asked to wrap and runs it directly. */
function recordingSandbox(requests: SandboxRequest[]): Sandbox {
  return {
    name: "recording",
    unavailableReason: async () => undefined,
    prepare: async (request) => {
      requests.push(request);
      return { ...prepareDirect(request, "test"), sandboxed: true, profile: "recording()" };
    },
  };
}

describe("sandbox middleware", () => {
  it("wraps exactly the command the policy checked: rendered once, quoted, never re-rendered", async () => {
    const requests: SandboxRequest[] = [];
    const runner = createSandboxRunner({ dataDir: join(temp.dir, "data"), sandbox: recordingSandbox(requests) });
    const hostile = "x'; touch pwned; echo '$(id)";
    const result = await runner.run({ command: "echo {{ inputs.name }}", shell: "/bin/sh" }, { scope: { inputs: { name: hostile } } });
    expect(result.output).toBe(hostile);
    expect(requests[0]?.argv).toEqual(["/bin/sh", "-c", `echo 'x'\\''; touch pwned; echo '\\''$(id)'`]);
    expect(runner.audit.at(-1)?.details).toMatchObject({ command: requests[0]?.argv[2], sandbox: "recording()", exitCode: 0 });
    expect(runner.events).toEqual([
      expect.objectContaining({ type: "step-sandboxed", step: "sh", profile: "recording()", sandboxed: true }),
    ]);
  });

  it("resolves network, limits and the per-workflow workspace from the step over config defaults", async () => {
    const requests: SandboxRequest[] = [];
    const dataDir = join(temp.dir, "data");
    const runner = createSandboxRunner({
      dataDir,
      sandbox: recordingSandbox(requests),
      config: { limits: { memory: "256m", cpu_time: "1m" }, read_only: ["/var/log"] },
    });
    await runner.run({ command: "true", network: true, limits: { processes: 8, memory: "2g" } }, { workflow: "nightly/backup" });
    expect(requests[0]).toMatchObject({
      cwd: join(dataDir, "workspaces", "nightly_backup"),
      workspace: join(dataDir, "workspaces", "nightly_backup"),
      network: { mode: "full" },
      limits: { memoryBytes: 2 * 1024 ** 3, cpuSeconds: 60, processes: 8, fileSizeBytes: 1024 ** 3, openFiles: 1024 },
      readOnlyPaths: ["/var/log"],
      env: { LOCALAGENT_WORKFLOW: "nightly/backup" },
    });
    await runner.run({ command: "true" });
    expect(requests[1]?.network).toEqual({ mode: "none" });
  });
});

describe("sandbox fields in files", () => {
  it("a bad step field or config section is reported with file:line:column", () => {
    const result = loadWorkflowText(
      "wf.yaml",
      [
        "workflow:",
        "  name: wf",
        "  tasks:",
        "    - type: shell",
        "      command: make",
        "      sandbox: always",
        "      limits: { memory: lots }",
        "",
      ].join("\n"),
      createDefaultRegistry(),
    );
    const problems = result.issues.map(formatIssue).join("\n");
    expect(problems).toMatch(/^wf\.yaml:6:\d+: .*sandbox/m);
    expect(problems).toMatch(/^wf\.yaml:7:\d+: .*not a size/m);
    writeFileSync(join(temp.dir, "config.yaml"), "sandbox:\n  mode: sometimes\n  limits: { processes: -1 }\n");
    expect(() => loadConfig({ configDir: temp.dir, env: {} })).toThrow(
      /config\.yaml:2:\d+: sandbox\.mode: .*\n.*config\.yaml:3:\d+: sandbox\.limits\.processes/,
    );
  });
});
