// bench/scheduler: what the timing wheel buys (issue 3).
// (a) insert + cancel of BENCH_TIMERS (1,000,000) timers with random fire times within the next hour:
//     the TimingWheel, a binary-heap timer queue (./binary-heap.js) and one Node setTimeout per timer,
//     median of BENCH_ROUNDS (5) rounds after a warm-up round; memory with all timers live.
// (b) BENCH_CRON_WORKFLOWS (10,000) cron workflows due in the same second on a WheelScheduler with the
//     real clock: lateness of each fire's hand-off to dispatch, BENCH_CRON_RUNS (3) bursts after
//     BENCH_CRON_WARMUP (2) JIT warm-up bursts, which are reported too.
import { loadAverage, log, printResult, round } from "../support/index.js";
import { measureCronBursts } from "./cron-burst.js";
import { measureInsertCancel } from "./insert-cancel.js";

function countFromEnv(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count <= 0) throw new Error(`${name}=${value}: expected a positive integer`);
  return count;
}

const TIMERS = countFromEnv("BENCH_TIMERS", 1_000_000);
const SET_TIMEOUT_TIMERS = countFromEnv("BENCH_SET_TIMEOUT_TIMERS", TIMERS);
const ROUNDS = countFromEnv("BENCH_ROUNDS", 5);
const CRON_WORKFLOWS = countFromEnv("BENCH_CRON_WORKFLOWS", 10_000);
const CRON_RUNS = countFromEnv("BENCH_CRON_RUNS", 3);
const CRON_WARMUP = process.env.BENCH_CRON_WARMUP === "0" ? 0 : countFromEnv("BENCH_CRON_WARMUP", 2);
const LEAD_MS = countFromEnv("BENCH_LEAD_MS", 3000);

const TARGETS = { heapOverWheel: 5, setTimeoutOverWheel: 20, cronP99LatenessMs: 10 };

const loadAtStart = loadAverage();
const startedAt = performance.now();
log(
  `scheduler: insert+cancel of ${TIMERS} timers (setTimeout: ${SET_TIMEOUT_TIMERS}), ${ROUNDS} rounds + warm-up; then ${CRON_WARMUP} + ${CRON_RUNS} bursts of ${CRON_WORKFLOWS} cron workflows; load average ${loadAtStart}`,
);

const insertCancel = await measureInsertCancel({ count: TIMERS, rounds: ROUNDS, setTimeoutCount: SET_TIMEOUT_TIMERS });
const { wheel, heap, setTimeout: nodeTimers } = insertCancel;
const ratios = {
  heapOverWheel: round(heap.msPer1M / wheel.msPer1M, 2),
  setTimeoutOverWheel: round(nodeTimers.msPer1M / wheel.msPer1M, 2),
};
log(`insert+cancel per 1M: wheel ${wheel.msPer1M} ms, heap ${heap.msPer1M} ms, setTimeout ${nodeTimers.msPer1M} ms`);

const { warmUp, runs } = await measureCronBursts({ count: CRON_WORKFLOWS, runs: CRON_RUNS, warmUpRuns: CRON_WARMUP, leadMs: LEAD_MS });

/** The worst of several bursts: fewest fires, highest lateness figures. */
function worstOf(bursts) {
  if (bursts.length === 0) return undefined;
  const highest = (field) => Math.max(...bursts.map((burst) => burst.latenessMs[field] ?? Infinity));
  return {
    fired: Math.min(...bursts.map((burst) => burst.fired)),
    latenessMs: { p50: highest("p50"), p99: highest("p99"), max: highest("max") },
  };
}
const worst = worstOf(runs);
const warmUpWorst = worstOf(warmUp);

const met = {
  heapOverWheel: ratios.heapOverWheel >= TARGETS.heapOverWheel,
  setTimeoutOverWheel: ratios.setTimeoutOverWheel >= TARGETS.setTimeoutOverWheel,
  cronP99LatenessMs: worst.latenessMs.p99 < TARGETS.cronP99LatenessMs && worst.fired === CRON_WORKFLOWS,
};
printResult({
  benchmark: "scheduler",
  insertCancel: { timers: TIMERS, rounds: ROUNDS, warmUpRounds: 1, ...insertCancel },
  ratios,
  cronBurst: { workflows: CRON_WORKFLOWS, warmUpRuns: warmUp, runs, worst, warmUpWorst },
  seconds: round((performance.now() - startedAt) / 1000, 1),
  loadAverage: { start: loadAtStart, end: loadAverage() },
  targets: {
    ...TARGETS,
    met: { ...met, all: Object.values(met).every(Boolean) },
    // Not a target: the same bound for the first bursts of a fresh process (V8 still optimising).
    warmUpBurstsUnderCronP99: warmUpWorst === undefined ? undefined : warmUpWorst.latenessMs.p99 < TARGETS.cronP99LatenessMs,
  },
});
