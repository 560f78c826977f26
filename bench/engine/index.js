// bench/engine: durable no-op steps per second. One workflow of STEPS `set` steps, run back to back
// by the Engine against SqliteStore on a temp file (durability process, then power), and against
// MemoryStore in the same process as the baseline that journals nothing. The stores take turns in
// short rounds so that other load on the machine hits all of them alike; the median round counts.
import { join } from "node:path";
import Database from "better-sqlite3";
import { systemClock } from "../../dist/clock/index.js";
import { Engine } from "../../dist/engine/index.js";
import { EventBus } from "../../dist/events/index.js";
import { createSilentLogger } from "../../dist/logger/index.js";
import { createDefaultRegistry } from "../../dist/steps/index.js";
import { MemoryStore, SqliteStore } from "../../dist/store/index.js";
import { loadWorkflowText } from "../../dist/workflow/index.js";
import { loadAverage, log, makeTempDir, median, printResult, round, secondsFromEnv } from "../support/index.js";

const STEPS = Number(process.env.BENCH_STEPS ?? 20);
const SECONDS = secondsFromEnv("BENCH_SECONDS", 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
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

/** Runs the workflow one run after another for `seconds` on one engine; every run must succeed. */
async function measureRound(label, engine, seconds) {
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
  return { runs, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Sums the rounds of one store; the median round is the headline, the best shows the quiet-machine ceiling. */
function summarise(rounds) {
  const perSecond = rounds.map((entry) => (entry.runs * STEPS) / (entry.elapsedMs / 1000));
  const runs = rounds.reduce((sum, entry) => sum + entry.runs, 0);
  const elapsedMs = rounds.reduce((sum, entry) => sum + entry.elapsedMs, 0);
  const cpuMs = rounds.reduce((sum, entry) => sum + entry.cpuMs, 0);
  const stepsPerSecond = median(perSecond);
  return {
    runs,
    steps: runs * STEPS,
    seconds: round(elapsedMs / 1000, 2),
    stepsPerSecond: Math.round(stepsPerSecond),
    bestRoundStepsPerSecond: Math.round(Math.max(...perSecond)),
    rounds: perSecond.map((value) => Math.round(value)),
    microsecondsPerStep: round(1e6 / stepsPerSecond, 2),
    cpuMicrosecondsPerStep: round((cpuMs * 1000) / (runs * STEPS), 2),
  };
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

const temp = makeTempDir("localagent-bench-engine-");
const loadAtStart = loadAverage();
try {
  const roundSeconds = SECONDS / ROUNDS;
  log(`engine: ${STEPS} no-op set steps per run; ${ROUNDS} interleaved rounds of ${roundSeconds} s per store; load average ${loadAtStart}`);
  const paths = { process: join(temp.dir, "process.db"), power: join(temp.dir, "power.db") };
  const contenders = [
    { key: "memory", label: "memory", store: new MemoryStore() },
    { key: "sqliteProcess", label: "sqlite durability=process", store: new SqliteStore({ path: paths.process, durability: "process" }) },
    { key: "sqlitePower", label: "sqlite durability=power", store: new SqliteStore({ path: paths.power, durability: "power" }) },
  ].map((contender) => ({ ...contender, engine: createEngine(contender.store), rounds: [] }));

  const warmStore = new SqliteStore({ path: join(temp.dir, "warmup.db"), durability: "process" });
  await measureRound("warm-up memory", createEngine(new MemoryStore()), WARMUP_SECONDS);
  await measureRound("warm-up sqlite", createEngine(warmStore), WARMUP_SECONDS);
  warmStore.close();

  for (let index = 0; index < ROUNDS; index += 1) {
    for (const contender of contenders) {
      const result = await measureRound(contender.label, contender.engine, roundSeconds);
      contender.rounds.push(result);
      const perSecond = Math.round((result.runs * STEPS) / (result.elapsedMs / 1000));
      log(`round ${index + 1} ${contender.label}: ${perSecond} steps/s (${result.runs} runs)`);
    }
  }

  const results = {};
  for (const contender of contenders) {
    results[contender.key] = summarise(contender.rounds);
    contender.store.close();
  }
  for (const [key, durability] of [
    ["sqliteProcess", "process"],
    ["sqlitePower", "power"],
  ]) {
    const journal = countJournal(paths[durability]);
    if (journal.runs !== results[key].runs || journal.steps !== results[key].steps) {
      throw new Error(
        `${key}: journal holds ${journal.runs} runs / ${journal.steps} steps, expected ${results[key].runs} / ${results[key].steps}`,
      );
    }
    results[key].journaled = journal;
  }
  const { memory, sqliteProcess, sqlitePower } = results;
  for (const [key, value] of Object.entries(results))
    log(`${key}: ${value.stepsPerSecond} steps/s median round, ${value.microsecondsPerStep} µs/step`);

  const ratio = (baseline, durable) => round(baseline.stepsPerSecond / durable.stepsPerSecond, 2);
  printResult({
    benchmark: "engine",
    stepsPerRun: STEPS,
    secondsPerStore: SECONDS,
    rounds: ROUNDS,
    memory,
    sqliteProcess,
    sqlitePower,
    ratios: { memoryOverProcess: ratio(memory, sqliteProcess), memoryOverPower: ratio(memory, sqlitePower) },
    journalCostMicrosecondsPerStep: {
      process: round(sqliteProcess.microsecondsPerStep - memory.microsecondsPerStep, 2),
      power: round(sqlitePower.microsecondsPerStep - memory.microsecondsPerStep, 2),
    },
    loadAverage: { start: loadAtStart, end: loadAverage() },
    target: { durableStepsPerSecond: 10_000, met: sqliteProcess.stepsPerSecond >= 10_000 },
  });
} finally {
  temp.cleanup();
}
