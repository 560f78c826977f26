/* global AbortController */
// bench/sandbox: what the sandbox adds to a shell step. The same `true` step runs through the
// sandbox middleware and the shell runner with `sandbox: off` (baseline) and sandboxed
// (bubblewrap + seccomp + prlimit + per-step cgroup), interleaved, in this process.
import { join } from "node:path";
import { systemClock } from "../../dist/clock/index.js";
import { composeMiddleware } from "../../dist/engine/index.js";
import { EventBus } from "../../dist/events/index.js";
import { createSilentLogger } from "../../dist/logger/index.js";
import { createSandboxMiddleware, inspectIsolation } from "../../dist/sandbox/index.js";
import { shellCommandOf, shellStep } from "../../dist/steps/shell/index.js";
import { loadAverage, log, makeTempDir, printResult, round } from "../support/index.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const temp = makeTempDir("localagent-bench-sandbox-");
const isolation = inspectIsolation();
if (!isolation.bwrap.usable) {
  log(`sandbox: bubblewrap unusable here: ${isolation.bwrap.reason}`);
  printResult({ benchmark: "sandbox", skipped: isolation.bwrap.reason });
  process.exit(0);
}
const chain = composeMiddleware([createSandboxMiddleware({ dataDir: join(temp.dir, "data"), commandOf: shellCommandOf })], (context) =>
  shellStep.run(context),
);
const logger = createSilentLogger();
const services = {
  clock: systemClock,
  logger,
  events: new EventBus(),
  deliveries: { enqueue: () => undefined },
  settings: { maxOutputBytes: 1 << 20, notificationPlatforms: {}, workspaceDir: temp.dir },
};
let counter = 0;
async function step(sandbox) {
  counter += 1;
  const stepDefinition = { name: "sh", type: "shell", onFailure: { kind: "stop" }, env: {}, needs: [], cacheMode: "delta", config: {} };
  const context = {
    runId: `run_${counter}`,
    workflow: {
      name: "bench",
      file: "bench.yaml",
      triggers: [],
      inputs: {},
      env: {},
      steps: [stepDefinition],
      priority: 0,
      misfire: "once",
      enabled: true,
    },
    step: stepDefinition,
    path: "sh",
    stepKey: `run_${counter}:sh`,
    attempt: 1,
    interrupted: false,
    config: { command: "true", sandbox },
    env: {},
    scope: {},
    signal: new AbortController().signal,
    abort: () => {},
    services,
    runSubSteps: async () => null,
    progress: () => {},
  };
  const before = performance.now();
  await chain(context);
  return performance.now() - before;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const p90 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)];
const loadAtStart = loadAverage();
await step("off");
await step("required");
const direct = [];
const sandboxed = [];
for (let round_ = 0; round_ < ROUNDS; round_++) {
  direct.push(await step("off"));
  sandboxed.push(await step("required"));
}
temp.cleanup();
log(`sandbox: ${ROUNDS} steps each; direct p50 ${round(median(direct))} ms, sandboxed p50 ${round(median(sandboxed))} ms`);
printResult({
  benchmark: "sandbox",
  rounds: ROUNDS,
  directMsP50: round(median(direct)),
  directMsP90: round(p90(direct)),
  sandboxedMsP50: round(median(sandboxed)),
  sandboxedMsP90: round(p90(sandboxed)),
  overheadMsP50: round(median(sandboxed) - median(direct)),
  ratioP50: round(median(sandboxed) / median(direct)),
  loadAverage: { start: loadAtStart, end: loadAverage() },
});
