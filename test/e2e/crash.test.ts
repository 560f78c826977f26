import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/index.js";
import {
  CLI,
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

/**
 * A shell step that appends `<runId> <step> <stepKey> <generation>` to the lines file after a short
 * random pause. The generation is the daemon incarnation that ran it (from the daemon's environment),
 * so a line written late by a command orphaned by a kill is still counted against its own incarnation.
 */
function shellStep(name: string, linesFile: string): string {
  const command = `sleep 0.0$((RANDOM % 5 + 1)); echo "$LOCALAGENT_RUN_ID ${name} $LOCALAGENT_STEP_KEY $CRASH_GENERATION" >> '${linesFile}'; echo "$LOCALAGENT_RUN_ID ${name} $LOCALAGENT_STEP_KEY"`;
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
        // The commands read CRASH_GENERATION from the daemon's environment (a sandbox passes only
        // the step's env) and are meant to outlive a kill -9 (a sandbox dies with its daemon).
        "sandbox: { mode: off }",
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
    let generation = 0;
    const start = () => {
      generation += 1;
      return startDaemon({ configDir, dataDir, port, env: { LOCALAGENT_LOG_LEVEL: "warn", CRASH_GENERATION: String(generation) } });
    };
    const acknowledged = new Set<string>();
    // What the journal said right after each kill: the first generation whose kill found a step
    // completed, and the steps found in flight (journaled running) per generation.
    const completedBy = new Map<string, number>();
    const inFlightAt = new Map<number, Set<string>>();
    const snapshotJournal = (killed: number): void => {
      const store = new SqliteStore({ path: join(dataDir, "localagent.db") });
      try {
        const running = new Set<string>();
        for (const run of store.listRuns({ limit: 1_000_000 })) {
          for (const step of store.getSteps(run.id)) {
            const key = `${run.id} ${step.path}`;
            if (step.status === "succeeded" && !completedBy.has(key)) completedBy.set(key, killed);
            if (step.status === "running") running.add(key);
          }
        }
        inFlightAt.set(killed, running);
      } finally {
        store.close();
      }
    };
    const began = Date.now();
    let kills = 0;

    while (kills < KILLS) {
      expect(Date.now() - began, `only ${kills} kills within the budget`).toBeLessThan(KILL_LOOP_BUDGET_MS);
      if (kills % 5 === 4) {
        // Every fifth kill lands while the daemon is still starting: opening the store, resuming runs.
        generation += 1;
        const child = spawn(process.execPath, [CLI, "start", "--config", configDir, "--data-dir", dataDir, "--port", String(port)], {
          env: { ...process.env, LOCALAGENT_LOG_LEVEL: "warn", CRASH_GENERATION: String(generation) },
          stdio: "ignore",
        });
        const exited = new Promise((resolve) => child.once("exit", resolve));
        await new Promise((resolve) => setTimeout(resolve, randomBetween(50, 600)));
        child.kill("SIGKILL");
        await exited;
        kills += 1;
        snapshotJournal(generation);
        continue;
      }
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
      snapshotJournal(generation);
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

    // Steps. Every line of a step carries the same stable LOCALAGENT_STEP_KEY, so a command could
    // deduplicate a re-run. Each daemon incarnation runs a step at most once. A step the journal had
    // as completed when an incarnation was killed never runs in a later one; a step runs again only
    // when the journal had it in flight (running) at the kill of the incarnation that ran it before.
    const lines = existsSync(linesFile) ? readFileSync(linesFile, "utf8").trim().split("\n") : [];
    const byStep = new Map<string, Array<{ key: string; generation: number }>>();
    for (const line of lines) {
      const [runId, step, key, written] = line.split(" ");
      const id = `${runId} ${step}`;
      byStep.set(id, [...(byStep.get(id) ?? []), { key: key ?? "", generation: Number(written) }]);
    }
    const finalGeneration = generation;
    let rerunSteps = 0;
    let extraLines = 0;
    for (const run of runs) {
      const detail = (await callApi(url, "GET", `/api/runs/${run.id}`)).body;
      const attempts = new Map<string, number>(detail.steps.map((step: Json) => [step.path, step.attempt]));
      for (const step of STEPS) {
        const id = `${run.id} ${step}`;
        const executions = byStep.get(id) ?? [];
        const generations = executions.map((execution) => execution.generation).sort((a, b) => a - b);
        expect(executions.length, `${id} never ran`).toBeGreaterThanOrEqual(1);
        expect(new Set(executions.map((execution) => execution.key)), id).toEqual(new Set([`${run.id}:${step}`]));
        expect(new Set(generations).size, `${id} ran twice in one incarnation: ${generations.join(",")}`).toBe(generations.length);
        expect(executions.length, `${id} ran more often than it was attempted`).toBeLessThanOrEqual(attempts.get(step) ?? 0);
        const completedIn = completedBy.get(id) ?? finalGeneration;
        expect(generations.at(-1)!, `${id} ran again after it was completed in incarnation ${completedIn}`).toBeLessThanOrEqual(
          completedIn,
        );
        for (const earlier of generations.slice(0, -1)) {
          expect(
            inFlightAt.get(earlier)?.has(id),
            `${id} re-ran although it was not in flight when incarnation ${earlier} was killed`,
          ).toBe(true);
        }
        if (executions.length > 1) {
          rerunSteps += 1;
          extraLines += executions.length - 1;
        }
      }
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
  }, 150_000);
});
