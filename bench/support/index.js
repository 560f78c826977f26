// Shared helpers for the benchmarks: child processes, ports, timing, output.
// Every benchmark prints progress to stderr and one JSON object as the last line of stdout.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Repository root and the CLI launcher. */
export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const CLI = join(ROOT, "bin", "localagent.js");

/** Progress goes to stderr so stdout stays machine-readable. */
export function log(text) {
  process.stderr.write(`${text}\n`);
}

/** The benchmark's result: one JSON object, the last line of stdout. */
export function printResult(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** A number of seconds from the environment, or the default. */
export function secondsFromEnv(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`${name}=${value}: expected a positive number of seconds`);
  return seconds;
}

const tempDirs = new Set();

/** A fresh temp folder; removed by `cleanup()`, or at exit if the benchmark was interrupted. */
export function makeTempDir(prefix) {
  installExitHandlers();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function round(value, digits = 1) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Resident set size of a process in bytes, from /proc (Linux only). */
export function readRss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

const children = new Set();

let exitHandlersInstalled = false;

/**
 * Children and temp folders go with the benchmark: an interrupted run must not leave a daemon
 * holding a port or a database in /tmp.
 */
function installExitHandlers() {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.on("exit", () => {
    for (const running of children) running.kill("SIGKILL");
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      for (const running of children) running.kill("SIGTERM");
      process.exit(130);
    });
  }
}

function trackChild(child) {
  installExitHandlers();
  children.add(child);
  child.once("exit", () => children.delete(child));
}

/**
 * Spawns a node script (or the CLI) as a child process. `output()` holds what it wrote, `exited`
 * resolves with its exit code, `stop()` sends SIGTERM (SIGKILL after `graceMs`) and waits.
 */
export function spawnNode(args, options = {}) {
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  trackChild(child);
  let output = "";
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  return {
    child,
    startedAt,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Starts `localagent start` in a child process (not waiting for it to be ready); `nodeArgs` go to node (e.g. --cpu-prof). */
export function spawnDaemon({ configDir, dataDir, port, env = {}, nodeArgs = [] }) {
  const daemon = spawnNode([...nodeArgs, CLI, "start", "--config", configDir, "--data-dir", dataDir, "--port", String(port)], { env });
  return { ...daemon, url: `http://127.0.0.1:${port}` };
}

/** Polls `url` until it answers 2xx; resolves with the milliseconds since `since`. */
export async function waitForOk(url, { since = performance.now(), timeoutMs = 20_000, intervalMs = 5, process: watched } = {}) {
  const deadline = since + timeoutMs;
  for (;;) {
    if (watched && (watched.child.exitCode !== null || watched.child.signalCode !== null)) {
      throw new Error(`process exited before ${url} answered:\n${watched.output().slice(-4000)}`);
    }
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/**
 * Runs autocannon in a separate process (bench/support/load.js) so the load generator never shares
 * a CPU-bound event loop with the server it measures. Resolves with its summary.
 */
export async function runLoad(options) {
  const load = spawnNode([join(ROOT, "bench", "support", "load.js"), JSON.stringify(options)]);
  const code = await load.exited;
  const lines = load.output().trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  if (code !== 0 || !last.startsWith("{")) throw new Error(`load generator failed (exit ${code}):\n${load.output().slice(-4000)}`);
  return JSON.parse(last);
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (Linux, 100 Hz ticks). */
export function readCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command name: state is field 3, utime field 14, stime field 15 (1-based, man 5 proc).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * What readCpuSeconds reports for one second of a pure busy loop in a child process. On a VM whose
 * vCPUs are shared, this is below 1; divide a server's CPU figure by it to see how saturated it was.
 */
export async function calibrateCpu(seconds = 1) {
  const child = spawnNode(["-e", `const end = Date.now() + ${seconds * 1000}; while (Date.now() < end);`]);
  await sleep(50);
  const before = readCpuSeconds(child.child.pid);
  const started = performance.now();
  await sleep(seconds * 1000 - 150);
  const used = readCpuSeconds(child.child.pid) - before;
  const wall = (performance.now() - started) / 1000;
  await child.exited;
  return round(used / wall, 2);
}

/** The 1-minute load average: other work on the machine skews every figure, so results record it. */
export function loadAverage() {
  return round(loadavg()[0], 2);
}

/**
 * A full garbage collection on demand, as `node --expose-gc` gives, for memory figures that hold
 * live data only. bench/run.js passes no node flags, so the flag is set at run time instead.
 */
export function exposeGc() {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc");
}
