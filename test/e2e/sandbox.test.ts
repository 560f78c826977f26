import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable, inspectIsolation } from "../../src/sandbox/index.js";
import {
  callApi,
  CLI,
  makeTempDir,
  runCli,
  startDaemon,
  writeConfigDir,
  writeFile,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

const isolation = inspectIsolation();
const unavailable = isolation.bwrap.usable ? undefined : isolation.bwrap.reason;
if (unavailable) console.warn(`skipping the sandbox e2e test: ${unavailable}`);

const workflow = (name: string, steps: string[]): string =>
  ["workflow:", `  name: ${name}`, "  trigger: manual", "  tasks:", ...steps, ""].join("\n");
const shell = (name: string, command: string, extra: string[] = []): string =>
  [`    - name: ${name}`, "      type: shell", `      command: ${JSON.stringify(command)}`, ...extra.map((line) => `      ${line}`)].join(
    "\n",
  );

describe.skipIf(unavailable !== undefined)("sandboxed shell steps through the daemon", () => {
  const temp = makeTempDir("localagent-sandbox-e2e-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const home = join(temp.dir, "home");
  let daemon: DaemonProcess;

  beforeAll(async () => {
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(join(home, ".ssh", "id_ed25519"), "FAKE PRIVATE KEY\n");
    writeFileSync(join(home, ".ssh", "known_hosts"), "FAKE HOST KEY\n");
    writeConfigDir(configDir, {
      config: ["sandbox:", "  mode: required", "  limits: { memory: 128m, processes: 64 }", ""].join("\n"),
      workflows: {
        "build.yaml": workflow("build", [
          shell("compile", "echo built > artifact.txt; grep NoNewPrivs /proc/self/status"),
          shell("publish", "cat artifact.txt"),
        ]),
        "escape.yaml": workflow("escape", [shell("steal", `cat ${home}/.ssh/known_hosts; touch /evil`)]),
        "bomb.yaml": workflow("bomb", [shell("grow", "x=$(head -c 500000000 /dev/zero | tr '\\0' x)")]),
        "parent.yaml": workflow("parent", [shell("kill", "kill -9 $PPID; kill -9 1; echo survived")]),
      },
    });
    daemon = await startDaemon({ configDir, dataDir, env: { HOME: home, LOCALAGENT_LOG_LEVEL: "warn" } });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    temp.cleanup();
  });

  const run = async (name: string): Promise<Json> => (await callApi(daemon.url, "POST", `/api/workflows/${name}/run?wait=1`)).body;

  it("runs steps in the workflow's own workspace, isolated, and audits the profile with the exit code", async () => {
    const result = await run("build");
    expect(result.status).toBe("succeeded");
    expect(result.steps.map((step: Json) => step.output)).toEqual(["NoNewPrivs:\t1", "built"]);
    expect(readFileSync(join(dataDir, "workspaces", "build", "artifact.txt"), "utf8")).toBe("built\n");
    const entries = readFileSync(join(dataDir, "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.type === "command-executed" && entry.actor.workflow === "build");
    expect(entries.map((entry) => [entry.actor.step, entry.details.exitCode])).toEqual([
      ["compile", 0],
      ["publish", 0],
    ]);
    expect(entries[0].details.sandbox).toMatch(/^bwrap\(net=none,mem=128m(\([a-z-]+\))?,pids=64(\([a-z-]+\))?,.*seccomp\)$/);
  });

  it("fails escapes with the reason, and never shows the user's keys", async () => {
    const result = await run("escape");
    expect(result.status).toBe("failed");
    const error = String(result.steps[0].error?.message ?? result.steps[0].error ?? result.error);
    // The policy would deny reading id_* keys outright; known_hosts passes it, and the sandbox hides it.
    expect(error).toContain(`${home}/.ssh/known_hosts: No such file or directory`);
    expect(error).toContain("read-only outside the workspace");
    expect(JSON.stringify(result)).not.toContain("FAKE HOST KEY");
    expect(existsSync("/evil")).toBe(false);
  });

  it("kills a memory bomb at the limit and says so; the daemon survives it and a parent kill", async () => {
    const bomb = await run("bomb");
    expect(bomb.status).toBe("failed");
    expect(JSON.stringify(bomb.steps[0].error ?? bomb.error)).toMatch(
      /after reaching the memory limit of 128m|memory limit of 128m reached/,
    );
    const parent = await run("parent");
    expect(parent).toMatchObject({ status: "succeeded" });
    expect(parent.steps[0].output).toBe("survived");
    expect((await fetch(`${daemon.url}/healthz`)).ok).toBe(true);
  });

  it("localagent doctor says the required sandbox is there", async () => {
    const doctor = await runCli(["doctor", "--json", "--config", configDir, "--data-dir", dataDir]);
    expect(doctor.code).toBe(0);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ ok: true, sandbox: { mode: "required", available: true } });
  });
});

describe("sandbox: required where bubblewrap is missing, through the daemon", () => {
  const temp = makeTempDir("localagent-sandbox-missing-");
  afterAll(() => temp.cleanup());

  it("refuses the step with the reason and runs nothing", async () => {
    const configDir = join(temp.dir, "config");
    const dataDir = join(temp.dir, "data");
    const marker = join(temp.dir, "ran");
    writeConfigDir(configDir, {
      config: `sandbox:\n  mode: required\n  bwrap: ${join(temp.dir, "no-bwrap")}\n`,
      workflows: { "locked.yaml": workflow("locked", [shell("touch", `touch ${marker}`)]) },
    });
    const result = await runCli(["run", join(configDir, "workflows", "locked.yaml"), "--config", configDir, "--data-dir", dataDir]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(
      `needs a sandbox (sandbox: required), but none is possible here: bubblewrap not found at ${join(temp.dir, "no-bwrap")}`,
    );
    expect(existsSync(marker)).toBe(false);
    // The progress view names how each command runs; `sandbox: off` on the step wins over the config.
    const off = writeFile(join(temp.dir, "off.yaml"), workflow("loose", [shell("hello", "echo hi", ["sandbox: off"])]));
    const shown = await runCli(["run", off, "--config", configDir, "--data-dir", dataDir]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("sandbox: none: sandbox: off");
  });
});

// Most people run the daemon as themselves, not root: then bubblewrap needs user namespaces, the
// cgroups are usually not writable and the limits fall back to rlimits.
const setpriv = findExecutable("setpriv");
/** True when user 65534 can run the CLI (the checkout is readable) and bubblewrap (user namespaces). */
function nobodyCanSandbox(): boolean {
  if (process.getuid?.() !== 0 || setpriv === undefined || !isolation.bwrap.usable || !isolation.bwrap.path) return false;
  const as = ["--reuid=65534", "--regid=65534", "--clear-groups"];
  const cli = spawnSync(setpriv, [...as, process.execPath, CLI, "--version"], { cwd: "/", timeout: 20_000 });
  const bwrap = spawnSync(setpriv, [...as, isolation.bwrap.path, "--ro-bind", "/", "/", "--unshare-all", "--", "/bin/true"], {
    cwd: "/",
    timeout: 20_000,
  });
  return cli.status === 0 && bwrap.status === 0;
}
const asNobody = nobodyCanSandbox();

describe.skipIf(!asNobody)("as an unprivileged user (rlimit fallbacks)", () => {
  const temp = makeTempDir("localagent-sandbox-user-");
  afterAll(() => temp.cleanup());

  it("contains a fork bomb with RLIMIT_NPROC and a memory bomb with RLIMIT_AS, and says so", async () => {
    const configDir = join(temp.dir, "config");
    const dataDir = join(temp.dir, "data");
    writeConfigDir(configDir, {
      config: "sandbox:\n  mode: required\n",
      workflows: {
        "bombs.yaml": workflow("bombs", [
          shell("whoami", "id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"),
          shell("fork", "bomb() { bomb | bomb; }; bomb", ["limits: { processes: 16 }", "timeout: 3s", "on_failure: continue"]),
          shell("memory", "x=$(head -c 300000000 /dev/zero | tr '\\0' x)", ["limits: { memory: 64m }", "on_failure: continue"]),
        ]),
      },
    });
    mkdirSync(dataDir);
    chmodSync(temp.dir, 0o755);
    chownSync(dataDir, 65534, 65534);
    const result = spawnSync(
      setpriv ?? "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        CLI,
        "run",
        join(configDir, "workflows", "bombs.yaml"),
        "--json",
        "--config",
        configDir,
        "--data-dir",
        dataDir,
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH, HOME: dataDir }, timeout: 60_000 },
    );
    const run = JSON.parse(result.stdout);
    const steps = Object.fromEntries((run.steps as Json[]).map((step) => [step.path, step]));
    expect(steps.whoami.output).toBe("65534\nNoNewPrivs:\t1\nSeccomp:\t2");
    expect(JSON.stringify(steps.fork.error)).toContain("RLIMIT_NPROC reached (process limit 16)");
    expect(JSON.stringify(steps.memory.error)).toContain("memory limit of 64m reached");
    const audit = readFileSync(join(dataDir, "audit.log"), "utf8");
    expect(audit).toContain("pids=16(rlimit-nproc)");
    expect(audit).toContain("mem=64m(rlimit-as)");
  });
});
