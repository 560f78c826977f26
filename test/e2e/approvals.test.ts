import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  callApi,
  freePort,
  makeTempDir,
  runCli,
  startDaemon,
  waitFor,
  waitForRun,
  writeConfigDir,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

describe("approvals survive a restart", () => {
  const temp = makeTempDir("localagent-approvals-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const marker = join(temp.dir, "after.txt");
  let daemon: DaemonProcess | undefined;

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    temp.cleanup();
  });

  it("a run waiting for approval is killed, restarted, approved through the CLI, and its next step runs once", async () => {
    writeConfigDir(configDir, {
      // The last step appends to a marker beside the test: writable for the sandbox.
      config: `sandbox: { writable: ["${temp.dir}"] }\n`,
      workflows: {
        "gated.yaml": [
          "workflow:",
          "  name: gated",
          "  trigger: manual",
          "  tasks:",
          "    - name: before",
          "      type: shell",
          "      command: echo ready",
          "    - name: confirm",
          "      type: approval",
          '      message: "Deploy {{ steps.before.output }} to production?"',
          "      timeout: 10m",
          "    - name: after",
          "      type: shell",
          `      command: echo "$LOCALAGENT_STEP_KEY approved-by={{ steps.confirm.output.by }}" >> '${marker}'`,
          "",
        ].join("\n"),
      },
    });
    const port = await freePort();
    daemon = await startDaemon({ configDir, dataDir, port });
    const runId = String((await callApi(daemon.url, "POST", "/api/workflows/gated/run", {})).body.run_id);
    let pending: Json[] = [];
    await waitFor(async () => {
      pending = (await callApi(daemon?.url ?? "", "GET", "/api/approvals?status=pending")).body.approvals;
      return pending.length === 1;
    });
    const request = pending[0];
    expect(request).toMatchObject({ runId, workflow: "gated", step: "confirm", status: "pending" });
    expect(String(request.command)).toMatch(/^Deploy ready\s*to production\?$/);

    await daemon.stop("SIGKILL");
    daemon = await startDaemon({ configDir, dataDir, port });

    // The resumed step finds the same request (same id); nothing new is asked.
    await waitFor(async () => (await callApi(daemon?.url ?? "", "GET", `/api/runs/${runId}`)).body.status === "running");
    const listed = await runCli(["approvals", "list", "--config", configDir, "--data-dir", dataDir, "--json"]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as Json[]).map((item) => item.id)).toEqual([request.id]);

    const approved = await runCli([
      "approvals",
      "approve",
      request.id,
      "--config",
      configDir,
      "--data-dir",
      dataDir,
      "--port",
      String(port),
      "--by",
      "ada",
    ]);
    expect(approved.stderr).toBe("");
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`${request.id} approved`);

    const run = await waitForRun(daemon.url, runId);
    expect(run.status).toBe("succeeded");
    const lines = readFileSync(marker, "utf8").trim().split("\n");
    expect(lines).toEqual([`${runId}:after approved-by=cli:ada`]);

    // A second answer is refused; the API says why.
    const again = await callApi(daemon.url, "POST", `/api/approvals/${request.id}`, { decision: "deny" });
    expect(again.status).toBe(400);
    expect(again.body.error.message).toMatch(/already approved/);
    expect((await callApi(daemon.url, "POST", "/api/approvals/ap_missing", { decision: "deny" })).status).toBe(404);
    expect((await callApi(daemon.url, "POST", `/api/approvals/${request.id}`, { decision: "maybe" })).status).toBe(400);

    // The audit log holds the request and the decision, and verifies.
    const verify = await runCli(["audit", "verify", "--config", configDir, "--data-dir", dataDir]);
    expect(verify.code).toBe(0);
    const exported = await runCli(["audit", "export", "--json", "--config", configDir, "--data-dir", dataDir]);
    const types = (JSON.parse(exported.stdout) as Json[]).map((entry) => entry.type);
    expect(types).toContain("approval-requested");
    expect(types).toContain("approval-decided");
  }, 60_000);

  it("a denied approval fails the run and the next step never runs", async () => {
    const runId = String((await callApi(daemon?.url ?? "", "POST", "/api/workflows/gated/run", {})).body.run_id);
    let pending: Json[] = [];
    await waitFor(async () => {
      pending = (await callApi(daemon?.url ?? "", "GET", "/api/approvals")).body.approvals.filter(
        (item: Json) => item.status === "pending",
      );
      return pending.length === 1;
    });
    const denied = await callApi(daemon?.url ?? "", "POST", `/api/approvals/${pending[0].id}`, { decision: "deny", by: "dashboard:bob" });
    expect(denied.body).toMatchObject({ status: "denied", decidedBy: "dashboard:bob" });
    const run = await waitForRun(daemon?.url ?? "", runId);
    expect(run.status).toBe("failed");
    expect(JSON.stringify(run)).toMatch(/denied by dashboard:bob/);
    expect(readFileSync(marker, "utf8").trim().split("\n")).toHaveLength(1);
  }, 30_000);

  it("cancelling a waiting run closes its request", async () => {
    const url = daemon?.url ?? "";
    const runId = String((await callApi(url, "POST", "/api/workflows/gated/run", {})).body.run_id);
    const mine = async (): Promise<Json> =>
      (await callApi(url, "GET", "/api/approvals")).body.approvals.find((item: Json) => item.runId === runId);
    await waitFor(async () => (await mine())?.status === "pending");
    expect((await callApi(url, "POST", `/api/runs/${runId}/cancel`)).body).toMatchObject({ cancelled: true });
    await waitFor(async () => (await mine())?.status === "expired");
    expect(await mine()).toMatchObject({ decidedBy: "run-cancelled" });
  }, 30_000);
});
