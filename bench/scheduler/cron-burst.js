// Part (b) of bench/scheduler: WORKFLOWS cron workflows all due in the same second. One WheelScheduler
// on the real systemClock, started once like the daemon's; each burst hands it a fresh set of
// workflows through setWorkflows (the daemon's reload path). A fire's lateness is
// `Date.now() - fire.scheduledAt` inside onFire, the moment the fire is handed to dispatch.
import { setImmediate } from "node:timers";
import { systemClock } from "../../dist/clock/index.js";
import { WheelScheduler } from "../../dist/scheduler/index.js";
import { exposeGc, log, round, sleep } from "../support/index.js";

const gc = exposeGc();

/** The smallest valid WorkflowDefinitions: one cron trigger (no `timezone:`, so croner uses local time), no steps. */
function cronWorkflows(count, expression) {
  return Array.from({ length: count }, (_, index) => ({
    name: `cron-${index}`,
    file: `cron-${index}.yaml`,
    triggers: [{ kind: "cron", expression }],
    inputs: {},
    env: {},
    steps: [],
    priority: 0,
    misfire: "once",
    enabled: true,
  }));
}

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

/**
 * Records the fires of one burst at a time. One recorder and one `record` function serve every
 * burst: a new closure per burst would let V8 throw away the optimised fire path (its inlined
 * callee dies with the old burst) and measure the JIT instead of the scheduler.
 */
function createRecorder(count) {
  const lateness = new Float64Array(count);
  // Every field from the start, so the object keeps one shape (and `record` its optimised code).
  const recorder = {
    dueAt: 0,
    fired: 0,
    wrongTime: 0,
    firstFireAt: 0,
    lastFireAt: 0,
    firstFireCpu: null,
    batchCpu: null,
    lateness,
    finished: null,
    finish: null,
  };
  recorder.reset = (dueAt) => {
    Object.assign(recorder, { dueAt, fired: 0, wrongTime: 0, firstFireAt: 0, lastFireAt: 0, firstFireCpu: null, batchCpu: null });
    lateness.fill(0);
    recorder.finished = new Promise((resolve) => (recorder.finish = resolve));
  };
  recorder.record = (fire) => {
    const late = Date.now() - fire.scheduledAt;
    if (recorder.fired < count) lateness[recorder.fired] = late;
    if (fire.scheduledAt !== recorder.dueAt) recorder.wrongTime += 1;
    recorder.fired += 1;
    if (recorder.fired === 1) {
      recorder.firstFireAt = performance.now();
      recorder.firstFireCpu = process.cpuUsage();
    }
    if (recorder.fired === count) {
      recorder.lastFireAt = performance.now();
      recorder.batchCpu = process.cpuUsage(recorder.firstFireCpu);
      // When the event loop takes its next turn, i.e. how long I/O waits behind the burst.
      setImmediate(() => recorder.finish(performance.now()));
    }
  };
  return recorder;
}

/**
 * One burst: `count` workflows whose 6-field cron expression names the same whole second, `leadMs`
 * or a little more from now, in the process's time zone (UTC on the benchmark machine). Resolves
 * when all fired or 5 s after that second; undefined when the set-up ended too close to it.
 */
async function burstOnce(scheduler, recorder, count, leadMs) {
  gc();
  const dueAt = Math.ceil((Date.now() + leadMs) / 1000) * 1000;
  const due = new Date(dueAt);
  const expression = `${due.getSeconds()} ${due.getMinutes()} ${due.getHours()} * * *`;
  const workflows = cronWorkflows(count, expression);
  recorder.reset(dueAt);

  const setStartedAt = performance.now();
  scheduler.setWorkflows(workflows);
  const setWorkflowsMs = performance.now() - setStartedAt;
  const nextFireAt = scheduler.nextFireAt("cron-0");
  if (Date.now() >= dueAt - 700 || nextFireAt !== dueAt) {
    scheduler.setWorkflows([]);
    return undefined;
  }
  // In a daemon the set-up's garbage is long collected when a schedule fires; here the fire comes
  // seconds later, so collect it half a second before rather than let a GC land on the burst.
  await sleep(dueAt - 500 - Date.now());
  gc();
  const timeout = setTimeout(() => recorder.finish(undefined), dueAt - Date.now() + 5000);
  const idleAt = await recorder.finished;
  clearTimeout(timeout);

  const { fired, lateness, batchCpu } = recorder;
  const sorted = [...lateness.subarray(0, Math.min(fired, count))].sort((a, b) => a - b);
  const result = {
    dueAt: due.toISOString(),
    expression,
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    fired,
    wrongScheduledAt: recorder.wrongTime,
    latenessMs: {
      first: sorted[0],
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted[sorted.length - 1],
    },
    batchMs: round(recorder.lastFireAt - recorder.firstFireAt, 2),
    // CPU time of the whole process (GC and compiler threads included) during the batch: far below
    // batchMs means the process was waiting for a CPU, not working.
    batchCpuMs: batchCpu === null ? undefined : round((batchCpu.user + batchCpu.system) / 1000, 1),
    nextTurnAfterBatchMs: idleAt === undefined ? undefined : round(idleAt - recorder.lastFireAt, 1),
    setWorkflowsMs: round(setWorkflowsMs, 1),
  };
  log(
    `cron burst: ${fired}/${count} fired for ${result.dueAt}; lateness first ${result.latenessMs.first} ms, p50 ${result.latenessMs.p50} ms, p99 ${result.latenessMs.p99} ms, max ${result.latenessMs.max} ms; batch ${result.batchMs} ms (CPU ${result.batchCpuMs} ms); setWorkflows ${result.setWorkflowsMs} ms`,
  );
  return result;
}

/**
 * `warmUpRuns` then `runs` bursts of `count` workflows on one scheduler, started once. The first
 * bursts of a fresh process run the fire path while V8 is still optimising it (on the other core):
 * they are reported apart, as a daemon's first burst. A set-up that ends too close to the due
 * second (a busy machine) is retried with twice the lead.
 */
export async function measureCronBursts({ count, runs, warmUpRuns, leadMs }) {
  const scheduler = new WheelScheduler({ clock: systemClock });
  const recorder = createRecorder(count);
  scheduler.start(recorder.record);
  const results = [];
  try {
    for (let run = 0; run < warmUpRuns + runs; run += 1) {
      if (run === warmUpRuns && warmUpRuns > 0) log("cron burst: the JIT warm-up bursts are done; measured bursts follow");
      for (let attempt = 1, lead = leadMs; ; attempt += 1, lead *= 2) {
        const result = await burstOnce(scheduler, recorder, count, lead);
        if (result !== undefined) {
          results.push(result);
          break;
        }
        if (attempt === 3) throw new Error(`cron burst: set-up of ${count} workflows overran a lead of ${lead} ms three times`);
        log(`cron burst: set-up overran the ${lead} ms lead; again with ${lead * 2} ms`);
      }
    }
  } finally {
    scheduler.stop();
  }
  return { warmUp: results.slice(0, warmUpRuns), runs: results.slice(warmUpRuns) };
}
