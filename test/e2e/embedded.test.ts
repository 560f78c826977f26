import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeLlamaCppUnavailable, writeTestModels, type TestModels } from "../helpers/embedded.js";
import { callApi, makeTempDir, startDaemon, writeConfigDir, type DaemonProcess, type Json } from "../helpers/index.js";

const unavailable = await nodeLlamaCppUnavailable();

const WORKFLOW = `workflow:
  name: local_answer
  trigger: manual
  tasks:
    - name: answer
      type: ai
      model: general
      prompt: "Say hello"
      max_tokens: 4
    - name: structured
      type: ai
      model: default
      prompt: "Give a verdict"
      max_tokens: 60
      json: { type: object, properties: { verdict: { type: string }, score: { type: number } }, required: [verdict, score] }
`;

const TOO_BIG = `workflow:
  name: too_big
  trigger: manual
  tasks:
    - name: review
      type: ai
      model: code_gen
      prompt: "Review this"
      max_tokens: 4
`;

describe.skipIf(unavailable !== undefined)("embedded model through the daemon (--model-path, memory_limit)", () => {
  const { dir, cleanup } = makeTempDir();
  const configDir = join(dir, "config");
  let files: TestModels;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    files = writeTestModels(dir, ["tiny", "big"]);
    writeConfigDir(configDir, {
      // The big model (28 MB of weights) can never fit 20 MB; `general` is not routed, so the --model-path model (`default`) serves it.
      config: [
        "memory_limit: 20m",
        "models:",
        `  big: { provider: embedded, path: "${files.big.path}", context_size: 256 }`,
        "routing:",
        "  code_gen: [big]",
        "",
      ].join("\n"),
      workflows: { "local_answer.yaml": WORKFLOW, "too_big.yaml": TOO_BIG },
    });
    daemon = await startDaemon({ configDir, dataDir: join(dir, "data"), args: ["--model-path", files.tiny.path] });
  });

  afterAll(async () => {
    await daemon?.stop();
    cleanup();
  });

  it("answers ai steps (text, and JSON through the grammar) with the --model-path model, loaded into the budget", async () => {
    const run = await callApi(daemon.url, "POST", "/api/workflows/local_answer/run?wait=1", {});
    expect(run.status).toBe(200);
    expect(run.body.status, JSON.stringify(run.body.steps) + daemon.output().slice(-3000)).toBe("succeeded");
    const output = (path: string): Json => run.body.steps.find((step: Json) => step.path === path).output;
    const answer = output("answer");
    expect(answer.model).toBe("default");
    expect(answer.usage.output_tokens).toBe(4);
    expect(answer.finish_reason).toBe("length");
    const structured = output("structured");
    expect(structured.model).toBe("default");
    expect(typeof structured.json.verdict).toBe("string");
    expect(typeof structured.json.score).toBe("number");
    expect(daemon.output()).toContain("model loaded into the memory budget");
    const models = await callApi(daemon.url, "GET", "/api/models");
    const listed = (models.body.models as Json[]).find((model) => model.name === "default");
    expect(listed).toMatchObject({ provider: "embedded", endpoint: files.tiny.path, quantization: "F32", loaded: true });
  });

  it("refuses a model larger than memory_limit with a clear error, and keeps serving", async () => {
    const run = await callApi(daemon.url, "POST", "/api/workflows/too_big/run?wait=1", {});
    expect(run.body.status).toBe("failed");
    const step = run.body.steps.find((candidate: Json) => candidate.path === "review");
    expect(JSON.stringify(step)).toMatch(
      /model big needs [\d.]+ MB \(file [\d.]+ MB \+ context [\d.]+ [KM]B\), memory_limit is 21\.0 MB; raise memory_limit/,
    );
    const again = await callApi(daemon.url, "POST", "/api/workflows/local_answer/run?wait=1", {});
    expect(again.body.status).toBe("succeeded");
  });
});
