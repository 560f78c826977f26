import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeLlamaCppUnavailable, writeTestModels, type TestModels } from "../../../test/helpers/embedded.js";
import { makeTempDir } from "../../../test/helpers/index.js";
import { LocalAgentError } from "../../errors/index.js";
import type { GenerateRequest, StreamPart } from "../types.js";
import { ModelAllocator } from "./allocator.js";
import { createEmbeddedModel, type EmbeddedModel } from "./embedded-model.js";
import { getLlamaRuntime } from "./node-llama-cpp.js";

const unavailable = await nodeLlamaCppUnavailable();

const ask = (text: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [
    { role: "system", content: "You are a tiny test model." },
    { role: "user", content: text },
  ],
  ...extra,
});

describe.skipIf(unavailable !== undefined)("embedded model (node-llama-cpp, generated GGUF)", () => {
  const temp = makeTempDir("localagent-embedded-");
  let files: TestModels;
  let allocator: ModelAllocator;
  let tiny: EmbeddedModel;

  beforeAll(() => {
    files = writeTestModels(temp.dir, ["tiny", "tinyOther", "caller"]);
    allocator = new ModelAllocator();
    tiny = createEmbeddedModel("tiny", { provider: "embedded", path: "tiny.gguf", context_size: 1024 }, { allocator, baseDir: temp.dir });
  });

  afterAll(async () => {
    await allocator.close();
    temp.cleanup();
  });

  it("loads the generated file and generates the requested number of tokens, deterministically", async () => {
    const first = await tiny.generate(ask("Hello", { maxTokens: 6 }));
    expect(first.model).toBe("tiny");
    expect(first.usage.outputTokens).toBe(6);
    expect(first.usage.inputTokens).toBeGreaterThan(10);
    expect(first.finishReason).toBe("length");
    expect(first.text.length).toBeGreaterThan(0);
    const again = await tiny.generate(ask("Hello", { maxTokens: 6 }));
    expect(again.text).toBe(first.text);
    expect(tiny.stats.loads).toBe(1);
  });

  it("streams the same text as text parts and ends with one finish part", async () => {
    const whole = await tiny.generate(ask("Stream me", { maxTokens: 8 }));
    const parts: StreamPart[] = [];
    for await (const part of tiny.stream(ask("Stream me", { maxTokens: 8 }))) parts.push(part);
    const texts = parts.filter((part) => part.type === "text").map((part) => part.text);
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.join("")).toBe(whole.text);
    const finish = parts.at(-1);
    expect(finish?.type).toBe("finish");
    expect(finish?.type === "finish" && finish.result.text).toBe(whole.text);
  });

  it("reuses the loaded model and the KV cache of the shared prefix on the next request", async () => {
    const longSystem = "Rules: " + "answer briefly and stay on topic. ".repeat(12);
    const request = (user: string): GenerateRequest => ({
      messages: [
        { role: "system", content: longSystem },
        { role: "user", content: user },
      ],
      maxTokens: 2,
    });
    const loads = tiny.stats.loads;
    const start = tiny.stats.evaluatedInputTokens;
    const first = await tiny.generate(request("first question"));
    const firstEvaluated = tiny.stats.evaluatedInputTokens - start;
    const second = await tiny.generate(request("second question"));
    const secondEvaluated = tiny.stats.evaluatedInputTokens - start - firstEvaluated;
    expect(tiny.stats.loads).toBe(loads);
    // The second prompt is as long as the first, but the system prompt's tokens were still in the cache.
    expect(second.usage.inputTokens).toBeGreaterThanOrEqual(first.usage.inputTokens - 2);
    expect(secondEvaluated).toBeLessThan(firstEvaluated / 2);
  });

  it("stops at a stop sequence and leaves it out of the text", async () => {
    const free = await tiny.generate(ask("Stop test", { maxTokens: 12 }));
    const cut = free.text.slice(3, 4);
    expect(cut.length).toBe(1);
    const stopped = await tiny.generate(ask("Stop test", { maxTokens: 12, stop: [cut] }));
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.text).toBe(free.text.slice(0, free.text.indexOf(cut)));
  });

  it("is aborted mid-generation through the signal", async () => {
    const controller = new AbortController();
    const received: string[] = [];
    const consume = async (): Promise<void> => {
      for await (const part of tiny.stream(ask("Abort me", { maxTokens: 400, signal: controller.signal }))) {
        if (part.type === "text") received.push(part.text);
        if (received.length === 3) controller.abort();
      }
    };
    const error = await consume().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LocalAgentError);
    expect((error as LocalAgentError).code).toBe("model_error");
    expect((error as LocalAgentError).details.kind).toBe("aborted");
    expect(received.length).toBeLessThan(20);
    // The model is still usable afterwards.
    const after = await tiny.generate(ask("Hello", { maxTokens: 2 }));
    expect(after.usage.outputTokens).toBe(2);
  });

  it("stops generating when the reader stops reading the stream", async () => {
    const before = tiny.stats.requests;
    let parts = 0;
    for await (const part of tiny.stream(ask("Break me", { maxTokens: 400 }))) {
      if (part.type === "text") parts++;
      if (parts === 2) break;
    }
    // The sequence is free again at once: the next request is answered (it would queue behind 400 tokens otherwise).
    const next = await tiny.generate(ask("Hello", { maxTokens: 3 }));
    expect(next.usage.outputTokens).toBe(3);
    expect(tiny.stats.requests).toBe(before + 2);
  });

  it("writes JSON that parses and matches the schema when json: is asked (grammar)", async () => {
    const schema = {
      type: "object",
      properties: { answer: { type: "string" }, score: { type: "number" }, ok: { type: "boolean" } },
      required: ["answer", "score", "ok"],
    };
    const result = await tiny.generate(ask("Give JSON", { json: schema, maxTokens: 80 }));
    const parsed = JSON.parse(result.text) as Record<string, unknown>;
    expect(typeof parsed.answer).toBe("string");
    expect(typeof parsed.score).toBe("number");
    expect(typeof parsed.ok).toBe("boolean");
    const anyJson = await tiny.generate(ask("Give any JSON", { json: true, maxTokens: 80 }));
    expect(() => JSON.parse(anyJson.text) as unknown).not.toThrow();
  });

  it("returns the model's tool calls with arguments that follow the tool's schema", async () => {
    const caller = createEmbeddedModel("caller", { provider: "embedded", path: files.caller.path, context_size: 2048 }, { allocator });
    const result = await caller.generate(
      ask("What time is it?", {
        maxTokens: 40,
        tools: [
          {
            name: "get_time",
            description: "The current time in a zone",
            parameters: { type: "object", properties: { zone: { enum: ["utc", "local"] } }, required: ["zone"] },
          },
        ],
      }),
    );
    expect(result.finishReason).toBe("tool_calls");
    expect(result.toolCalls).toHaveLength(1);
    const [call] = result.toolCalls;
    expect(call?.name).toBe("get_time");
    expect(["utc", "local"]).toContain(call?.arguments.zone);
    expect(call?.id).toMatch(/^call_/);
    // The tool's result goes back in the history; the next turn is generated after it.
    const next = await caller.generate({
      messages: [
        { role: "user", content: "What time is it?" },
        { role: "assistant", content: "", toolCalls: result.toolCalls },
        { role: "tool", content: '"12:00"', toolCallId: call?.id ?? "", name: "get_time" },
      ],
      maxTokens: 4,
    });
    expect(next.model).toBe("caller");
    await caller.close();
  });

  it("reports the file's quantization and a configured one that disagrees", async () => {
    expect(tiny.describe()).toEqual({ quantization: "F32", loaded: true, chargedBytes: expect.any(Number) as number });
    const info = await tiny.info();
    expect(info).toMatchObject({ provider: "embedded", quantization: "F32", loaded: true, contextSize: 1024, fileBytes: files.tiny.bytes });
    const labeled = createEmbeddedModel(
      "other",
      { provider: "embedded", path: files.tinyOther.path, quantization: "Q4_K_M" },
      { allocator },
    );
    const other = await labeled.info();
    expect(other.quantization).toBe("F16");
    expect(other.quantizationWarning).toBe("quantization: Q4_K_M does not match the file, which is F16");
    expect(other.loaded).toBe(false);
    expect(other.contextSize).toBe(4096);
  });

  it("names the file when it does not exist", async () => {
    const missing = createEmbeddedModel("ghost", { provider: "embedded", path: "nowhere/ghost.gguf" }, { allocator, baseDir: temp.dir });
    await expect(missing.generate(ask("hi", { maxTokens: 1 }))).rejects.toMatchObject({
      code: "model_error",
      message: `model ghost: the GGUF file ${temp.dir}/nowhere/ghost.gguf does not exist`,
      details: { kind: "model_missing" },
    });
  });

  it("says how to install node-llama-cpp when the package is absent", async () => {
    const absent = createEmbeddedModel(
      "absent",
      { provider: "embedded", path: files.tiny.path },
      {
        allocator,
        runtime: () => getLlamaRuntime({ specifier: "node-llama-cpp-not-installed" }),
      },
    );
    await expect(absent.generate(ask("hi", { maxTokens: 1 }))).rejects.toThrow(
      "embedded models need node-llama-cpp, an optional dependency that is not installed: run npm install node-llama-cpp@3.21.1",
    );
  });
});
