import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callApi,
  makeTempDir,
  runCli,
  startDaemon,
  waitFor,
  waitForRun,
  writeConfigDir,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

/** Reads the changed file through trigger.path, in a template and in a shell command. */
function inboxWorkflow(inbox: string): string {
  return `workflow:
  name: inbox
  on: file:${inbox}/*.txt
  tasks:
    - name: read
      type: shell
      command: "cat {{ trigger.path }}"
    - name: report
      type: set
      values:
        path: "{{ trigger.path }}"
        event: "{{ trigger.event }}"
        text: "{{ output }}"
`;
}

/** A relative glob (resolved against this file's folder) that only cares about new files. */
const DROPS = `workflow:
  name: drops
  on:
    - file: ../drops/*.csv
      events: [add]
      debounce: 50ms
  tasks:
    - { type: set, value: "{{ trigger.event }} {{ trigger.path }}" }
`;

const RELEASE = `workflow:
  name: release
  on:
    - event: deploy
      schema:
        type: object
        required: [service, version]
        properties:
          service: { type: string }
          version: { type: string, pattern: "^[0-9]+\\\\.[0-9]+\\\\.[0-9]+$" }
  tasks:
    - name: note
      type: set
      value: "{{ trigger.service }}@{{ trigger.version }}"
`;

const SINGLE = `workflow:
  name: single
  on: tick
  overlap: skip
  tasks:
    - { type: shell, command: "sleep 1" }
`;

describe("event triggers end to end", () => {
  const temp = makeTempDir("localagent-triggers-");
  const configDir = join(temp.dir, "config");
  const inbox = join(temp.dir, "inbox");
  const drops = join(configDir, "drops");
  let daemon: DaemonProcess;

  beforeAll(async () => {
    mkdirSync(inbox, { recursive: true });
    mkdirSync(drops, { recursive: true });
    writeConfigDir(configDir, {
      // The sandboxed step reads the dropped files: the inbox is visible to it, read-only.
      config: `log_level: warn\nsandbox: { read_only: ["${inbox}"] }\n`,
      workflows: { "inbox.yaml": inboxWorkflow(inbox), "drops.yaml": DROPS, "release.yaml": RELEASE, "single.yaml": SINGLE },
    });
    daemon = await startDaemon({ configDir, dataDir: join(temp.dir, "data") });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    temp.cleanup();
  });

  const runsOf = async (workflow: string): Promise<Json[]> =>
    (await callApi(daemon.url, "GET", `/api/runs?workflow=${workflow}&limit=100`)).body.runs as Json[];

  it("a new file starts the workflow, whose templates read trigger.path and trigger.event", async () => {
    const file = join(inbox, "note.txt");
    writeFileSync(file, "hello from a file\n");
    let runs: Json[] = [];
    await waitFor(async () => (runs = await runsOf("inbox")).length > 0, 10_000);
    const run = await waitForRun(daemon.url, runs[0].id);
    expect(run).toMatchObject({
      status: "succeeded",
      trigger: `event:file:${inbox}/*.txt`,
      outputs: { path: file, event: "add", text: "hello from a file" },
    });
    // A later write to the same file is a change; other files in the folder are not watched.
    writeFileSync(join(inbox, "ignored.log"), "x");
    appendFileSync(file, "more\n");
    await waitFor(async () => (runs = await runsOf("inbox")).length === 2, 10_000);
    const second = await waitForRun(daemon.url, runs[0].id);
    expect(second.outputs).toMatchObject({ path: file, event: "change" });
  });

  it("resolves a relative glob against the workflow file's folder and applies its events: filter", async () => {
    const file = join(drops, "data.csv");
    writeFileSync(file, "a,b\n");
    let runs: Json[] = [];
    await waitFor(async () => (runs = await runsOf("drops")).length > 0, 10_000);
    expect(await waitForRun(daemon.url, runs[0].id)).toMatchObject({ status: "succeeded", outputs: `add ${file}` });
    appendFileSync(file, "c,d\n");
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await runsOf("drops")).toHaveLength(1);
  });

  it("answers 400 with the ajv errors for a payload the schema refuses, and starts nothing", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/events/deploy", { service: "billing", version: "latest" });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: "payload_invalid",
      message: expect.stringContaining('workflow "release": payload/version must match pattern'),
      event: "deploy",
      rejected: [
        {
          workflow: "release",
          errors: [expect.objectContaining({ instancePath: "/version", keyword: "pattern", schemaPath: "#/properties/version/pattern" })],
        },
      ],
    });
    const missing = await callApi(daemon.url, "POST", "/api/events/deploy", {});
    expect(missing.status).toBe(400);
    expect(missing.body.error.rejected[0].errors.map((error: Json) => error.params.missingProperty)).toEqual(["service", "version"]);
    expect(await runsOf("release")).toEqual([]);
  });

  it("runs a valid payload", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/events/deploy", { service: "billing", version: "1.4.2" });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ event: "deploy", runs: [{ workflow: "release", run_id: expect.any(String) }], skipped: [] });
    const run = await waitForRun(daemon.url, answer.body.runs[0].run_id);
    expect(run).toMatchObject({ status: "succeeded", trigger: "event:deploy", outputs: "billing@1.4.2" });
    expect(await runsOf("release")).toHaveLength(1);
  });

  it("overlap: skip drops a second fire while the first runs and counts it in /api/workflows", async () => {
    const first = await callApi(daemon.url, "POST", "/api/events/tick", {});
    expect(first.body.runs).toHaveLength(1);
    const second = await callApi(daemon.url, "POST", "/api/events/tick", {});
    expect(second).toMatchObject({
      status: 202,
      body: { runs: [], skipped: [{ workflow: "single", reason: expect.stringContaining("overlap: skip") }] },
    });
    const manual = await callApi(daemon.url, "POST", "/api/workflows/single/run", {});
    expect(manual).toMatchObject({ status: 409, body: { error: { code: "conflict" } } });
    const view = (await callApi(daemon.url, "GET", "/api/workflows")).body.workflows.find((workflow: Json) => workflow.name === "single");
    expect(view).toMatchObject({ overlap: "skip", skipped: 2, triggers: ["event:tick"] });
    expect(await waitForRun(daemon.url, first.body.runs[0].run_id)).toMatchObject({ status: "succeeded" });
  });
});

describe("payload schemas at load time", () => {
  const temp = makeTempDir("localagent-schema-");

  afterAll(() => temp.cleanup());

  it("an invalid schema is a file:line:column problem", async () => {
    const configDir = writeConfigDir(join(temp.dir, "config"), {
      workflows: {
        "bad.yaml": [
          "workflow:",
          "  name: bad",
          "  on:",
          "    - event: deploy",
          "      schema:",
          "        type: object",
          "        properties:",
          "          version: { type: text }",
          "  tasks:",
          "    - { type: set, value: 1 }",
          "",
        ].join("\n"),
      },
    });
    const result = await runCli(["validate", "--config", configDir]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(
      `${join(configDir, "workflows", "bad.yaml")}:8:28: invalid payload schema at properties.version.type: must be equal to one of the allowed values`,
    );
  });
});
