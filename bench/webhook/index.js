// bench/webhook: requests per second through the daemon's HTTP API for a two-step workflow
// (`POST /api/workflows/bench/run?wait=1`), driven by autocannon from a second process, at 10 and
// 50 connections; then the same load against a bare node:http + better-sqlite3 server that journals
// the same six rows per request. Checks afterwards that every answered run is in the daemon's SQLite.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import {
  calibrateCpu,
  freePort,
  loadAverage,
  log,
  makeTempDir,
  printResult,
  readCpuSeconds,
  round,
  runLoad,
  secondsFromEnv,
  sleep,
  spawnDaemon,
  spawnNode,
  waitForOk,
} from "../support/index.js";

const DURATION = secondsFromEnv("BENCH_DURATION", 20);
const WARMUP = Math.max(1, Math.min(3, Math.round(DURATION / 4)));
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "10,50").split(",").map(Number);
const BODY = JSON.stringify({ name: "Ada" });
const TARGET = 3000;

const CONFIG = `server:
  host: 127.0.0.1
log_level: warn
durability: process
`;
const WORKFLOW = `workflow:
  name: bench
  trigger: manual
  inputs:
    name: { type: string, default: world }
  steps:
    - name: greet
      type: set
      values:
        greeting: "Hello, {{ inputs.name }}!"
    - name: shape
      type: set
      values:
        greeting: "{{ steps.greet.output.greeting }}"
        length: "{{ steps.greet.output.greeting | length }}"
`;

/** Warm-up, then one autocannon run per connection count, with the server's CPU use alongside. */
async function drive(label, url, pid) {
  const target = {
    url: `${url}/api/workflows/bench/run?wait=1`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
  };
  log(`${label}: warm-up ${WARMUP} s`);
  const warmup = await runLoad({ ...target, connections: 10, duration: WARMUP });
  const loads = [];
  for (const connections of CONNECTIONS) {
    log(`${label}: ${connections} connections for ${DURATION} s`);
    const cpuBefore = readCpuSeconds(pid);
    const started = performance.now();
    const result = await runLoad({ ...target, connections, duration: DURATION });
    const serverCpuSeconds = readCpuSeconds(pid) - cpuBefore;
    const serverCpu = serverCpuSeconds / ((performance.now() - started) / 1000);
    // CPU per request barely moves when other work shares the machine; req/s does.
    const cpuMicroseconds = (serverCpuSeconds * 1e6) / Math.max(1, result.requests);
    const summary = {
      connections,
      requestsPerSecond: Math.round(result.requestsPerSecond),
      latencyMs: { p50: result.latencyMs.p50, p99: result.latencyMs.p99, max: result.latencyMs.max },
      requests: result.requests,
      ok2xx: result.ok2xx,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      serverCpuCores: round(serverCpu, 2),
      serverCpuMicrosecondsPerRequest: Math.round(cpuMicroseconds),
      requestsPerServerCpuSecond: Math.round(1e6 / cpuMicroseconds),
      loadGeneratorCpuCores: round(result.loadGeneratorCpuCores, 2),
    };
    log(
      `${label} c=${connections}: ${summary.requestsPerSecond} req/s, p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms, ` +
        `non-2xx ${summary.non2xx}, errors ${summary.errors}, server CPU ${summary.serverCpuCores} cores (${summary.serverCpuMicrosecondsPerRequest} µs/request), autocannon CPU ${summary.loadGeneratorCpuCores} cores`,
    );
    loads.push(summary);
  }
  const answered = warmup.ok2xx + loads.reduce((sum, load) => sum + load.ok2xx, 0);
  return { loads, answered };
}

/** Runs and steps of the bench workflow, read in one transaction so both counts see the same snapshot. */
function countRuns(path) {
  const database = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return database.transaction(() => {
      const byStatus = {};
      for (const row of database.prepare("SELECT status, COUNT(*) AS n FROM runs WHERE workflow = 'bench' GROUP BY status").all()) {
        byStatus[row.status] = row.n;
      }
      const steps = database.prepare("SELECT COUNT(*) AS n FROM steps WHERE status = 'succeeded'").get().n;
      return { runs: byStatus, succeededSteps: steps };
    })();
  } finally {
    database.close();
  }
}

/**
 * Counts once the server has drained: requests already in its socket buffers when autocannon stops
 * still run, so wait until nothing is queued or running and two reads agree.
 */
async function settledCounts(path) {
  let previous = "";
  for (let tries = 0; tries < 50; tries += 1) {
    const counts = countRuns(path);
    const key = JSON.stringify(counts);
    if (key === previous && !counts.runs.queued && !counts.runs.running) return counts;
    previous = key;
    await sleep(200);
  }
  throw new Error(`${path}: the journal did not settle: ${previous}`);
}

/** autocannon stops counting at its deadline while the last requests still finish: allow one per connection. */
function journalCheck(journal, answered) {
  const succeeded = journal.runs.succeeded ?? 0;
  const slack = Math.max(...CONNECTIONS) * (CONNECTIONS.length + 1);
  return {
    answered2xx: answered,
    journaledSucceeded: succeeded,
    journaledSteps: journal.succeededSteps,
    byStatus: journal.runs,
    ok: succeeded >= answered && succeeded - answered <= slack && journal.succeededSteps === succeeded * 2,
  };
}

async function benchDaemon(temp) {
  const configDir = join(temp, "config");
  const dataDir = join(temp, "data");
  mkdirSync(join(configDir, "workflows"), { recursive: true });
  writeFileSync(join(configDir, "config.yaml"), CONFIG);
  writeFileSync(join(configDir, "workflows", "bench.yaml"), WORKFLOW);
  const port = await freePort();
  // BENCH_CPU_PROF=DIR: the daemon writes a V8 CPU profile there when it stops (see bench/support/profile-top.js).
  const profileDir = process.env.BENCH_CPU_PROF;
  const daemon = spawnDaemon({ configDir, dataDir, port, nodeArgs: profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [] });
  try {
    await waitForOk(`${daemon.url}/healthz`, { process: daemon });
    const probe = await fetch(`${daemon.url}/api/workflows/bench/run?wait=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BODY,
    });
    const sample = await probe.json();
    if (!probe.ok || sample.status !== "succeeded") throw new Error(`daemon: a single run did not succeed: ${JSON.stringify(sample)}`);
    log(`daemon: pid ${daemon.child.pid}, sample outputs ${JSON.stringify(sample.outputs)}`);
    const { loads, answered } = await drive("daemon", daemon.url, daemon.child.pid);
    const journal = journalCheck(await settledCounts(join(dataDir, "localagent.db")), answered + 1);
    const latest = (await (await fetch(`${daemon.url}/api/runs?limit=1`)).json()).runs[0];
    log(`daemon: journal ${JSON.stringify(journal)}; latest run ${latest?.id} ${latest?.status}`);
    return { loads, journal: { ...journal, latestRun: { workflow: latest?.workflow, status: latest?.status } } };
  } finally {
    const code = await daemon.stop();
    if (code !== 0) log(`daemon exited with ${code}:\n${daemon.output().slice(-2000)}`);
  }
}

async function benchBaseline(temp) {
  const path = join(temp, "baseline.db");
  const port = await freePort();
  const server = spawnNode([join(import.meta.dirname, "baseline-server.js"), String(port), path]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForOk(`${url}/healthz`, { process: server });
    const { loads, answered } = await drive("baseline", url, server.child.pid);
    const journal = journalCheck(await settledCounts(path), answered);
    log(`baseline: journal ${JSON.stringify(journal)}`);
    return { loads, journal };
  } finally {
    await server.stop();
  }
}

const temp = makeTempDir("localagent-bench-webhook-");
const loadAtStart = loadAverage();
try {
  log(`webhook: ${CONNECTIONS.join(", ")} connections × ${DURATION} s, warm-up ${WARMUP} s, body ${BODY}`);
  const busyLoopCpuCores = await calibrateCpu();
  log(`a busy loop reads as ${busyLoopCpuCores} cores here (serverCpuCores are on the same scale)`);
  const daemon = await benchDaemon(temp.dir);
  const baseline = await benchBaseline(temp.dir);
  const ratios = {};
  for (const load of daemon.loads) {
    const base = baseline.loads.find((candidate) => candidate.connections === load.connections);
    ratios[`c${load.connections}`] = base ? round(load.requestsPerSecond / base.requestsPerSecond, 3) : null;
  }
  const best = Math.max(...daemon.loads.map((load) => load.requestsPerSecond));
  printResult({
    benchmark: "webhook",
    durationSeconds: DURATION,
    daemon,
    baseline,
    ratiosDaemonOverBaseline: ratios,
    busyLoopCpuCores,
    // The engine copies process.env into every run's template scope, so its size shows in µs/request.
    environmentVariables: Object.keys(process.env).length,
    loadAverage: { start: loadAtStart, end: loadAverage() },
    target: { requestsPerSecond: TARGET, best, met: best >= TARGET },
  });
} finally {
  temp.cleanup();
}
