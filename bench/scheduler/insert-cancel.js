// Part (a) of bench/scheduler: insert TIMERS timers with random fire times over an hour (1 to 61 min ahead),
// then cancel them all, three ways in the same process — the TimingWheel, a binary heap, and one
// Node setTimeout each. Each contender is one long-lived, started instance (one Node timer armed,
// as the daemon runs its wheel): a full-size warm-up round (JIT; the wheel grows from its default
// 1,024 entries), then ROUNDS rounds in which the contenders take turns; the median round counts.
// Memory is read after a full GC with every timer live (after the inserts, before the cancels).
import { systemClock } from "../../dist/clock/index.js";
import { TimingWheel } from "../../dist/scheduler/index.js";
import { exposeGc, log, median, round, sleep } from "../support/index.js";
import { HeapTimerQueue } from "./binary-heap.js";

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const MB = 1024 * 1024;
const gc = exposeGc();
/** Every contender gets the same callback: the data structures are measured, not closure allocation. */
const noop = () => {};

/**
 * Offsets of the fire times: integer ms spread over an hour that starts a minute ahead, so that no
 * timer comes due while a round runs (a fire would turn its cancel into a no-op). From a seeded
 * generator: every run sees the same spread.
 */
function randomOffsets(count) {
  const offsets = new Float64Array(count);
  let state = 0x2545f491;
  for (let index = 0; index < count; index += 1) {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    offsets[index] = MINUTE_MS + ((state >>> 0) % HOUR_MS);
  }
  return offsets;
}

/**
 * The contenders. Each has its own insert and cancel loops, so every call site sees one class (a
 * shared loop would be polymorphic and slow all three down). `start` creates the instance on first
 * use, so the warm-up round's memory figure includes the structure itself.
 */
function createContenders(handles) {
  let wheel;
  let heap;
  let timeoutsBefore = 0;
  return [
    {
      key: "wheel",
      label: "TimingWheel",
      start() {
        wheel ??= new TimingWheel({ clock: systemClock });
        wheel.start();
      },
      insert(times, count) {
        for (let index = 0; index < count; index += 1) handles.numbers[index] = wheel.schedule(times[index], noop);
      },
      live: () => wheel.size,
      /** Every 1,000th timer reports the time it was given. */
      verify(times, count) {
        let mismatches = 0;
        for (let index = 0; index < count; index += 1000) if (wheel.timeOf(handles.numbers[index]) !== times[index]) mismatches += 1;
        return { timeOfMismatches: mismatches };
      },
      cancel(count) {
        let cancelled = 0;
        for (let index = 0; index < count; index += 1) if (wheel.cancel(handles.numbers[index])) cancelled += 1;
        return cancelled;
      },
      stop() {
        wheel.stop();
        return { sizeAfterCancels: wheel.size, nextExpiryAfterCancels: wheel.nextExpiry() ?? null };
      },
    },
    {
      key: "heap",
      label: "binary heap",
      start() {
        heap ??= new HeapTimerQueue({ clock: systemClock });
        heap.start();
      },
      insert(times, count) {
        for (let index = 0; index < count; index += 1) handles.objects[index] = heap.schedule(times[index], noop);
      },
      live: () => heap.size,
      verify: () => ({ heapOrdered: heap.isValid() }),
      cancel(count) {
        let cancelled = 0;
        for (let index = 0; index < count; index += 1) if (heap.cancel(handles.objects[index])) cancelled += 1;
        handles.objects.fill(undefined);
        return cancelled;
      },
      stop() {
        heap.stop();
        return { sizeAfterCancels: heap.size };
      },
    },
    {
      key: "setTimeout",
      label: "setTimeout",
      start(verify) {
        if (verify) timeoutsBefore = activeTimeouts();
      },
      insert(times, count) {
        const now = Date.now();
        for (let index = 0; index < count; index += 1) handles.objects[index] = setTimeout(noop, times[index] - now);
      },
      // Counting Node's timers lists a million resources; only the warm-up round does it.
      live: (verify) => (verify ? activeTimeouts() - timeoutsBefore : undefined),
      verify: () => ({}),
      cancel(count) {
        for (let index = 0; index < count; index += 1) clearTimeout(handles.objects[index]);
        handles.objects.fill(undefined);
        return count;
      },
      stop: (verify) => (verify ? { liveAfterCancels: activeTimeouts() - timeoutsBefore } : {}),
    },
  ];
}

/** Live Node timers, from the process's active resources (one "Timeout" per pending setTimeout). */
function activeTimeouts() {
  return process.getActiveResourcesInfo().filter((name) => name === "Timeout").length;
}

const signed = (value) => (value >= 0 ? `+${value}` : `${value}`);

function timed(action) {
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const value = action();
  const ms = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, value };
}

function memorySnapshot() {
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, external: usage.external, rss: usage.rss };
}

function memoryDelta(before, after, count) {
  const heap = after.heap - before.heap;
  const external = after.external - before.external;
  return {
    heapMB: round(heap / MB, 1),
    externalMB: round(external / MB, 1),
    totalMB: round((heap + external) / MB, 1),
    rssMB: round((after.rss - before.rss) / MB, 1),
    bytesPerTimer: Math.round((heap + external) / count),
  };
}

/**
 * One round of one contender: GC, insert `count` timers, GC and read memory, cancel them all. In
 * the warm-up round (`verify`), whose memory figure counts, the reading waits until the buffers
 * the wheel outgrew are released: V8 frees array buffers after the GC, not in it.
 */
async function runRound(contender, times, count, verify) {
  gc();
  const before = memorySnapshot();
  contender.start(verify);
  const insert = timed(() => contender.insert(times, count));
  const live = contender.live(verify);
  gc();
  if (verify) {
    await sleep(300);
    gc();
  }
  const memory = memoryDelta(before, memorySnapshot(), count);
  const checks = { liveAfterInserts: live, ...(verify ? contender.verify(times, count) : {}) };
  const cancel = timed(() => contender.cancel(count));
  Object.assign(checks, { cancelled: cancel.value }, contender.stop(verify));
  const failed =
    (live !== undefined && live !== count) ||
    cancel.value !== count ||
    (checks.sizeAfterCancels ?? 0) !== 0 ||
    (checks.nextExpiryAfterCancels ?? null) !== null ||
    (checks.liveAfterCancels ?? 0) !== 0 ||
    checks.timeOfMismatches > 0 ||
    checks.heapOrdered === false;
  if (failed) throw new Error(`${contender.label}: check failed: ${JSON.stringify(checks)}`);
  return { insert, cancel, memory, checks };
}

function summarise(results, warmUp, count) {
  const per1M = 1_000_000 / count;
  const totals = results.map((result) => result.insert.ms + result.cancel.ms);
  const cpuTotals = results.map((result) => result.insert.cpuMs + result.cancel.cpuMs);
  const insertMs = median(results.map((result) => result.insert.ms));
  const cancelMs = median(results.map((result) => result.cancel.ms));
  const totalMs = median(totals);
  return {
    timers: count,
    msPer1M: round(totalMs * per1M, 1),
    insertMsPer1M: round(insertMs * per1M, 1),
    cancelMsPer1M: round(cancelMs * per1M, 1),
    nsPerInsert: round((insertMs * 1e6) / count, 1),
    nsPerCancel: round((cancelMs * 1e6) / count, 1),
    nsPerTimer: round((totalMs * 1e6) / count, 1),
    cpuMsPer1M: round(median(cpuTotals) * per1M, 1),
    roundsMsPer1M: totals.map((total) => round(total * per1M, 1)),
    warmUpMsPer1M: round((warmUp.insert.ms + warmUp.cancel.ms) * per1M, 1),
    // The warm-up round starts from no instance at all: what holding `count` live timers costs.
    memoryWhileLive: warmUp.memory,
    // Later rounds reuse the instance: what a round allocates on top of it (0 for the wheel).
    memoryPerRoundMB: median(results.map((result) => result.memory.totalMB)),
    checks: warmUp.checks,
  };
}

/**
 * Runs part (a): a warm-up round with the slower checks, then `rounds` rounds in which the
 * contenders take turns. `setTimeoutCount` may be below `count` (then its figures are scaled to 1M).
 */
export async function measureInsertCancel({ count, rounds, setTimeoutCount }) {
  const offsets = randomOffsets(count);
  const times = new Float64Array(count);
  const handles = { numbers: new Float64Array(count), objects: new Array(count).fill(undefined) };
  const contenders = createContenders(handles);
  const sizes = { wheel: count, heap: count, setTimeout: setTimeoutCount };
  const warmUps = {};
  const collected = Object.fromEntries(contenders.map((contender) => [contender.key, []]));
  for (let roundIndex = 0; roundIndex <= rounds; roundIndex += 1) {
    for (const contender of contenders) {
      const size = sizes[contender.key];
      // Fire times relative to now, set before each round (untimed).
      const now = Date.now();
      for (let index = 0; index < count; index += 1) times[index] = now + offsets[index];
      const result = await runRound(contender, times, size, roundIndex === 0);
      if (roundIndex === 0) warmUps[contender.key] = result;
      else collected[contender.key].push(result);
      log(
        `${roundIndex === 0 ? "warm-up" : `round ${roundIndex}`} ${contender.label}: ${size} timers, insert ${round(result.insert.ms)} ms + cancel ${round(result.cancel.ms)} ms (CPU ${round(result.insert.cpuMs + result.cancel.cpuMs)} ms); live: ${signed(result.memory.totalMB)} MB heap+external, RSS ${signed(result.memory.rssMB)} MB`,
      );
    }
  }
  gc();
  return Object.fromEntries(
    contenders.map((contender) => [contender.key, summarise(collected[contender.key], warmUps[contender.key], sizes[contender.key])]),
  );
}
