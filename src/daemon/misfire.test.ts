import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.js";
import { loadConfig } from "../config/index.js";
import { createSilentLogger } from "../logger/index.js";
import { SqliteStore } from "../store/index.js";
import { Daemon } from "./daemon.js";

const HOUR = 3_600_000;

/**
 * The restart test of the scheduler: a daemon with an hourly workflow fires at 10:00, is stopped,
 * and starts again at 13:30 — three fires (11:00, 12:00, 13:00) were missed while it was down.
 */
describe("misfire policy across a daemon restart", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-misfire-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function daemonAt(clock: ManualClock, misfire: string): Promise<Daemon> {
    mkdirSync(join(dir, "config", "workflows"), { recursive: true });
    writeFileSync(
      join(dir, "config", "workflows", "hourly.yaml"),
      `workflow:\n  name: hourly\n  schedule: "0 * * * *"\n  misfire: ${misfire}\n  tasks:\n    - { type: set, value: "{{ run.trigger }}" }\n`,
    );
    const config = loadConfig({ configDir: join(dir, "config"), dataDir: join(dir, "data"), port: 0 });
    const daemon = new Daemon({ config, clock, logger: createSilentLogger(), serve: false, probe: () => true });
    await daemon.start();
    return daemon;
  }

  async function settle(daemon: Daemon): Promise<void> {
    for (let index = 0; index < 200 && (daemon.health().activeRuns > 0 || index < 2); index++)
      await new Promise((resolve) => setTimeout(resolve, 5));
  }

  function cronRuns(): number {
    const store = new SqliteStore({ path: join(dir, "data", "localagent.db") });
    try {
      return store.listRuns({ workflow: "hourly", limit: 1000 }).filter((run) => run.trigger === "cron" && run.status === "succeeded")
        .length;
    } finally {
      store.close();
    }
  }

  it.each([
    ["once", 1],
    ["all", 3],
    ["skip", 0],
  ])("misfire: %s fires %i catch-up run(s) at start", async (misfire, catchUp) => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 9, 59, 58));
    const first = await daemonAt(clock, misfire);
    clock.advance(3_000); // 10:00:01: the 10:00 fire
    await settle(first);
    await first.stop();
    expect(cronRuns()).toBe(1);

    clock.set(Date.UTC(2026, 0, 1, 13, 30)); // three and a half hours later
    const second = await daemonAt(clock, misfire);
    await settle(second);
    expect(cronRuns()).toBe(1 + catchUp);
    clock.advance(HOUR); // and the schedule goes on: 14:00
    await settle(second);
    expect(cronRuns()).toBe(2 + catchUp);
    await second.stop();
  });
});
