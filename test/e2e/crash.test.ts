import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  callApi,
  freePort,
  makeTempDir,
  Receiver,
  startDaemon,
  waitFor,
  writeConfigDir,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

const KILLS = 50;
const STEPS = ["s1", "s2", "s3", "s4"];
/** Bounds the whole kill loop; the test fails rather than run away on a slow machine. */
const KILL_LOOP_BUDGET_MS = 90_000;

/** A shell step that records `<runId> <step> <stepKey>` in the lines file, after a short random pause. */
function shellStep(name: string, linesFile: string): string {
  const command = `sleep 0.0$((RANDOM % 5 + 1)); line="$LOCALAGENT_RUN_ID ${name} $LOCALAGENT_STEP_KEY"; echo "$line" >> '${linesFile}'; echo "$line"`;
  return [`    - name: ${name}`, "      type: shell", `      command: ${JSON.stringify(command)}`].join("\n");
}

function randomBetween(low: number, high: number): number {
  return low + Math.floor(Math.random() * (high - low));
}

describe("kill -9 at random moments", () => {
  const temp = makeTempDir("localagent-crash-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const linesFile = join(temp.dir, "lines.txt");
  const receiver = new Receiver();
  let daemon: DaemonProcess | undefined;

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    await receiver.stop();
    temp.cleanup();
  });

  it("resumes every run at its first unfinished step and delivers each notification once per idempotency key", async () => {
    await receiver.start();
    writeConfigDir(configDir, {
      config: [
        "notifications:",
        `  hook: { type: webhook, url: "${receiver.url}" }`,
        "outbox: { backoff: 100ms, max_backoff: 1s }",
        "",
      ].join("\n"),
      workflows: {
        "crashy.yaml": [
          "workflow:",
          "  name: crashy",
          "  trigger: manual",
          "  tasks:",
          ...STEPS.map((name) => shellStep(name, linesFile)),
          "    - name: notify",
          "      type: notification",
          "      platform: hook",
          '      message: "{{ run.id }} finished: {{ steps.s4.output }}"',
          "",
        ].join("\n"),
      },
    });
    const port = await freePort();
    const start = () => startDaemon({ configDir, dataDir, port, env: { LOCALAGENT_LOG_LEVEL: "warn" } });
    const acknowledged = new Set<string>();
    const began = Date.now();
    let kills = 0;

    while (kills < KILLS) {
      expect(Date.now() - began, `only ${kills} kills within the budget`).toBeLessThan(KILL_LOOP_BUDGET_MS);
      daemon = await start();
      const url = daemon.url;
      const killAt = Date.now() + randomBetween(0, 700);
      // Runs are triggered until the kill; a request cut off by the kill may or may not have created
      // its run, which is why the final check reads every run from the daemon, not only these.
      while (Date.now() < killAt) {
        void callApi(url, "POST", "/api/workflows/crashy/run", {}).then(
          (response) => {
            if (response.status === 202) acknowledged.add(String(response.body.run_id));
          },
          () => undefined,
        );
        await new Promise((resolve) => setTimeout(resolve, randomBetween(20, 120)));
      }
      await daemon.stop("SIGKILL");
      kills += 1;
    }
    const killLoopMs = Date.now() - began;

    daemon = await start();
    const url = daemon.url;
    let runs: Json[] = [];
    await waitFor(
      async () => {
        runs = (await callApi(url, "GET", "/api/runs?limit=100000")).body.runs;
        const deliveries: Json[] = (await callApi(url, "GET", "/api/outbox")).body.deliveries;
        return (
          runs.every((run) => run.status !== "queued" && run.status !== "running") &&
          deliveries.length === runs.length &&
          deliveries.every((delivery) => delivery.status === "delivered")
        );
      },
      30_000,
      100,
    );

    // Every run ended well, including each whose 202 reached us.
    const ids = new Set(runs.map((run) => String(run.id)));
    for (const id of acknowledged) expect(ids.has(id), `acknowledged run ${id} is missing`).toBe(true);
    expect(runs.filter((run) => run.status !== "succeeded")).toEqual([]);

    // Steps: a completed step never runs again. Each journaled attempt runs the command at most once,
    // so a step has one line, plus one per attempt cut off by a kill; every line of a step carries the
    // same LOCALAGENT_STEP_KEY, so the command could have deduplicated the re-run.
    const lines = existsSync(linesFile) ? readFileSync(linesFile, "utf8").trim().split("\n") : [];
    const byStep = new Map<string, string[]>();
    for (const line of lines) {
      const [runId, step, key] = line.split(" ");
      byStep.set(`${runId} ${step}`, [...(byStep.get(`${runId} ${step}`) ?? []), key ?? ""]);
    }
    let rerunSteps = 0;
    let extraLines = 0;
    for (const run of runs) {
      const detail = (await callApi(url, "GET", `/api/runs/${run.id}`)).body;
      const attempts = new Map<string, number>(detail.steps.map((step: Json) => [step.path, step.attempt]));
      let runExtraLines = 0;
      for (const step of STEPS) {
        const keys = byStep.get(`${run.id} ${step}`) ?? [];
        const attempt = attempts.get(step) ?? 0;
        expect(keys.length, `${run.id} ${step}`).toBeGreaterThanOrEqual(1);
        expect(keys.length, `${run.id} ${step} ran more often than it was attempted`).toBeLessThanOrEqual(attempt);
        expect(new Set(keys), `${run.id} ${step}`).toEqual(new Set([`${run.id}:${step}`]));
        if (keys.length > 1) {
          rerunSteps += 1;
          extraLines += keys.length - 1;
          runExtraLines += keys.length - 1;
        }
      }
      // The steps of a run are sequential: a kill cuts off at most one of them.
      expect(runExtraLines, `${run.id} re-ran more steps than there were kills`).toBeLessThanOrEqual(kills);
    }

    // Notifications: exactly one per run once grouped by Idempotency-Key. A kill between the
    // receiver's HTTP answer and the outbox's journal write makes the outbox send that delivery
    // again; the key marks it as the same message, and a receiver (as real webhook receivers do)
    // treats a repeated key as the message it already has. The payload of a repeat must be identical.
    const byKey = receiver.byKey();
    expect([...byKey.keys()].sort()).toEqual(runs.map((run) => `${run.id}:notify`).sort());
    let wireDuplicates = 0;
    for (const [key, requests] of byKey) {
      wireDuplicates += requests.length - 1;
      const bodies = new Set(requests.map((request) => JSON.stringify(request.body)));
      expect(bodies.size, `payloads of ${key}`).toBe(1);
      const [runId] = key.split(":");
      expect(requests[0]?.body).toMatchObject({ run_id: runId, step: "notify", message: `${runId} finished: ${runId} s4 ${runId}:s4` });
    }

    console.log(
      `crash test: ${kills} kills in ${killLoopMs} ms, ${runs.length} runs (${acknowledged.size} acknowledged), ` +
        `${lines.length} step lines, ${rerunSteps} steps re-run after a kill (${extraLines} extra lines), ` +
        `${receiver.requests.length} webhook requests, ${wireDuplicates} wire-level duplicates`,
    );
    expect(kills).toBe(KILLS);
    expect(runs.length).toBeGreaterThan(KILLS);
  }, 180_000);
});
