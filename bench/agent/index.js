// bench/agent: what the agent loop adds per tool call (argument validation with ajv, the hook,
// result capping, events, the audit entry) over a bare loop that calls the same in-process model
// and the same tool. The model answers instantly, so the figures are the loop's own overhead:
// a real model call (tens of ms to seconds) dwarfs it. Baseline and loop run in this process.
import { join } from "node:path";
import { runAgentLoop } from "../../dist/agent/index.js";
import { AuditLog } from "../../dist/audit/index.js";
import { systemClock } from "../../dist/clock/index.js";
import { EventBus } from "../../dist/events/index.js";
import { loadAverage, log, makeTempDir, printResult, round, secondsFromEnv } from "../support/index.js";

const SECONDS = secondsFromEnv("BENCH_SECONDS", 2);
const TURNS = 20;

/** A model that asks for `add` TURNS times, then answers. */
function instantModel() {
  let calls = 0;
  return {
    specificationVersion: 1,
    name: "instant",
    provider: "bench",
    async generate() {
      calls += 1;
      const usage = { inputTokens: 10, outputTokens: 5 };
      if (calls % (TURNS + 1) === 0) return { text: "done", toolCalls: [], finishReason: "stop", usage, model: "instant" };
      return {
        text: "",
        toolCalls: [{ id: `c${calls}`, name: "add", arguments: { a: calls, b: 1 } }],
        finishReason: "tool_calls",
        usage,
        model: "instant",
      };
    },
    async *stream() {},
  };
}

const add = {
  definition: {
    name: "add",
    description: "add",
    parameters: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
      additionalProperties: false,
    },
  },
  execute: async (args) => args.a + args.b,
};

/** The least a loop must do: call the model, run the tool, append the messages. */
async function bareLoop(model) {
  const messages = [{ role: "user", content: "go" }];
  for (;;) {
    const answer = await model.generate({ messages, tools: [add.definition] });
    messages.push({ role: "assistant", content: answer.text, toolCalls: answer.toolCalls });
    if (answer.toolCalls.length === 0) return;
    for (const call of answer.toolCalls)
      messages.push({ role: "tool", content: String(await add.execute(call.arguments)), toolCallId: call.id });
  }
}

async function measure(seconds, once) {
  const deadline = performance.now() + seconds * 1000;
  let loops = 0;
  const started = performance.now();
  do {
    await once();
    loops += 1;
  } while (performance.now() < deadline);
  return ((performance.now() - started) * 1000) / (loops * TURNS);
}

const temp = makeTempDir("localagent-bench-agent-");
const audit = new AuditLog({ file: join(temp.dir, "audit.log"), clock: systemClock, durability: "process", secrets: [] });
const events = new EventBus();
events.subscribe(() => {});
const loadAtStart = loadAverage();
try {
  const model = instantModel();
  const bare = () => bareLoop(model);
  const plain = () => runAgentLoop({ model, messages: [{ role: "user", content: "go" }], tools: [add], maxTurns: TURNS + 1 });
  const audited = () =>
    runAgentLoop({
      model,
      messages: [{ role: "user", content: "go" }],
      tools: [add],
      maxTurns: TURNS + 1,
      audit,
      events,
      actor: { workflow: "bench" },
    });
  for (const run of [bare, plain, audited]) await measure(Math.min(0.5, SECONDS / 4), run);
  const bareUs = await measure(SECONDS, bare);
  const loopUs = await measure(SECONDS, plain);
  const auditedUs = await measure(SECONDS, audited);
  log(`agent: per tool call bare ${round(bareUs)} µs, loop ${round(loopUs)} µs, loop + audit + events ${round(auditedUs)} µs`);
  printResult({
    benchmark: "agent",
    seconds: SECONDS,
    turnsPerLoop: TURNS,
    perToolCallMicroseconds: { bare: round(bareUs), loop: round(loopUs), loopWithAudit: round(auditedUs) },
    overheadMicroseconds: { loop: round(loopUs - bareUs), loopWithAudit: round(auditedUs - bareUs) },
    ratioVsBare: { loop: round(loopUs / bareUs, 2), loopWithAudit: round(auditedUs / bareUs, 2) },
    loadAverage: { start: loadAtStart, end: loadAverage() },
  });
} finally {
  audit.close();
  temp.cleanup();
}
