import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, Receiver, ROOT, runCli, writeConfigDir } from "../helpers/index.js";

const SEED = join(ROOT, "examples", "workflows", "log_monitor.yaml");

describe("seed workflow log_monitor (format B) run from the CLI", () => {
  const temp = makeTempDir("localagent-log-monitor-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const logFile = join(temp.dir, "app.log");
  const workflowFile = join(configDir, "workflows", "log_monitor.yaml");
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    // The seed file is copied verbatim except for its log path: /var/log/app.log is not writable
    // here, so that one path is pointed at a temporary file. Nothing else in the seed changes.
    const seed = readFileSync(SEED, "utf8");
    expect(seed).toContain("/var/log/app.log");
    writeConfigDir(configDir, {
      config: [
        "notifications:",
        `  telegram: { type: webhook, url: "${receiver.url}" }`,
        "outbox: { backoff: 100ms, max_backoff: 1s }",
        // The seed tails a log outside the workspace: the sandbox may read it.
        `sandbox: { read_only: ["${logFile}"] }`,
        "",
      ].join("\n"),
      workflows: { "log_monitor.yaml": seed.replace("/var/log/app.log", logFile) },
    });
    writeFileSync(logFile, ["started", "ERROR disk full on /data", "request ok", "Error: connection reset", "done", ""].join("\n"));
  });

  afterAll(async () => {
    await receiver.stop();
    temp.cleanup();
  });

  const run = () => runCli(["run", workflowFile, "--config", configDir, "--data-dir", dataDir]);
  const messages = (): string[] => receiver.requests.map((request) => String((request.body as { message: unknown }).message));

  it("alerts once with the error lines", async () => {
    const result = await run();
    expect(result.stderr).not.toMatch(/still queued/);
    expect(result.code).toBe(0);
    expect(messages()).toEqual(["发现错误日志:\nERROR disk full on /data\nError: connection reset"]);
    const [request] = receiver.requests;
    expect(request?.headers["idempotency-key"]).toMatch(/^run_\w+:/);
    expect(request?.body).toMatchObject({ platform: "telegram", workflow: "log_monitor" });
  });

  it("sends nothing when no new error was logged", async () => {
    appendFileSync(logFile, "all good\nstill fine\n");
    const result = await run();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/skipped \(condition false\)/);
    expect(receiver.requests).toHaveLength(1);
  });

  it("alerts with only the new error line", async () => {
    appendFileSync(logFile, "ok\nERROR out of memory in worker 3\nok\n");
    const result = await run();
    expect(result.code).toBe(0);
    expect(messages()).toHaveLength(2);
    expect(messages()[1]).toBe("发现错误日志:\nERROR out of memory in worker 3");
  });

  it("keeps every run in the data directory", async () => {
    const list = await runCli(["runs", "list", "--json", "--config", configDir, "--data-dir", dataDir]);
    expect(list.code).toBe(0);
    const runs = JSON.parse(list.stdout) as Array<{ workflow: string; status: string; trigger: string }>;
    expect(runs).toHaveLength(3);
    expect(runs.every((entry) => entry.workflow === "log_monitor" && entry.status === "succeeded" && entry.trigger === "cli")).toBe(true);
  });
});

describe("validate on the seed workflows", () => {
  it("passes both seed files of examples/workflows", async () => {
    const files = ["log_monitor.yaml", "daily_backup.yaml"].map((name) => join(ROOT, "examples", "workflows", name));
    const result = await runCli(["validate", ...files]);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/2 file\(s\), 2 workflow\(s\): valid/);
    expect(result.code).toBe(0);
  });

  it("passes the whole examples config directory", async () => {
    const result = await runCli(["validate", "--config", join(ROOT, "examples")]);
    expect(result.stdout).toBe("");
    expect(result.code).toBe(0);
  });
});
