import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { writeTinyLlamaGguf } from "../../../test/helpers/gguf.js";
import { nodeLlamaCppUnavailable, writeTestModels, type TestModels } from "../../../test/helpers/embedded.js";
import { makeTempDir } from "../../../test/helpers/index.js";
import { LocalAgentError } from "../../errors/index.js";
import type { GenerateRequest } from "../types.js";
import { ModelAllocator, type AllocatorEvent, type AllocatorOptions } from "./allocator.js";
import { createEmbeddedModel, type EmbeddedModel } from "./embedded-model.js";

const unavailable = await nodeLlamaCppUnavailable();

const hello = (maxTokens = 1): GenerateRequest => ({ messages: [{ role: "user", content: "Hello" }], maxTokens });

describe.skipIf(unavailable !== undefined)("ModelAllocator with real node-llama-cpp models", () => {
  const temp = makeTempDir("localagent-allocator-");
  let files: TestModels;
  let third: string;
  /** Bytes charged for one tiny model with a 256-token context (both tiny files charge about the same). */
  let tinyCharge: number;
  let allocators: ModelAllocator[] = [];

  const setup = (options: AllocatorOptions = {}): { allocator: ModelAllocator; events: string[]; raw: AllocatorEvent[] } => {
    const events: string[] = [];
    const raw: AllocatorEvent[] = [];
    const allocator = new ModelAllocator({
      ...options,
      onEvent: (event) => {
        raw.push(event);
        events.push(`${event.type === "model-loaded" ? "loaded" : "unloaded"}:${event.name}`);
      },
    });
    allocators.push(allocator);
    return { allocator, events, raw };
  };
  const model = (allocator: ModelAllocator, name: string, path: string, taskTypes: string[] = []): EmbeddedModel =>
    createEmbeddedModel(name, { provider: "embedded", path, context_size: 256 }, { allocator, taskTypes });

  beforeAll(async () => {
    files = writeTestModels(temp.dir, ["tiny", "tinyOther", "big"]);
    third = writeTinyLlamaGguf(`${temp.dir}/tiny-third.gguf`, { contextLength: 4096, seed: 3 }).path;
    const { allocator } = setup();
    const charges: number[] = [];
    for (const [name, path] of [
      ["a", files.tiny.path],
      ["b", files.tinyOther.path],
      ["c", third],
    ] as const) {
      await model(allocator, name, path).generate(hello());
      charges.push(allocator.list().find((entry) => entry.name === name)?.bytes ?? 0);
    }
    tinyCharge = Math.max(...charges);
    expect(Math.min(...charges)).toBeGreaterThan(tinyCharge * 0.8);
  });

  afterEach(async () => {
    for (const allocator of allocators) await allocator.close();
    allocators = [];
  });

  afterAll(() => temp.cleanup());

  it("charges what node-llama-cpp reports: the weights and the context, close to its estimate", async () => {
    const { allocator, raw } = setup();
    await model(allocator, "big", files.big.path).generate(hello());
    const loaded = raw.find((event) => event.type === "model-loaded");
    if (loaded?.type !== "model-loaded") throw new Error("no model-loaded event");
    // The weights cost about the file (F32 tensors, nothing to decompress); the context is charged separately.
    expect(loaded.footprint.modelBytes).toBeGreaterThan(files.big.bytes * 0.95);
    expect(loaded.footprint.modelBytes).toBeLessThan(files.big.bytes * 1.05);
    expect(loaded.footprint.contextBytes).toBeGreaterThan(0);
    expect(allocator.usedBytes).toBe(loaded.footprint.modelBytes + loaded.footprint.contextBytes);
    expect(loaded.footprint.modelBytes).toBe(loaded.estimate.modelBytes);
  });

  it("with a budget that fits one model, loading a second unloads the first", async () => {
    const { allocator, events } = setup({ budgetBytes: Math.floor(tinyCharge * 1.5) });
    const first = model(allocator, "first", files.tiny.path);
    const second = model(allocator, "second", files.tinyOther.path);
    await first.generate(hello());
    expect(allocator.isLoaded("first")).toBe(true);
    const answer = await second.generate(hello());
    expect(answer.model).toBe("second");
    expect(events).toEqual(["loaded:first", "unloaded:first", "loaded:second"]);
    expect(allocator.isLoaded("first")).toBe(false);
    expect(allocator.usedBytes).toBeLessThanOrEqual(allocator.budgetBytes ?? 0);
    // Asked again, the first model comes back (and the second makes room).
    await first.generate(hello());
    expect(first.stats.loads).toBe(2);
    expect(events.slice(3)).toEqual(["unloaded:second", "loaded:first"]);
  });

  it("refuses a model larger than the whole budget with a clear error, before unloading anything", async () => {
    const budget = Math.floor(tinyCharge * 1.5);
    const { allocator, events } = setup({ budgetBytes: budget });
    await model(allocator, "small", files.tiny.path).generate(hello());
    const error = await model(allocator, "big", files.big.path)
      .generate(hello())
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(LocalAgentError);
    const refusal = error as LocalAgentError;
    expect(refusal.code).toBe("model_too_large");
    expect(refusal.message).toMatch(
      /^model big needs [\d.]+ MB \(file [\d.]+ MB \+ context [\d.]+ [KM]B\), memory_limit is [\d.]+ MB; raise memory_limit \(--memory-limit\) or lower the model's context_size$/,
    );
    expect(refusal.details.neededBytes).toBeGreaterThan(files.big.bytes);
    expect(refusal.details.budgetBytes).toBe(budget);
    expect(events).toEqual(["loaded:small"]);
    expect(allocator.isLoaded("small")).toBe(true);
  });

  it("unloads the least recently used model first", async () => {
    const { allocator, events } = setup({ budgetBytes: Math.floor(tinyCharge * 2.5) });
    const a = model(allocator, "a", files.tiny.path);
    const b = model(allocator, "b", files.tinyOther.path);
    const c = model(allocator, "c", third);
    await a.generate(hello());
    await b.generate(hello());
    await a.generate(hello()); // a is now more recent than b
    await c.generate(hello());
    expect(events).toEqual(["loaded:a", "loaded:b", "unloaded:b", "loaded:c"]);
    expect(allocator.list().map((entry) => entry.name)).toEqual(["a", "c"]);
  });

  it("unloads a model of a task type over its weighted share before a less recent one within its share", async () => {
    const { allocator, events } = setup({ budgetBytes: Math.floor(tinyCharge * 2.5), weights: { code_gen: 0.5, general: 0.5 } });
    const coder = model(allocator, "coder", files.tiny.path, ["code_gen"]);
    const chat1 = model(allocator, "chat1", files.tinyOther.path, ["general"]);
    const chat2 = model(allocator, "chat2", third, ["general"]);
    await coder.generate(hello());
    await chat1.generate(hello());
    // coder is the least recently used, but general would hold two models, more than its half of the budget.
    await chat2.generate(hello());
    expect(events).toEqual(["loaded:coder", "loaded:chat1", "unloaded:chat1", "loaded:chat2"]);
    const shares = Object.fromEntries(allocator.list().map((entry) => [entry.name, entry.shareBytes]));
    expect(shares.coder).toBeCloseTo(tinyCharge * 1.25, -3);
  });

  it("never unloads a model while a request is using it: the next load waits for it to finish", async () => {
    const { allocator, events } = setup({ budgetBytes: Math.floor(tinyCharge * 1.5) });
    const busy = model(allocator, "busy", files.tiny.path);
    const next = model(allocator, "next", files.tinyOther.path);
    let nextAnswer: Promise<unknown> | undefined;
    let textParts = 0;
    let finished: { outputTokens: number } | undefined;
    for await (const part of busy.stream(hello(60))) {
      if (part.type === "text") {
        textParts++;
        // While busy streams, it is pinned: the waiting load has unloaded nothing and loaded nothing.
        expect(events).toEqual(["loaded:busy"]);
        nextAnswer ??= next.generate(hello());
      }
      if (part.type === "finish") finished = part.result.usage;
    }
    expect(textParts).toBeGreaterThan(3);
    expect(finished?.outputTokens).toBe(60);
    await nextAnswer;
    expect(events).toEqual(["loaded:busy", "unloaded:busy", "loaded:next"]);
  });

  it("gives up waiting for room when the waiting request is cancelled", async () => {
    const { allocator, events } = setup({ budgetBytes: Math.floor(tinyCharge * 1.5) });
    const busy = model(allocator, "busy", files.tiny.path);
    const waiting = model(allocator, "waiting", files.tinyOther.path);
    const controller = new AbortController();
    let outcome: unknown;
    let textParts = 0;
    for await (const part of busy.stream(hello(40))) {
      if (part.type !== "text") continue;
      textParts++;
      outcome ??= waiting.generate({ ...hello(), signal: controller.signal }).then(
        () => "answered",
        (error: unknown) => error,
      );
      // A few tokens later the waiting load is parked until busy releases; then its run is cancelled.
      if (textParts === 6) controller.abort(new Error("run cancelled"));
    }
    expect(await outcome).toMatchObject({ message: "run cancelled" });
    expect(events).toEqual(["loaded:busy"]);
    expect(allocator.isLoaded("busy")).toBe(true);
  });

  it("keeps a reconfigured model (same name, new instance) apart from the one it replaces", async () => {
    const { allocator, events } = setup();
    const before = model(allocator, "local", files.tiny.path);
    const after = model(allocator, "local", files.tinyOther.path);
    await before.generate(hello());
    const answer = await after.generate(hello());
    expect(answer.model).toBe("local");
    expect(after.stats.loads).toBe(1);
    // The old table's model is closed once its last request finished: the new one stays loaded.
    await before.close();
    expect(events).toEqual(["loaded:local", "loaded:local", "unloaded:local"]);
    expect(after.describe().loaded).toBe(true);
    expect(before.describe().loaded).toBe(false);
  });

  it("serializes concurrent loads of the same model into one load", async () => {
    const { allocator, events } = setup();
    const shared = model(allocator, "shared", files.tiny.path);
    const answers = await Promise.all([shared.generate(hello(2)), shared.generate(hello(2)), shared.generate(hello(2))]);
    expect(answers.map((answer) => answer.usage.outputTokens)).toEqual([2, 2, 2]);
    expect(shared.stats.loads).toBe(1);
    expect(events).toEqual(["loaded:shared"]);
  });
});
