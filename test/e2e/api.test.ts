import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
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

const COMPUTE = `workflow:
  name: compute
  trigger: manual
  inputs:
    a: { type: number, required: true }
    b: { type: number, default: 10 }
  tasks:
    - name: sum
      type: set
      values:
        total: "{{ inputs.a + inputs.b }}"
    - name: report
      type: set
      values:
        doubled: "{{ steps.sum.output.total * 2 }}"
        text: "{{ inputs.a }} + {{ inputs.b }} = {{ output.total }}"
`;

const ON_DEPLOY = `workflow:
  name: on_deploy
  on: event:deploy
  tasks:
    - name: read
      type: set
      values:
        service: "{{ trigger.service }}"
        version: "{{ trigger.version }}"
`;

const AFTER_COMPUTE = `workflow:
  name: after_compute
  on: workflow.finished:compute
  tasks:
    - name: note
      type: set
      values:
        workflow: "{{ trigger.workflow }}"
        run_id: "{{ trigger.run_id }}"
        status: "{{ trigger.status }}"
`;

/** Writes its shell pid, then sleeps long: a run to cancel. */
function longWorkflow(pidFile: string): string {
  return `workflow:
  name: long
  trigger: manual
  tasks:
    - name: wait
      type: shell
      command: "echo $$ > '${pidFile}'; exec sleep 30"
    - name: after
      type: set
      value: never
`;
}

/** One run at a time: a second run waits in the queue. */
function serialWorkflow(ranFile: string): string {
  return `workflow:
  name: serial
  trigger: manual
  concurrency: 1
  tasks:
    - name: work
      type: shell
      command: "sleep 0.5; echo $LOCALAGENT_RUN_ID >> '${ranFile}'"
`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("HTTP and WebSocket API", () => {
  const temp = makeTempDir("localagent-api-");
  const configDir = join(temp.dir, "config");
  const pidFile = join(temp.dir, "long.pid");
  const ranFile = join(temp.dir, "serial.txt");
  let daemon: DaemonProcess;

  beforeAll(async () => {
    writeConfigDir(configDir, {
      // These commands write files beside the test and report host pids ($$): unsandboxed.
      config: "log_level: warn\nsandbox: { mode: off }\n",
      workflows: {
        "compute.yaml": COMPUTE,
        "on_deploy.yaml": ON_DEPLOY,
        "after_compute.yaml": AFTER_COMPUTE,
        "long.yaml": longWorkflow(pidFile),
        "serial.yaml": serialWorkflow(ranFile),
      },
    });
    daemon = await startDaemon({ configDir, dataDir: join(temp.dir, "data") });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    temp.cleanup();
  });

  it("runs a workflow with ?wait=1 and answers with its status and outputs", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/workflows/compute/run?wait=1", { a: 22 });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      workflow: "compute",
      status: "succeeded",
      trigger: "api",
      inputs: { a: 22, b: 10 },
      outputs: { doubled: 64, text: "22 + 10 = 32" },
      error: null,
    });
    expect((answer.body.steps as Json[]).map((step) => [step.path, step.status, step.attempt])).toEqual([
      ["sum", "succeeded", 1],
      ["report", "succeeded", 1],
    ]);
    expect(answer.body.steps[0].output).toEqual({ total: 32 });
  });

  it("answers 202 without wait; the run is read back later", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/workflows/compute/run", { a: 1, b: 2 });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ run_id: expect.stringMatching(/^run_/), status: "queued" });
    const run = await waitForRun(daemon.url, answer.body.run_id);
    expect(run).toMatchObject({ id: answer.body.run_id, status: "succeeded", outputs: { doubled: 6, text: "1 + 2 = 3" } });
    expect(run.finished_at).not.toBeNull();
  });

  it("lists runs, newest first, filtered by workflow and status", async () => {
    const all = await callApi(daemon.url, "GET", "/api/runs");
    expect(all.status).toBe(200);
    const compute = (all.body.runs as Json[]).filter((run) => run.workflow === "compute");
    expect(compute).toHaveLength(2);
    expect(compute[0].inputs).toEqual({ a: 1, b: 2 });
    expect(compute[0].steps).toBeUndefined();
    const filtered = await callApi(daemon.url, "GET", "/api/runs?workflow=compute&status=succeeded&limit=1");
    expect(filtered.body.runs).toHaveLength(1);
    expect(filtered.body.runs[0]).toMatchObject({ workflow: "compute", status: "succeeded", inputs: { a: 1, b: 2 } });
    expect((await callApi(daemon.url, "GET", "/api/runs?status=failed,cancelled&workflow=compute")).body.runs).toEqual([]);
  });

  it("starts a workflow on POST /api/events/NAME with the payload as trigger", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/events/deploy", { service: "billing", version: "1.4.2" });
    expect(answer.status).toBe(202);
    expect(answer.body.event).toBe("deploy");
    expect(answer.body.runs).toHaveLength(1);
    expect(answer.body.runs[0].workflow).toBe("on_deploy");
    const run = await waitForRun(daemon.url, answer.body.runs[0].run_id);
    expect(run).toMatchObject({ status: "succeeded", trigger: "event:deploy", outputs: { service: "billing", version: "1.4.2" } });
    const nobody = await callApi(daemon.url, "POST", "/api/events/nobody-listens", {});
    expect(nobody).toMatchObject({ status: 202, body: { event: "nobody-listens", runs: [] } });
  });

  it("runs a workflow.finished:OTHER workflow after OTHER", async () => {
    const other = await callApi(daemon.url, "POST", "/api/workflows/compute/run?wait=1", { a: 5 });
    expect(other.body.status).toBe("succeeded");
    let follower: Json;
    await waitFor(async () => {
      const runs = (await callApi(daemon.url, "GET", "/api/runs?workflow=after_compute&limit=100")).body.runs as Json[];
      follower = runs.find((run) => run.status === "succeeded" && run.outputs?.run_id === other.body.id);
      return follower !== undefined;
    });
    expect(follower).toMatchObject({
      trigger: "event:workflow.finished:compute",
      outputs: { workflow: "compute", run_id: other.body.id, status: "succeeded" },
    });
    expect(Date.parse(follower.created_at)).toBeGreaterThanOrEqual(Date.parse(other.body.finished_at));
  });

  it("streams typed run events on /ws", async () => {
    const socket = new WebSocket(`${daemon.url.replace("http", "ws")}/ws`);
    const events: Json[] = [];
    socket.on("message", (data: Buffer) => {
      const text = data.toString();
      events.push(text === "pong" ? text : JSON.parse(text));
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    try {
      await waitFor(() => events.some((event) => event.type === "hello"));
      expect(events[0]).toMatchObject({ type: "hello", version: expect.any(String) });
      const answer = await callApi(daemon.url, "POST", "/api/workflows/compute/run", { a: 3 });
      const runId = answer.body.run_id;
      await waitFor(() => events.some((event) => event.type === "run-finished" && event.runId === runId));
      const mine = events.filter((event) => event.runId === runId);
      expect(mine.map((event) => [event.type, event.step ?? null])).toEqual([
        ["run-queued", null],
        ["run-started", null],
        ["step-started", "sum"],
        ["step-finished", "sum"],
        ["step-started", "report"],
        ["step-finished", "report"],
        ["run-finished", null],
      ]);
      expect(mine[0]).toMatchObject({ workflow: "compute", trigger: "api", at: expect.any(Number) });
      expect(mine[2]).toMatchObject({ stepType: "set", attempt: 1 });
      expect(mine[3]).toMatchObject({ status: "succeeded", durationMs: expect.any(Number) });
      expect(mine[6]).toMatchObject({ workflow: "compute", status: "succeeded" });
      // The follower of compute shows up on the same stream.
      await waitFor(() => events.some((event) => event.type === "run-finished" && event.workflow === "after_compute"));
      socket.send("ping");
      await waitFor(() => events.includes("pong"));
    } finally {
      socket.close();
    }
  });

  it("streams only one run's events with ?run=ID", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/workflows/long/run", {});
    const runId = String(answer.body.run_id);
    const socket = new WebSocket(`${daemon.url.replace("http", "ws")}/ws?run=${runId}`);
    const events: Json[] = [];
    socket.on("message", (data: Buffer) => events.push(JSON.parse(data.toString())));
    try {
      await waitFor(() => events.some((event) => event.type === "hello"));
      await callApi(daemon.url, "POST", "/api/workflows/compute/run?wait=1", { a: 1 });
      expect(events.filter((event) => event.type !== "hello").every((event) => event.runId === runId)).toBe(true);
      await callApi(daemon.url, "POST", `/api/runs/${runId}/cancel`);
      await waitFor(() => events.some((event) => event.type === "run-finished"));
      expect(events.find((event) => event.type === "run-finished")).toMatchObject({ runId, status: "cancelled" });
    } finally {
      socket.close();
    }
  });

  it("cancels a long run: its command is killed and the run ends cancelled", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/workflows/long/run", {});
    const runId = String(answer.body.run_id);
    let pid = 0;
    await waitFor(async () => {
      const run = (await callApi(daemon.url, "GET", `/api/runs/${runId}`)).body;
      if (run.steps?.[0]?.status !== "running" || !existsSync(pidFile)) return false;
      pid = Number(readFileSync(pidFile, "utf8").trim());
      return pid > 0 && isAlive(pid);
    });
    const began = Date.now();
    const cancel = await callApi(daemon.url, "POST", `/api/runs/${runId}/cancel`);
    expect(cancel).toMatchObject({ status: 200, body: { id: runId, cancelled: true } });
    const run = await waitForRun(daemon.url, runId, 5_000);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(run).toMatchObject({ status: "cancelled", error: "run cancelled" });
    expect(run.steps.map((step: Json) => [step.path, step.status])).toEqual([["wait", "failed"]]);
    await waitFor(() => !isAlive(pid), 5_000);
    // A finished run cannot be cancelled again.
    expect((await callApi(daemon.url, "POST", `/api/runs/${runId}/cancel`)).body).toEqual({ id: runId, cancelled: false });
  });

  it("cancels a run still waiting for a slot: it never starts", async () => {
    const first = String((await callApi(daemon.url, "POST", "/api/workflows/serial/run", {})).body.run_id);
    const second = String((await callApi(daemon.url, "POST", "/api/workflows/serial/run", {})).body.run_id);
    expect((await callApi(daemon.url, "GET", `/api/runs/${second}`)).body).toMatchObject({ status: "queued", steps: [] });
    expect((await callApi(daemon.url, "POST", `/api/runs/${second}/cancel`)).body).toEqual({ id: second, cancelled: true });
    expect(await waitForRun(daemon.url, first)).toMatchObject({ status: "succeeded" });
    // The slot is free now; the cancelled run must not take it.
    const third = String((await callApi(daemon.url, "POST", "/api/workflows/serial/run?wait=1", {})).body.id);
    const cancelled = await waitForRun(daemon.url, second);
    expect(cancelled).toMatchObject({ status: "cancelled", error: "run cancelled", started_at: null, steps: [] });
    expect(readFileSync(ranFile, "utf8").trim().split("\n")).toEqual([first, third]);
  });
});

describe("SIGTERM", () => {
  const temp = makeTempDir("localagent-drain-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const markers = join(temp.dir, "markers");

  beforeAll(() => {
    writeConfigDir(configDir, {
      config: "log_level: warn\nshutdown_grace: 1500ms\nmax_concurrent_runs: 1\nsandbox: { mode: off }\n",
      workflows: {
        "quick.yaml": `workflow:
  name: quick
  trigger: manual
  tasks:
    - name: work
      type: shell
      command: "sleep 0.5; echo finished"
`,
        // The first attempt outlives the grace period; the resumed one finds its marker (named by
        // the stable step key) and finishes at once.
        "slow.yaml": `workflow:
  name: slow
  trigger: manual
  tasks:
    - name: work
      type: shell
      command: "mkdir -p '${markers}'; marker='${markers}/'$(echo $LOCALAGENT_STEP_KEY | tr ':' _); if [ -e \\"$marker\\" ]; then echo resumed; else touch \\"$marker\\"; sleep 20; fi"
    - name: after
      type: set
      value: "{{ output }} and done"
`,
      },
    });
  });

  afterAll(() => temp.cleanup());

  const runningStep = async (url: string, runId: string): Promise<void> =>
    waitFor(async () => (await callApi(url, "GET", `/api/runs/${runId}`)).body.steps?.[0]?.status === "running");

  it("drains: a running step finishes within the grace period and the process exits 0", async () => {
    const daemon = await startDaemon({ configDir, dataDir });
    try {
      const runId = String((await callApi(daemon.url, "POST", "/api/workflows/quick/run", {})).body.run_id);
      await runningStep(daemon.url, runId);
      const began = Date.now();
      expect(await daemon.stop("SIGTERM")).toBe(0);
      expect(Date.now() - began).toBeLessThan(1500 + 1000);
      const show = await runCli(["runs", "show", runId, "--json", "--config", configDir, "--data-dir", dataDir]);
      expect(show.code).toBe(0);
      expect(JSON.parse(show.stdout)).toMatchObject({ status: "succeeded", outputs: "finished" });
    } finally {
      await daemon.stop("SIGKILL");
    }
  });

  it("starts no queued run while it drains; those run at the next start", async () => {
    let daemon = await startDaemon({ configDir, dataDir });
    const ids: string[] = [];
    try {
      for (let index = 0; index < 3; index += 1) {
        ids.push(String((await callApi(daemon.url, "POST", "/api/workflows/quick/run", {})).body.run_id));
      }
      await runningStep(daemon.url, ids[0]!);
      expect(await daemon.stop("SIGTERM")).toBe(0);
      expect(daemon.output()).not.toMatch(/crashed|not open/);
    } finally {
      await daemon.stop("SIGKILL");
    }
    const show = async (id: string): Promise<Json> =>
      JSON.parse((await runCli(["runs", "show", id, "--json", "--config", configDir, "--data-dir", dataDir])).stdout);
    expect(await show(ids[0]!)).toMatchObject({ status: "succeeded" });
    for (const id of ids.slice(1)) expect(await show(id)).toMatchObject({ status: "queued", started_at: null, steps: [] });

    daemon = await startDaemon({ configDir, dataDir });
    try {
      for (const id of ids.slice(1)) {
        const run = await waitForRun(daemon.url, id);
        expect(run).toMatchObject({ status: "succeeded", outputs: "finished" });
        expect(run.steps.map((step: Json) => step.attempt)).toEqual([1]);
      }
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
  });

  it("leaves a step running past shutdown_grace as running and resumes it at the next start", async () => {
    let daemon = await startDaemon({ configDir, dataDir });
    let runId = "";
    try {
      runId = String((await callApi(daemon.url, "POST", "/api/workflows/slow/run", {})).body.run_id);
      await runningStep(daemon.url, runId);
      await waitFor(() => existsSync(markers));
      const began = Date.now();
      expect(await daemon.stop("SIGTERM")).toBe(0);
      const took = Date.now() - began;
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(1500 + 2500);
    } finally {
      await daemon.stop("SIGKILL");
    }
    const interrupted = await runCli(["runs", "show", runId, "--config", configDir, "--data-dir", dataDir]);
    expect(interrupted.code).toBe(0);
    expect(interrupted.stdout).toContain(`${runId}  slow  running  (api)`);
    expect(interrupted.stdout).toMatch(/^ {2}running +work$/m);
    const before = JSON.parse((await runCli(["runs", "show", runId, "--json", "--config", configDir, "--data-dir", dataDir])).stdout);
    expect(before).toMatchObject({ status: "running", finished_at: null });
    expect(before.steps).toEqual([expect.objectContaining({ path: "work", status: "running", attempt: 1 })]);

    daemon = await startDaemon({ configDir, dataDir });
    try {
      const run = await waitForRun(daemon.url, runId);
      expect(run).toMatchObject({ status: "succeeded", outputs: "resumed and done" });
      expect(run.steps.map((step: Json) => [step.path, step.status, step.attempt])).toEqual([
        ["work", "succeeded", 2],
        ["after", "succeeded", 1],
      ]);
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
    const after = await runCli(["runs", "show", runId, "--config", configDir, "--data-dir", dataDir]);
    expect(after.stdout).toContain(`${runId}  slow  succeeded  (api)`);
    expect(after.stdout).toMatch(/^ {2}succeeded +work \(attempt 2\)$/m);
  });
});
