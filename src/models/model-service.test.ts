import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ModelServer } from "../../test/helpers/model-servers.js";
import type { AuditInput } from "../audit/index.js";
import { LocalAgentError } from "../errors/index.js";
import { MemoryStore } from "../store/index.js";
import type { ModelsConfigInput } from "./config-schema.js";
import { ModelError } from "./model-error.js";
import { ModelService } from "./model-service.js";
import type { GenerateRequest, StreamPart } from "./types.js";

const ask = (content: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [{ role: "user", content }],
  ...extra,
});

async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const result: StreamPart[] = [];
  for await (const part of parts) result.push(part);
  return result;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

describe("ModelService: routing, fallback, cool-down, cache, hot swap", () => {
  const primary = new ModelServer("openai");
  const backup = new ModelServer("ollama");
  const claude = new ModelServer("anthropic");
  let now = 1_000_000;
  const audit: AuditInput[] = [];
  const services: ModelService[] = [];

  beforeAll(async () => {
    await Promise.all([primary.start(), backup.start(), claude.start()]);
  });
  afterAll(async () => {
    await Promise.all([primary.stop(), backup.stop(), claude.stop()]);
  });
  afterEach(async () => {
    primary.reset();
    backup.reset();
    claude.reset();
    audit.length = 0;
    for (const service of services.splice(0)) await service.close();
  });

  function config(extra: Partial<ModelsConfigInput> = {}): ModelsConfigInput {
    return {
      models: {
        coder: { provider: "openai", base_url: primary.url, model: "qwen-coder", max_retries: 0, timeout: "1s", cooldown: "30s" },
        llama: { provider: "ollama", base_url: backup.url, model: "llama3.2", max_retries: 0 },
        claude: { provider: "anthropic", base_url: claude.url, model: "claude-x", api_key: "sk-ant-secret" },
      },
      routing: { code_gen: ["coder", "llama"], general: ["llama"], image_proc: ["claude"] },
      ...extra,
    };
  }

  function service(initial: ModelsConfigInput = config(), store = new MemoryStore()): ModelService {
    const created = new ModelService({
      initial,
      configDir: "/tmp",
      store,
      now: () => now,
      audit: { record: (entry) => audit.push(entry) },
    });
    services.push(created);
    return created;
  }

  it("serves a task type with its first model, and records who served in the audit", async () => {
    const models = service();
    primary.reply({ text: "def f(): pass", usage: { input: 9, output: 4 } });
    const result = await models.generate(ask("write f", { model: "code_gen", caller: { workflow: "w", run: "r1", step: "s" } }));
    expect(result).toMatchObject({ text: "def f(): pass", model: "coder", cached: false });
    expect(backup.requests).toHaveLength(0);
    expect(audit).toEqual([
      {
        type: "model-call",
        actor: { workflow: "w", run: "r1", step: "s" },
        details: expect.objectContaining({
          target: "code_gen",
          model: "coder",
          provider: "openai",
          servedBy: "openai/coder",
          inputTokens: 9,
          outputTokens: 4,
          cached: false,
          status: "ok",
        }),
      },
    ]);
  });

  it("falls through to the next model when the first returns 500, and records the fallback", async () => {
    const models = service();
    primary.reply({ status: 500, message: "boom" });
    backup.reply({ text: "from llama" });
    const result = await models.generate(ask("x", { model: "code_gen" }));
    expect(result).toMatchObject({ text: "from llama", model: "llama" });
    expect(audit[0]!.details).toMatchObject({
      model: "llama",
      status: "ok",
      servedBy: "ollama/llama",
      target: "code_gen",
      fellThrough: [{ model: "coder", error: expect.stringContaining("HTTP 500") }],
    });
  });

  it("falls through when the first model times out", async () => {
    const models = service();
    primary.reply({ text: "too late", delayMs: 1500 });
    backup.reply({ text: "in time" });
    expect((await models.generate(ask("x", { model: "code_gen" }))).model).toBe("llama");
  });

  it("skips a failed model for its cool-down, then lets one trial request through", async () => {
    const models = service();
    primary.reply({ status: 503 });
    await models.generate(ask("one", { model: "code_gen", cache: false }));
    expect(primary.requests).toHaveLength(1);
    expect(models.overview().models.find((model) => model.name === "coder")!.health).toMatchObject({
      state: "cooling_down",
      failures: 1,
      retryInMs: 30_000,
    });

    await models.generate(ask("two", { model: "code_gen", cache: false }));
    expect(primary.requests).toHaveLength(1); // skipped: llama answered without coder being asked
    expect(backup.requests).toHaveLength(2);

    now += 30_000;
    primary.reply({ text: "back again" });
    const trial = await models.generate(ask("three", { model: "code_gen", cache: false }));
    expect(trial.model).toBe("coder");
    expect(models.overview().models.find((model) => model.name === "coder")!.health.state).toBe("healthy");
  });

  it("does not fall through on a request the model refused (400): the next model would refuse it too", async () => {
    const models = service();
    primary.reply({ status: 400, message: "bad parameter" });
    const error = await rejection(models.generate(ask("x", { model: "code_gen" })));
    expect((error as ModelError).kind).toBe("bad_request");
    expect(backup.requests).toHaveLength(0);
  });

  it("fails with every model's reason when the whole route fails", async () => {
    const models = service();
    primary.reply({ status: 500 });
    backup.reply({ status: 502 });
    const error = await rejection(models.generate(ask("x", { model: "code_gen" })));
    expect(error.message).toMatch(/no model for "code_gen" could answer \(coder: .*HTTP 500.*; llama: .*HTTP 502/);
    expect(audit[0]!.details).toMatchObject({ status: "error" });
  });

  it("names a model directly, and reports unknown names and missing config clearly", async () => {
    const models = service();
    claude.reply({ text: "direct" });
    expect((await models.generate(ask("x", { model: "claude" }))).model).toBe("claude");
    expect(claude.requests[0]!.headers["x-api-key"]).toBe("sk-ant-secret");
    const unknown = await rejection(models.generate(ask("x", { model: "translation" })));
    expect(unknown).toBeInstanceOf(LocalAgentError);
    expect((unknown as LocalAgentError).code).toBe("model_not_found");
    expect(unknown.message).toContain(
      'no task type or model named "translation" (task types: code_gen, general, image_proc; models: coder, llama, claude)',
    );
    const none = service({});
    expect(none.configured).toBe(false);
    expect(((await rejection(none.generate(ask("x")))) as LocalAgentError).code).toBe("no_model_provider");
    // Without model: the general route serves.
    backup.reply({ text: "general answer" });
    expect((await models.generate(ask("x"))).model).toBe("llama");
  });

  it("sends task types routing does not mention to the --model-path model, or to every model without routing", () => {
    const models = config().models!;
    const withDefault = service({ models: { ...models, default: models.llama! }, routing: { code_gen: ["coder"] } });
    expect(withDefault.router.resolve("translation")).toEqual({ target: "translation", kind: "task", candidates: ["default"] });
    expect(withDefault.router.resolve("code_gen").candidates).toEqual(["coder"]);
    const unrouted = service({ models });
    expect(unrouted.router.resolve("anything").candidates).toEqual(["coder", "llama", "claude"]);
    expect(unrouted.router.resolve().candidates).toEqual(["coder"]);
  });

  it("streams through the route, falling through before the first part only", async () => {
    const models = service();
    primary.reply({ status: 500 });
    backup.reply({ text: "streamed fallback" });
    const parts = await collect(models.stream(ask("x", { model: "code_gen", cache: false })));
    expect(parts.at(-1)).toMatchObject({ type: "finish", result: { model: "llama", text: "streamed fallback" } });

    now += 60_000;
    primary.reply({ text: "half an answer that", dropAfterChunks: 2 });
    backup.reply({ text: "never asked" });
    const seen: StreamPart[] = [];
    const error = await rejection(
      (async () => {
        for await (const part of models.stream(ask("y", { model: "code_gen", cache: false }))) seen.push(part);
      })(),
    );
    expect((error as ModelError).kind).toBe("unreachable");
    expect(seen.length).toBeGreaterThan(0);
    expect(backup.requests).toHaveLength(1); // only the first stream's fallback
  });

  it("answers a repeated request from the cache, and not when cache: false or the parameters differ", async () => {
    const models = service();
    primary.fallback = { text: "computed once" };
    const first = await models.generate(ask("same", { model: "code_gen", temperature: 0 }));
    const second = await models.generate(ask("same", { model: "code_gen", temperature: 0 }));
    expect(first.cached).toBe(false);
    expect(second).toMatchObject({ text: "computed once", cached: true, model: "coder" });
    expect(primary.requests).toHaveLength(1);
    await models.generate(ask("same", { model: "code_gen", temperature: 0, cache: false }));
    await models.generate(ask("same", { model: "code_gen", temperature: 0.7 }));
    expect(primary.requests).toHaveLength(3);
    expect(models.overview().cache).toMatchObject({ enabled: true, hits: 1, misses: 2 });
    expect(audit.filter((entry) => entry.details?.cached === true)).toHaveLength(1);

    const streamed = await collect(models.stream(ask("same", { model: "code_gen", temperature: 0 })));
    expect(streamed.at(-1)).toMatchObject({ result: { cached: true, text: "computed once" } });
    expect(primary.requests).toHaveLength(3);
  });

  it("lets identical concurrent requests share one model call", async () => {
    const models = service();
    primary.fallback = { text: "shared", delayMs: 200 };
    const answers = await Promise.all([1, 2, 3].map(() => models.generate(ask("same time", { model: "code_gen" }))));
    expect(answers.map((answer) => answer.text)).toEqual(["shared", "shared", "shared"]);
    expect(answers.filter((answer) => answer.cached)).toHaveLength(2);
    expect(primary.requests).toHaveLength(1);
    // cache: false opts out of sharing too.
    await Promise.all([1, 2].map(() => models.generate(ask("same time", { model: "code_gen", cache: false }))));
    expect(primary.requests).toHaveLength(3);
  });

  it("expires cached answers after the TTL and keeps them across a restart through the store", async () => {
    const store = new MemoryStore();
    const models = service(config({ cache: { ttl: "1h" } }), store);
    primary.fallback = { text: "persisted" };
    await models.generate(ask("keep me", { model: "code_gen" }));
    const restarted = service(config({ cache: { ttl: "1h" } }), store);
    expect(await restarted.generate(ask("keep me", { model: "code_gen" }))).toMatchObject({ cached: true, text: "persisted" });
    expect(primary.requests).toHaveLength(1);
    now += 3_600_001;
    expect((await restarted.generate(ask("keep me", { model: "code_gen" }))).cached).toBe(false);
    expect(primary.requests).toHaveLength(2);
  });

  it("bounds the cache by entries, in memory and in the store", async () => {
    const store = new MemoryStore();
    const models = service(config({ cache: { max_entries: 2 } }), store);
    for (const prompt of ["a", "b", "c"]) await models.generate(ask(prompt, { model: "general" }));
    expect(models.overview().cache.entries).toBe(2);
    expect(store.listState("model-cache")).toHaveLength(2);
    await models.generate(ask("a", { model: "general" })); // evicted: asked again
    expect(backup.requests).toHaveLength(4);
    await models.generate(ask("c", { model: "general" }));
    expect(backup.requests).toHaveLength(4);
  });

  it("swaps the routing atomically: a request in flight finishes on the old table, the next uses the new one", async () => {
    const models = service();
    primary.reply({ text: "old routing", delayMs: 300 });
    const inFlight = models.generate(ask("slow", { model: "code_gen", cache: false }));
    await new Promise((done) => setTimeout(done, 50));
    models.applyBody({ models: config().models, routing: { code_gen: ["claude"] } });
    claude.reply({ text: "new routing" });
    const after = await models.generate(ask("fast", { model: "code_gen", cache: false }));
    expect(after.model).toBe("claude");
    expect((await inFlight).model).toBe("coder");
    expect(models.overview()).toMatchObject({ routing: { code_gen: ["claude"] }, version: 1 });
  });

  it("refuses a bad PUT body naming each field, and keeps the current routing", async () => {
    const models = service();
    const error = await rejection(
      Promise.resolve().then(() =>
        models.applyBody({
          models: {
            x: { provider: "openia", base_url: "http://h", model: "m" },
            y: { provider: "openai", base_url: "ftp://h", model: "m" },
          },
          routing: { code_gen: ["x", "nope"] },
        }),
      ),
    );
    expect((error as LocalAgentError).code).toBe("bad_request");
    expect(error.message).toContain('models.x.provider: unknown provider "openia" (known: openai, ollama, anthropic, embedded)');
    expect(error.message).toContain("models.y.base_url: expected an http:// or https:// URL");
    expect(models.overview().routing.code_gen).toEqual(["coder", "llama"]);
    const dangling = await rejection(
      Promise.resolve().then(() => models.applyBody({ models: config().models, routing: { code_gen: ["nope"] } })),
    );
    expect(dangling.message).toContain('routing.code_gen.0: no model named "nope" under models:');
  });

  it("shows the config with keys redacted", () => {
    const models = service();
    const view = JSON.stringify(models.configView());
    expect(view).not.toContain("sk-ant-secret");
    expect(view).toContain("[redacted]");
  });

  it("runs warm-up prompts into the cache", async () => {
    const models = service(config({ cache: { warmup: [{ model: "general", prompt: "warm me" }] } }));
    backup.fallback = { text: "warm answer" };
    expect(await models.warmup()).toBe(1);
    expect(await models.generate(ask("warm me", { model: "general" }))).toMatchObject({ cached: true, text: "warm answer" });
    expect(backup.requests).toHaveLength(1);
  });
});
