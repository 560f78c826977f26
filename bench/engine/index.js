// bench/engine: durable no-op steps per second. One workflow of STEPS `set` steps, run back to back
// by the Engine against SqliteStore on a temp file (durability process, then power), and against
// MemoryStore in the same process as the baseline that journals nothing.
import { join } from "node:path";
import Database from "better-sqlite3";
import { systemClock } from "../../dist/clock/index.js";
import { Engine } from "../../dist/engine/index.js";
import { EventBus } from "../../dist/events/index.js";
import { createSilentLogger } from "../../dist/logger/index.js";
import { createDefaultRegistry } from "../../dist/steps/index.js";
import { MemoryStore, SqliteStore } from "../../dist/store/index.js";
import { loadWorkflowText } from "../../dist/workflow/index.js";
import { log, makeTempDir, printResult, round, secondsFromEnv } from "../support/index.js";

const STEPS = Number(process.env.BENCH_STEPS ?? 20);
const SECONDS = secondsFromEnv("BENCH_SECONDS", 5);
const WARMUP_SECONDS = Math.min(1, SECONDS / 5);

const registry = createDefaultRegistry();
const yaml = [
  "workflow:",
  "  name: noop",
  "  trigger: manual",
  "  steps:",
  ...Array.from({ length: STEPS }, (_, index) => `    - { name: s${index}, type: set, value: ${index} }`),
].join("\n");
const loaded = loadWorkflowText("noop.yaml", yaml, registry);
if (loaded.issues.length > 0) throw new Error(`bench workflow is invalid: ${JSON.stringify(loaded.issues)}`);
const workflow = loaded.workflows[0];

function createEngine(store) {
  return new Engine({
    store,
    registry,
    services: {
      clock: systemClock,
      logger: createSilentLogger(),
      events: new EventBus(),
      deliveries: { enqueue: () => undefined },
      settings: { maxOutputBytes: 1 << 20, notificationPlatforms: {}, workspaceDir: process.cwd() },
    },
  });
}

/** Runs the workflow one run after another for `seconds`; every run must succeed. */
async function measure(label, store, seconds) {
  const engine = createEngine(store);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let runs = 0;
  do {
    const run = await engine.start(workflow);
    if (run.status !== "succeeded") throw new Error(`${label}: run ${run.id} ended ${run.status}: ${run.error}`);
    runs += 1;
  } while (performance.now() < deadline);
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const steps = runs * STEPS;
  const stepsPerSecond = steps / (elapsedMs / 1000);
  const result = {
    runs,
    steps,
    seconds: round(elapsedMs / 1000, 2),
    stepsPerSecond: Math.round(stepsPerSecond),
    runsPerSecond: round(runs / (elapsedMs / 1000)),
    microsecondsPerStep: round(1e6 / stepsPerSecond, 2),
    cpuUtilisation: round((cpu.user + cpu.system) / 1000 / elapsedMs, 2),
  };
  log(`${label}: ${result.stepsPerSecond} steps/s, ${result.microsecondsPerStep} µs/step (${runs} runs × ${STEPS} steps)`);
  return result;
}

function countJournal(path) {
  const database = new Database(path, { readonly: true });
  try {
    const runs = database.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'succeeded'").get().n;
    const steps = database.prepare("SELECT COUNT(*) AS n FROM steps WHERE status = 'succeeded'").get().n;
    return { runs, steps };
  } finally {
    database.close();
  }
}

async function measureSqlite(label, durability, dir) {
  const path = join(dir, `${durability}.db`);
  const store = new SqliteStore({ path, durability });
  try {
    const result = await measure(label, store, SECONDS);
    const journal = countJournal(path);
    if (journal.runs !== result.runs || journal.steps !== result.steps) {
      throw new Error(`${label}: journal holds ${journal.runs} runs / ${journal.steps} steps, expected ${result.runs} / ${result.steps}`);
    }
    return { ...result, journaled: journal };
  } finally {
    store.close();
  }
}

const temp = makeTempDir("localagent-bench-engine-");
try {
  log(`engine: ${STEPS} no-op set steps per run, ${SECONDS} s per store, warm-up ${WARMUP_SECONDS} s each`);
  await measure("warm-up memory", new MemoryStore(), WARMUP_SECONDS);
  const warm = new SqliteStore({ path: join(temp.dir, "warmup.db"), durability: "process" });
  await measure("warm-up sqlite", warm, WARMUP_SECONDS);
  warm.close();

  const memory = await measure("memory", new MemoryStore(), SECONDS);
  const sqliteProcess = await measureSqlite("sqlite durability=process", "process", temp.dir);
  const sqlitePower = await measureSqlite("sqlite durability=power", "power", temp.dir);

  const ratio = (baseline, durable) => round(baseline.stepsPerSecond / durable.stepsPerSecond, 2);
  printResult({
    benchmark: "engine",
    stepsPerRun: STEPS,
    secondsPerStore: SECONDS,
    memory,
    sqliteProcess,
    sqlitePower,
    ratios: { memoryOverProcess: ratio(memory, sqliteProcess), memoryOverPower: ratio(memory, sqlitePower) },
    journalCostMicrosecondsPerStep: {
      process: round(sqliteProcess.microsecondsPerStep - memory.microsecondsPerStep, 2),
      power: round(sqlitePower.microsecondsPerStep - memory.microsecondsPerStep, 2),
    },
    target: { durableStepsPerSecond: 10_000, met: sqliteProcess.stepsPerSecond >= 10_000 },
  });
} finally {
  temp.cleanup();
}
