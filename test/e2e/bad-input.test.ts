import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callApi,
  freePort,
  makeTempDir,
  runCli,
  startDaemon,
  waitFor,
  writeConfigDir,
  writeFile,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

const GOOD = `workflow:
  name: good
  trigger: manual
  inputs:
    n: { type: number, required: true }
  tasks:
    - name: double
      type: set
      value: "{{ inputs.n * 2 }}"
`;

/** Broken workflow files, each with the problems (line:column: message) it must be reported with. */
const BROKEN: Record<string, { text: string; problems: RegExp[] }> = {
  "malformed.yaml": {
    text: "workflow:\n  name: malformed\n  tasks:\n    - type: shell\n      command: ls\n     oops: indent\n",
    problems: [/^6:\d+: YAML syntax: /],
  },
  "unknown_type.yaml": {
    text: "workflow:\n  name: unknown_type\n  tasks:\n    - name: a\n      type: teleport\n      where: mars\n",
    problems: [/^5:13: unknown step type "teleport" \(known: .*shell.*\)$/],
  },
  "template.yaml": {
    text: [
      "workflow:",
      "  name: template_error",
      "  tasks:",
      "    - name: a",
      "      type: set",
      '      value: "{{ inputs.n + }}"',
      "    - name: b",
      "      type: notification",
      "      platform: log",
      '      condition: "{{ output.length > }}"',
      '      message: "hi {{ output"',
      "",
    ].join("\n"),
    problems: [/^6:14: bad template: invalid expression "inputs.n \+"/, /^10:18: bad template: /, /^11:16: bad template: unclosed "\{\{"/],
  },
  "types.yaml": {
    text: [
      "workflow:",
      "  name: wrong_types",
      '  concurrency: "lots"',
      "  tasks:",
      "    - name: a",
      "      type: shell",
      "      command: 42",
      "    - name: b",
      "      type: http",
      "      url: http://127.0.0.1:9/",
      "      method: FETCH",
      "      retry: { count: -1 }",
      "",
    ].join("\n"),
    problems: [
      /^3:16: workflow\.concurrency: .*number/,
      /^7:16: workflow\.tasks\[0\]\.command: .*string/,
      /^11:15: .*method/,
      /^12:23: .*retry\.count/,
    ],
  },
};
const PROBLEM_COUNT = Object.values(BROKEN).reduce((sum, file) => sum + file.problems.length, 0);

/** Checks that `texts` (file:line:column: message) hold exactly the expected problems of the broken files. */
function expectProblems(texts: string[], workflowsDir: string): void {
  expect(texts).toHaveLength(PROBLEM_COUNT);
  for (const text of texts) expect(text).toMatch(/^\/.+\.yaml:\d+:\d+: \S/);
  for (const [name, file] of Object.entries(BROKEN)) {
    const prefix = `${join(workflowsDir, name)}:`;
    const local = texts.filter((text) => text.startsWith(prefix)).map((text) => text.slice(prefix.length));
    expect(local, name).toHaveLength(file.problems.length);
    for (const pattern of file.problems)
      expect(
        local.some((text) => pattern.test(text)),
        `${name}: ${String(pattern)} in ${local.join(" | ")}`,
      ).toBe(true);
  }
}

describe("a daemon whose config dir holds broken workflow files", () => {
  const temp = makeTempDir("localagent-bad-input-");
  const configDir = join(temp.dir, "config");
  const workflowsDir = join(configDir, "workflows");
  let daemon: DaemonProcess;

  beforeAll(async () => {
    writeConfigDir(configDir, {
      config: "log_level: info\n",
      workflows: { "good.yaml": GOOD, ...Object.fromEntries(Object.entries(BROKEN).map(([name, file]) => [name, file.text])) },
    });
    daemon = await startDaemon({ configDir, dataDir: join(temp.dir, "data") });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    temp.cleanup();
  });

  it("keeps serving and reports the problems on /healthz and /api/problems", async () => {
    const health = await callApi(daemon.url, "GET", "/healthz");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", workflows: 1, problems: PROBLEM_COUNT });
    const problems = await callApi(daemon.url, "GET", "/api/problems");
    expect(problems.status).toBe(200);
    const texts = (problems.body.problems as Json[]).map((problem) => String(problem.text));
    expectProblems(texts, workflowsDir);
    for (const problem of problems.body.problems as Json[]) {
      expect(problem.text).toBe(`${problem.file}:${problem.line}:${problem.column}: ${problem.message}`);
    }
    // The daemon's log names each problem too.
    for (const text of texts) expect(daemon.output()).toContain(JSON.stringify(text).slice(1, -1));
    const workflows = await callApi(daemon.url, "GET", "/api/workflows");
    expect((workflows.body.workflows as Json[]).map((workflow) => workflow.name)).toEqual(["good"]);
  });

  it("still runs the good workflow through the API", async () => {
    const run = await callApi(daemon.url, "POST", "/api/workflows/good/run?wait=1", { n: 21 });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ workflow: "good", status: "succeeded", outputs: 42 });
  });

  it("answers bad requests with 400/404 JSON errors and keeps serving", async () => {
    const cases: Array<{
      method: string;
      path: string;
      raw?: string;
      contentType?: string;
      status: number;
      code: string;
      message: RegExp;
    }> = [
      { method: "POST", path: "/api/workflows/good/run", raw: '{"n": ', status: 400, code: "bad_request", message: /not valid JSON/ },
      {
        method: "POST",
        path: "/api/workflows/good/run",
        raw: "[1, 2]",
        status: 400,
        code: "bad_request",
        message: /JSON object of inputs/,
      },
      {
        method: "POST",
        path: "/api/workflows/good/run",
        raw: '"text"',
        status: 400,
        code: "bad_request",
        message: /JSON object of inputs/,
      },
      { method: "POST", path: "/api/workflows/good/run", raw: "{}", status: 400, code: "bad_request", message: /input "n" is required/ },
      {
        method: "POST",
        path: "/api/workflows/good/run",
        raw: '{"n": "x"}',
        status: 400,
        code: "bad_request",
        message: /input "n" must be number, got string/,
      },
      {
        method: "POST",
        path: "/api/workflows/nope/run",
        raw: "{}",
        status: 404,
        code: "workflow_not_found",
        message: /no workflow named "nope"/,
      },
      {
        method: "POST",
        path: "/api/workflows/unknown_type/run",
        raw: "{}",
        status: 404,
        code: "workflow_not_found",
        message: /unknown_type/,
      },
      { method: "GET", path: "/api/workflows/nope", status: 404, code: "workflow_not_found", message: /nope/ },
      { method: "GET", path: "/api/runs/run_missing", status: 404, code: "run_not_found", message: /run_missing/ },
      { method: "POST", path: "/api/runs/run_missing/cancel", status: 404, code: "run_not_found", message: /run_missing/ },
      { method: "GET", path: "/api/runs?limit=abc", status: 400, code: "bad_request", message: /limit/ },
      { method: "POST", path: "/api/events/anything", raw: "{oops", status: 400, code: "bad_request", message: /not valid JSON/ },
      { method: "GET", path: "/api/no-such-route", status: 404, code: "not_found", message: /no-such-route/ },
    ];
    for (const entry of cases) {
      const answer = await callApi(daemon.url, entry.method, entry.path, undefined, {
        ...(entry.raw === undefined ? {} : { raw: entry.raw }),
      });
      const label = `${entry.method} ${entry.path} ${entry.raw ?? ""}`;
      expect(answer.status, label).toBe(entry.status);
      expect(answer.body?.error?.code, label).toBe(entry.code);
      expect(answer.body?.error?.message, label).toMatch(entry.message);
    }
    expect((await callApi(daemon.url, "GET", "/healthz")).body.status).toBe("ok");
    const run = await callApi(daemon.url, "POST", "/api/workflows/good/run?wait=1", { n: 2 });
    expect(run.body).toMatchObject({ status: "succeeded", outputs: 4 });
    expect(daemon.child.exitCode).toBeNull();
  });

  it("loads a repaired file on SIGHUP and drops its problem", async () => {
    writeFile(
      join(workflowsDir, "unknown_type.yaml"),
      "workflow:\n  name: unknown_type\n  tasks:\n    - name: a\n      type: set\n      value: repaired\n",
    );
    daemon.child.kill("SIGHUP");
    await waitFor(async () => (await callApi(daemon.url, "GET", "/healthz")).body.workflows === 2);
    expect((await callApi(daemon.url, "GET", "/healthz")).body.problems).toBe(PROBLEM_COUNT - 1);
    const run = await callApi(daemon.url, "POST", "/api/workflows/unknown_type/run?wait=1", {});
    expect(run.body).toMatchObject({ status: "succeeded", outputs: "repaired" });
    writeFile(join(workflowsDir, "unknown_type.yaml"), BROKEN["unknown_type.yaml"]!.text);
    daemon.child.kill("SIGHUP");
    await waitFor(async () => (await callApi(daemon.url, "GET", "/healthz")).body.problems === PROBLEM_COUNT);
  });
});

describe("localagent validate", () => {
  const temp = makeTempDir("localagent-validate-");
  const configDir = join(temp.dir, "config");
  const workflowsDir = join(configDir, "workflows");

  beforeAll(() => {
    writeConfigDir(configDir, {
      workflows: { "good.yaml": GOOD, ...Object.fromEntries(Object.entries(BROKEN).map(([name, file]) => [name, file.text])) },
    });
  });
  afterAll(() => temp.cleanup());

  it("prints one file:line:column: message per problem and exits 1", async () => {
    const result = await runCli(["validate", "--config", configDir]);
    expect(result.code).toBe(1);
    expectProblems(result.stdout.trimEnd().split("\n"), workflowsDir);
  });

  it("reports the problems of named files only", async () => {
    const result = await runCli(["validate", join(workflowsDir, "unknown_type.yaml"), join(workflowsDir, "good.yaml")]);
    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split("\n")).toEqual([
      `${join(workflowsDir, "unknown_type.yaml")}:5:13: unknown step type "teleport" (known: ai, approval, foreach, http, notification, set, shell)`,
    ]);
  });

  it("exits 0 for valid files", async () => {
    const result = await runCli(["validate", join(workflowsDir, "good.yaml")]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/1 file\(s\), 1 workflow\(s\): valid/);
  });

  it("gives the same problems as JSON", async () => {
    const result = await runCli(["validate", "--json", "--config", configDir]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { valid: boolean; files: number; workflows: number; problems: Json[] };
    expect(report).toMatchObject({ valid: false, files: 5, workflows: 1 });
    expect(report.problems).toHaveLength(PROBLEM_COUNT);
  });

  it("names a missing file", async () => {
    const missing = join(temp.dir, "nope.yaml");
    const result = await runCli(["validate", missing]);
    expect(result.code).toBe(1);
    expect(result.stdout.trim()).toBe(`${missing}:1:1: no such file or directory`);
  });
});

describe("a broken config.yaml", () => {
  const temp = makeTempDir("localagent-bad-config-");
  afterAll(() => temp.cleanup());

  const cases: Array<{ name: string; text: string; expected: RegExp }> = [
    { name: "YAML syntax", text: "server:\n  port: 8080\n bad: [\n", expected: /config\.yaml:3:\d+: YAML syntax: / },
    { name: "unknown field", text: "server:\n  port: 8080\n  prot: 1\n", expected: /config\.yaml:3:3: unknown field "server\.prot"/ },
    { name: "wrong type", text: 'server:\n  port: "eighty"\n', expected: /config\.yaml:2:9: server\.port: .*number/ },
    { name: "bad duration", text: "outbox:\n  backoff: soon\n", expected: /config\.yaml:2:12: outbox\.backoff: not a duration/ },
    {
      name: "webhook without url",
      text: "notifications:\n  hook: { type: webhook }\n",
      expected: /config\.yaml:2:\d+: notifications\.hook\.url: a webhook target needs url/,
    },
  ];

  for (const entry of cases) {
    it(`makes start exit 1 naming file:line:column (${entry.name})`, async () => {
      const configDir = writeConfigDir(join(temp.dir, entry.name.replace(/\W/g, "-")), { config: entry.text });
      const port = await freePort();
      const result = await runCli(["start", "--config", configDir, "--data-dir", join(temp.dir, "data"), "--port", String(port)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(entry.expected);
      expect(result.stderr).toContain(join(configDir, "config.yaml"));
      const validate = await runCli(["validate", "--config", configDir]);
      expect(validate.code).toBe(1);
      expect(validate.stdout).toMatch(entry.expected);
    });
  }
});

describe("start failures", () => {
  const temp = makeTempDir("localagent-start-fail-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  afterAll(() => temp.cleanup());

  it("exits 1 when the port is taken, and leaves the data dir free for the next start", { timeout: 20_000 }, async () => {
    writeConfigDir(configDir, { config: "log_level: warn\n" });
    const holder = await startDaemon({ configDir, dataDir: join(temp.dir, "holder-data") });
    try {
      const began = Date.now();
      const result = await runCli(["start", "--config", configDir, "--data-dir", dataDir, "--port", String(holder.port)], {
        timeoutMs: 5_000,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/localagent start: .*EADDRINUSE/);
      expect(Date.now() - began).toBeLessThan(5_000);
      expect(existsSync(join(dataDir, "daemon.pid"))).toBe(false);
    } finally {
      expect(await holder.stop("SIGTERM")).toBe(0);
    }
    const daemon = await startDaemon({ configDir, dataDir });
    try {
      expect((await callApi(daemon.url, "GET", "/healthz")).body.status).toBe("ok");
      // A second daemon on the same data dir is refused; the first keeps serving.
      const second = await runCli(["start", "--config", configDir, "--data-dir", dataDir, "--port", "0"], { timeoutMs: 5_000 });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/another daemon \(pid \d+\) already uses/);
      expect((await callApi(daemon.url, "GET", "/healthz")).body.status).toBe("ok");
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
  });
});
