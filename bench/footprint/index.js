// bench/footprint: how fast the daemon is ready and how much memory it holds when idle, with the
// bundled examples. Ready time is spawn → first 2xx from /healthz (median of RUNS starts, each with a
// fresh data dir); the baseline is spawn → exit of a bare `node -e ''`. Idle RSS is VmRSS after
// BENCH_IDLE_SECONDS (default 30) with no requests, beside a bare idle node process for reference.
// A second daemon idles beside it after running one shell step (disk_report through the API), so
// the memory the command policy's parser leaves behind shows in the same window.
import { join } from "node:path";
import {
  freePort,
  loadAverage,
  log,
  makeTempDir,
  median,
  printResult,
  readRss,
  ROOT,
  round,
  secondsFromEnv,
  sleep,
  spawnDaemon,
  spawnNode,
  waitForOk,
} from "../support/index.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IDLE_SECONDS = secondsFromEnv("BENCH_IDLE_SECONDS", 30);
const EXAMPLES = join(ROOT, "examples");
const MB = 1024 * 1024;

async function bareNodeStart() {
  const process = spawnNode(["-e", ""]);
  const code = await process.exited;
  if (code !== 0) throw new Error(`node -e '' exited ${code}`);
  return performance.now() - process.startedAt;
}

async function startDaemon(dataDir) {
  const port = await freePort();
  const daemon = spawnDaemon({ configDir: EXAMPLES, dataDir, port });
  const readyMs = await waitForOk(`${daemon.url}/healthz`, { since: daemon.startedAt, process: daemon, intervalMs: 2 });
  return { daemon, readyMs };
}

const temp = makeTempDir("localagent-bench-footprint-");
const loadAtStart = loadAverage();
try {
  log(`footprint: ${RUNS} cold starts with --config examples, then ${IDLE_SECONDS} s idle`);
  await bareNodeStart(); // page cache warm-up, not counted
  const nodeStarts = [];
  for (let index = 0; index < RUNS; index += 1) nodeStarts.push(await bareNodeStart());
  log(`bare node -e '': ${nodeStarts.map((ms) => round(ms)).join(", ")} ms`);

  const readies = [];
  for (let index = 0; index < RUNS; index += 1) {
    const { daemon, readyMs } = await startDaemon(join(temp.dir, `data-${index}`));
    readies.push(readyMs);
    log(`daemon start ${index + 1}: ready in ${round(readyMs)} ms`);
    await daemon.stop();
  }

  const { daemon, readyMs } = await startDaemon(join(temp.dir, "data-idle"));
  const { daemon: shellDaemon } = await startDaemon(join(temp.dir, "data-shell"));
  const idleNode = spawnNode(["-e", "setInterval(() => {}, 1000)"]);
  let idle;
  let idleAfterShellStep;
  try {
    const started = performance.now();
    const run = await (await fetch(`${shellDaemon.url}/api/workflows/disk_report/run?wait=1`, { method: "POST" })).json();
    const shellStepMs = performance.now() - started;
    if (run.status !== "succeeded") throw new Error(`disk_report run: ${JSON.stringify(run).slice(0, 300)}`);
    const afterShell = readRss(shellDaemon.child.pid);
    log(`second daemon ran disk_report (one shell step) in ${round(shellStepMs)} ms, RSS ${round(afterShell.rss / MB)} MB`);
    const atReady = readRss(daemon.child.pid);
    log(`idle daemon pid ${daemon.child.pid}: ready in ${round(readyMs)} ms, RSS ${round(atReady.rss / MB)} MB; waiting ${IDLE_SECONDS} s`);
    await sleep(IDLE_SECONDS * 1000);
    const afterIdle = readRss(daemon.child.pid);
    const shellAfterIdle = readRss(shellDaemon.child.pid);
    idleAfterShellStep = {
      runMs: round(shellStepMs),
      rssAfterRunMB: round(afterShell.rss / MB),
      rssMB: round(shellAfterIdle.rss / MB),
      peakRssMB: round(shellAfterIdle.peak / MB),
    };
    log(`after ${IDLE_SECONDS} s idle after one shell step: RSS ${idleAfterShellStep.rssMB} MB (peak ${idleAfterShellStep.peakRssMB} MB)`);
    const bare = readRss(idleNode.child.pid);
    const health = await (await fetch(`${daemon.url}/healthz`)).json();
    idle = {
      seconds: IDLE_SECONDS,
      rssAtReadyMB: round(atReady.rss / MB),
      rssMB: round(afterIdle.rss / MB),
      peakRssMB: round(afterIdle.peak / MB),
      bareNodeRssMB: round(bare.rss / MB),
      workflows: health.workflows,
      problems: health.problems,
    };
    log(`after ${IDLE_SECONDS} s idle: RSS ${idle.rssMB} MB (peak ${idle.peakRssMB} MB); bare idle node ${idle.bareNodeRssMB} MB`);
  } finally {
    await idleNode.stop();
    await daemon.stop();
    await shellDaemon.stop();
  }

  const readyMedian = median(readies);
  printResult({
    benchmark: "footprint",
    starts: RUNS,
    readyMs: { median: round(readyMedian), all: readies.map((ms) => round(ms)) },
    bareNodeStartMs: { median: round(median(nodeStarts)), all: nodeStarts.map((ms) => round(ms)) },
    readyOverBareNode: round(readyMedian / median(nodeStarts), 2),
    idle,
    idleAfterShellStep,
    loadAverage: { start: loadAtStart, end: loadAverage() },
    targets: {
      readyUnderMs: 1000,
      readyMet: readyMedian < 1000,
      idleRssUnderMB: 80,
      idleRssMet: idle.rssMB < 80,
      idleRssAfterShellStepMet: idleAfterShellStep.rssMB < 80,
    },
  });
} finally {
  temp.cleanup();
}
