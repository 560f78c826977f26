// bench/policy: commands checked per second by the command policy (tree-sitter parse, walk,
// built-in rules), over the whole corpus in src/policy/corpus (dangerous and ordinary alike).
// Each command is timed on its own for p50/p99; the corpus is cycled for BENCH_SECONDS.
// Then the daemon's path: the policy in a child process (ended when idle, see policy-checker.ts):
// its cold start (spawn + grammar load + first check, BENCH_COLD_STARTS times) and sequential
// checks per second through IPC, one at a time as shell steps ask.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createCommandPolicy, createWorkerPolicyChecker } from "../../dist/policy/index.js";
import { loadAverage, log, printResult, ROOT, round, secondsFromEnv } from "../support/index.js";

const SECONDS = secondsFromEnv("BENCH_SECONDS", 5);
const WARMUP_SECONDS = Math.min(1, SECONDS / 5);
const TARGET = 5000;

const corpusDir = join(ROOT, "src", "policy", "corpus");
const commands = readdirSync(corpusDir)
  .filter((name) => name.endsWith(".txt"))
  .flatMap((name) => readFileSync(join(corpusDir, name), "utf8").split("\n"))
  .map((line) => /^(?:allow|ask|deny) (.+)$/.exec(line)?.[1])
  .filter((command) => command !== undefined)
  .map((command) => command.replaceAll("⏎", "\n"));

const loadAtStart = loadAverage();
const policy = await createCommandPolicy();

function measure(seconds) {
  const samples = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let index = 0;
  const decisions = { allow: 0, ask: 0, deny: 0 };
  do {
    const command = commands[index % commands.length];
    const before = performance.now();
    const { decision } = policy.check(command);
    samples.push(performance.now() - before);
    decisions[decision] += 1;
    index += 1;
  } while (performance.now() < deadline);
  return { checked: index, elapsedMs: performance.now() - started, samples, decisions };
}

log(`policy: ${commands.length} corpus commands, warm-up ${WARMUP_SECONDS}s, measuring ${SECONDS}s`);
measure(WARMUP_SECONDS);
const result = measure(SECONDS);
const sorted = result.samples.sort((a, b) => a - b);
const percentile = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 1000;
const commandsPerSecond = Math.round(result.checked / (result.elapsedMs / 1000));
log(`policy: ${commandsPerSecond} commands/s, p50 ${round(percentile(50))} µs, p99 ${round(percentile(99))} µs`);

const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 3);
const coldStarts = [];
for (let index = 0; index < COLD_STARTS; index += 1) {
  const checker = createWorkerPolicyChecker();
  const before = performance.now();
  await checker.check("ls -la");
  coldStarts.push(performance.now() - before);
  await checker.close();
}
const child = createWorkerPolicyChecker();
await child.check("true");
const childSeconds = Math.max(1, SECONDS / 2);
const childStarted = performance.now();
let childChecked = 0;
while (performance.now() - childStarted < childSeconds * 1000) {
  await child.check(commands[childChecked % commands.length]);
  childChecked += 1;
}
const childPerSecond = Math.round(childChecked / ((performance.now() - childStarted) / 1000));
await child.close();
coldStarts.sort((a, b) => a - b);
const coldMedian = coldStarts[Math.floor(coldStarts.length / 2)];
log(`policy in a child process: cold start ${round(coldMedian)} ms (median of ${COLD_STARTS}), ${childPerSecond} sequential checks/s`);
printResult({
  benchmark: "policy",
  corpusSize: commands.length,
  seconds: SECONDS,
  checked: result.checked,
  decisions: result.decisions,
  commandsPerSecond,
  p50Microseconds: round(percentile(50)),
  p99Microseconds: round(percentile(99)),
  childProcess: {
    coldStartMs: { median: round(coldMedian), all: coldStarts.map((ms) => round(ms)) },
    sequentialChecksPerSecond: childPerSecond,
    overInProcess: round(childPerSecond / commandsPerSecond, 2),
  },
  loadAverage: { start: loadAtStart, end: loadAverage() },
  target: { commandsPerSecond: TARGET, met: commandsPerSecond >= TARGET, childProcessMet: childPerSecond >= TARGET },
});
