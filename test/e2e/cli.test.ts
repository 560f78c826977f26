import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callApi, makeTempDir, Receiver, runCli, startDaemon, waitFor, writeConfigDir, writeFile, type Json } from "../helpers/index.js";

describe("localagent init", () => {
  const temp = makeTempDir("localagent-init-");
  const configDir = join(temp.dir, "config");
  afterAll(() => temp.cleanup());

  it("writes a config dir that validates and starts", async () => {
    const init = await runCli(["init", configDir]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`wrote 5 files to ${configDir}`);
    for (const name of ["config.yaml", "workflows/daily_backup.yaml", "workflows/log_monitor.yaml", "workflows/echo_webhook.yaml"]) {
      expect(existsSync(join(configDir, name)), name).toBe(true);
    }
    // The seed workflow is kept as written, below a commented header.
    const seed = readFileSync(join(configDir, "workflows", "log_monitor.yaml"), "utf8");
    expect(seed).toContain('- name: "log_monitor"\n  trigger: "cron * * * * *"');

    const validate = await runCli(["validate", "--config", configDir]);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toBe("");
    expect(validate.stderr).toMatch(/4 file\(s\), 4 workflow\(s\): valid/);

    const daemon = await startDaemon({ configDir, dataDir: join(temp.dir, "data") });
    try {
      const health = await callApi(daemon.url, "GET", "/healthz");
      expect(health.body).toMatchObject({ status: "ok", workflows: 4, problems: 0 });
      const workflows = await callApi(daemon.url, "GET", "/api/workflows");
      expect((workflows.body.workflows as Json[]).map((workflow) => workflow.name).sort()).toEqual([
        "daily_backup",
        "disk_report",
        "echo",
        "log_monitor",
      ]);
      const echo = await callApi(daemon.url, "POST", "/api/workflows/echo/run?wait=1", { name: "Ada" });
      expect(echo.body).toMatchObject({ status: "succeeded", outputs: { greeting: "Hello, Ada!", length: 3 } });
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
  });

  it("does not overwrite an existing config dir without --force", async () => {
    const again = await runCli(["init", configDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not overwriting .*config\.yaml.*\(use --force\)/);
    const forced = await runCli(["init", configDir, "--force"]);
    expect(forced.code).toBe(0);
  });
});

describe("localagent run, runs and workflows", () => {
  const temp = makeTempDir("localagent-cli-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const common = ["--config", configDir, "--data-dir", dataDir];
  const okFile = join(configDir, "workflows", "greet.yaml");
  const failFile = join(configDir, "workflows", "broken_build.yaml");
  let okRun: Json;
  let failRun: Json;

  beforeAll(() => {
    writeConfigDir(configDir, {
      config: "log_level: warn\n",
      workflows: {
        "greet.yaml": `workflow:
  name: greet
  schedule: "0 9 * * 1"
  inputs:
    who: { type: string, default: world }
  tasks:
    - name: hello
      type: shell
      command: "echo hello {{ inputs.who }}"
    - name: shout
      type: set
      value: "{{ output | upper }}!"
`,
        "broken_build.yaml": `workflow:
  name: broken_build
  trigger: manual
  tasks:
    - name: compile
      type: shell
      command: "echo compiling; echo 'missing semicolon' >&2; exit 3"
    - name: never
      type: set
      value: unreachable
`,
      },
    });
  });

  afterAll(() => temp.cleanup());

  it("run --json prints the final run record and exits 0 when the run succeeded", async () => {
    const result = await runCli(["run", okFile, "--json", "-i", "who=cli", ...common]);
    expect(result.code).toBe(0);
    okRun = JSON.parse(result.stdout);
    expect(okRun).toMatchObject({
      id: expect.stringMatching(/^run_/),
      workflow: "greet",
      status: "succeeded",
      trigger: "cli",
      inputs: { who: "cli" },
      outputs: "HELLO CLI!",
      error: null,
    });
    expect((okRun.steps as Json[]).map((step) => [step.path, step.status, step.output])).toEqual([
      ["hello", "succeeded", "hello cli"],
      ["shout", "succeeded", "HELLO CLI!"],
    ]);
  });

  it("run --json exits 1 when the run failed, with the error in the record", async () => {
    const result = await runCli(["run", failFile, "--json", ...common]);
    expect(result.code).toBe(1);
    failRun = JSON.parse(result.stdout);
    expect(failRun).toMatchObject({ workflow: "broken_build", status: "failed" });
    expect(failRun.error).toMatch(/exit status 3.*missing semicolon/s);
    expect((failRun.steps as Json[]).map((step) => [step.path, step.status])).toEqual([["compile", "failed"]]);
  });

  it("run without --json shows live progress", async () => {
    const result = await runCli(["run", okFile, "--input", "who=progress", ...common]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/▶ hello \(shell\)/);
    expect(result.stdout).toMatch(/\| hello progress/);
    expect(result.stdout).toMatch(/✔ shout succeeded in \d+ ms/);
    expect(result.stdout).toMatch(/succeeded run_\w+/);
  });

  it("run refuses an invalid workflow file with file:line:column and exit 2", async () => {
    const bad = writeFile(join(temp.dir, "bad.yaml"), "workflow:\n  name: bad\n  tasks:\n    - type: shell\n      comand: ls\n");
    const result = await runCli(["run", bad, ...common]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${bad}:5:7: unknown field "comand"`, "m"));
  });

  it("runs list --json lists the runs, newest first", async () => {
    const result = await runCli(["runs", "list", "--json", ...common]);
    expect(result.code).toBe(0);
    const runs = JSON.parse(result.stdout) as Json[];
    expect(runs).toHaveLength(3);
    expect(runs.map((run) => [run.workflow, run.status])).toEqual([
      ["greet", "succeeded"],
      ["broken_build", "failed"],
      ["greet", "succeeded"],
    ]);
    expect(runs[2].id).toBe(okRun.id);
    expect(runs[1].id).toBe(failRun.id);
    const filtered = JSON.parse((await runCli(["runs", "list", "--json", "--status", "failed", ...common])).stdout) as Json[];
    expect(filtered.map((run) => run.id)).toEqual([failRun.id]);
    const limited = JSON.parse((await runCli(["runs", "list", "--json", "--workflow", "greet", "-n", "1", ...common])).stdout) as Json[];
    expect(limited).toHaveLength(1);
    expect(limited[0].inputs).toEqual({ who: "progress" });
    const bad = await runCli(["runs", "list", "-n", "abc", ...common]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/'-n, --limit <n>' argument 'abc' is invalid\. expected a positive integer/);
  });

  it("runs list prints a table", async () => {
    const result = await runCli(["runs", "list", ...common]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID +WORKFLOW +STATUS +TRIGGER +CREATED +DURATION$/);
    expect(lines).toHaveLength(4);
    expect(lines.find((line) => line.startsWith(failRun.id))).toMatch(/broken_build +failed +cli /);
  });

  it("runs show ID prints a run with its steps", async () => {
    const text = await runCli(["runs", "show", failRun.id, ...common]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${failRun.id}  broken_build  failed  (cli)`);
    expect(text.stdout).toMatch(/^error: .*exit status 3/m);
    expect(text.stdout).toMatch(/^ {2}failed +compile: command failed/m);
    const json = await runCli(["runs", "show", okRun.id, "--json", ...common]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(okRun);
    const missing = await runCli(["runs", "show", "run_nope", ...common]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no run with id run_nope");
  });

  it("workflows list shows triggers, next fire and last run", async () => {
    const text = await runCli(["workflows", "list", ...common]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME +TRIGGER +NEXT FIRE +LAST RUN$/);
    expect(lines[1]).toMatch(/^broken_build +manual +- +failed \d{4}-/);
    expect(lines[2]).toMatch(/^greet +cron 0 9 \* \* 1 +\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z +succeeded \d{4}-/);
    const json = JSON.parse((await runCli(["workflows", "list", "--json", ...common])).stdout);
    expect(json.problems).toEqual([]);
    const greet = (json.workflows as Json[]).find((workflow) => workflow.name === "greet");
    expect(greet).toMatchObject({ triggers: ["cron 0 9 * * 1"], file: okFile, last_run: { status: "succeeded" } });
    expect(new Date(greet.next_fire_at).getTime()).toBeGreaterThan(Date.now());
  });
});

describe("localagent run beside a running daemon", () => {
  const temp = makeTempDir("localagent-run-beside-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const receiver = new Receiver();
  afterAll(async () => {
    await receiver.stop();
    temp.cleanup();
  });

  it("leaves its notification to the daemon, which delivers it", async () => {
    await receiver.start();
    const file = join(configDir, "workflows", "ping.yaml");
    writeConfigDir(configDir, {
      config: `log_level: warn\nnotifications:\n  hook: { type: webhook, url: "${receiver.url}" }\n`,
      workflows: {
        "ping.yaml":
          "workflow:\n  name: ping\n  trigger: manual\n  tasks:\n    - name: say\n      type: notification\n      platform: hook\n      message: pong\n",
      },
    });
    const daemon = await startDaemon({ configDir, dataDir });
    try {
      const result = await runCli(["run", file, "--json", "--config", configDir, "--data-dir", dataDir]);
      expect(result.code).toBe(0);
      const run = JSON.parse(result.stdout);
      // Nothing woke the daemon's outbox: it has to notice the delivery in the store on its own.
      await waitFor(() => receiver.requests.length > 0, 5_000);
      expect(receiver.requests[0]?.headers["idempotency-key"]).toBe(`${run.id}:say`);
      expect(receiver.requests[0]?.body).toMatchObject({ message: "pong", workflow: "ping" });
      await waitFor(async () => (await callApi(daemon.url, "GET", "/api/outbox?status=delivered")).body.deliveries.length === 1);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
  });
});

describe("localagent run while a daemon starts on the same data dir", () => {
  const temp = makeTempDir("localagent-run-owner-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  afterAll(() => temp.cleanup());

  it("the daemon leaves the foreground run alone: it finishes once, not failed, not resumed", async () => {
    writeConfigDir(configDir, { config: "log_level: info\n", workflows: {} });
    // The workflow file is outside the daemon's workflows/ folder, as foreground runs usually are.
    const file = writeFile(
      join(temp.dir, "slow.yaml"),
      'workflow:\n  name: slow\n  tasks:\n    - name: wait\n      type: shell\n      command: "echo $LOCALAGENT_STEP_KEY >> trace; sleep 2"\n    - name: done\n      type: set\n      value: ok\n',
    );
    const foreground = runCli(["run", file, "--json", "--config", configDir, "--data-dir", dataDir]);
    const trace = join(dataDir, "workspaces", "slow", "trace");
    await waitFor(() => existsSync(trace), 10_000);
    const daemon = await startDaemon({ configDir, dataDir });
    try {
      const result = await foreground;
      expect(result.code).toBe(0);
      const run = JSON.parse(result.stdout);
      expect(run).toMatchObject({ status: "succeeded", outputs: "ok" });
      expect(readFileSync(trace, "utf8").trim().split("\n")).toEqual([`${run.id}:wait`]);
      expect(daemon.output()).toContain("not resuming it");
      const shown = await callApi(daemon.url, "GET", `/api/runs/${run.id}`);
      expect(shown.body.status).toBe("succeeded");
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
  });
});

describe("localagent start with the seed's flags", () => {
  const temp = makeTempDir("localagent-seed-flags-");
  afterAll(() => temp.cleanup());

  it("accepts --model-path, --platform-config, --cache-dir and --memory-limit and hands them on", async () => {
    const configDir = writeConfigDir(join(temp.dir, "config"), { config: "log_level: info\n", workflows: {} });
    const cacheDir = join(temp.dir, "task_cache");
    const daemon = await startDaemon({
      configDir,
      dataDir: join(temp.dir, "data"),
      args: [
        "--model-path",
        "./llama3-compact-4bit",
        "--platform-config",
        "platforms.json",
        "--cache-dir",
        cacheDir,
        "--memory-limit",
        "6g",
      ],
    });
    try {
      expect(existsSync(cacheDir)).toBe(true);
      const ready = daemon
        .output()
        .split("\n")
        .map((line) => (line.startsWith("{") ? JSON.parse(line) : {}))
        .find((line) => line.msg === "localagent ready");
      // Relative paths are taken from the working directory, as a shell user expects.
      expect(ready).toMatchObject({
        cacheDir,
        modelPath: join(process.cwd(), "llama3-compact-4bit"),
        platformConfig: join(process.cwd(), "platforms.json"),
        memoryLimitBytes: 6 * 1024 ** 3,
      });
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
  });
});

describe("read-only commands on a fresh machine", () => {
  const temp = makeTempDir("localagent-fresh-");
  afterAll(() => temp.cleanup());

  it("workflows list and runs list create no data directory", async () => {
    const configDir = writeConfigDir(join(temp.dir, "config"), {
      workflows: { "a.yaml": "workflow:\n  name: a\n  every: 5m\n  tasks:\n    - { type: set, value: 1 }\n" },
    });
    const dataDir = join(temp.dir, "never-created");
    const workflows = await runCli(["workflows", "list", "--json", "--config", configDir, "--data-dir", dataDir]);
    expect(workflows.code).toBe(0);
    const listed = JSON.parse(workflows.stdout).workflows[0];
    expect(listed).toMatchObject({ name: "a", triggers: ["every 300s"], last_run: null });
    // every: runs on a fixed 5-minute grid, so its next fire is known without a daemon.
    const next = new Date(listed.next_fire_at).getTime();
    expect(next % 300_000).toBe(0);
    expect(next - Date.now()).toBeGreaterThan(0);
    expect(next - Date.now()).toBeLessThanOrEqual(300_000);
    const runs = await runCli(["runs", "list", "--json", "--config", configDir, "--data-dir", dataDir]);
    expect(runs.code).toBe(0);
    expect(JSON.parse(runs.stdout)).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
  });
});
