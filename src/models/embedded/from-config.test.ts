import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, writeConfigDir } from "../../../test/helpers/index.js";
import { loadConfig } from "../../config/index.js";
import { createEmbeddedModels, taskTypesOf } from "./from-config.js";

describe("createEmbeddedModels", () => {
  const temps: Array<() => void> = [];
  afterEach(() => temps.splice(0).forEach((cleanup) => cleanup()));
  const configDir = (config: string): string => {
    const temp = makeTempDir();
    temps.push(temp.cleanup);
    return writeConfigDir(temp.dir, { config });
  };

  it("registers model_path as `default` and embedded entries with the task types routing gives them, under one budget", async () => {
    const dir = configDir(
      [
        "memory_limit: 2g",
        "model_path: ./m.gguf",
        "allocator: { weights: { code_gen: 0.6, general: 0.4 } }",
        "models:",
        "  local: { provider: embedded, path: models/local.gguf, quantization: Q4_K_M, context_size: 2048 }",
        "  remote: { provider: openai, base_url: 'http://127.0.0.1:1/v1', model: x }",
        "routing:",
        "  code_gen: [remote, local]",
        "  general: [local]",
        "",
      ].join("\n"),
    );
    const { allocator, models } = createEmbeddedModels(loadConfig({ configDir: dir, env: {} }));
    expect([...models.keys()]).toEqual(["default", "local"]);
    expect(models.get("default")?.path).toBe(`${dir}/m.gguf`);
    expect(models.get("local")?.path).toBe(`${dir}/models/local.gguf`);
    expect(allocator.budgetBytes).toBe(2 * 1024 ** 3);
    // Nothing is loaded (or imported) until a request comes.
    expect(allocator.list()).toEqual([]);
    const info = await models.get("local")?.info();
    expect(info).toMatchObject({ loaded: false, fileBytes: undefined, quantization: "Q4_K_M" });
  });

  it("reports a bad embedded entry with its field path", () => {
    const dir = configDir("models:\n  local: { provider: embedded, path: a.gguf, gpu: sometimes }\n");
    expect(() => createEmbeddedModels(loadConfig({ configDir: dir, env: {} }))).toThrow(/config\.yaml: models\.local\.gpu: /);
  });

  it("reports bad allocator weights with file, line and column", () => {
    const dir = configDir("allocator:\n  weights: { general: -1 }\n");
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/config\.yaml:2:\d+: .*allocator\.weights\.general/);
  });

  it("derives task types from the routing lists", () => {
    expect(taskTypesOf("local", { code_gen: ["a", "local"], general: ["local"], image_proc: ["b"], odd: "local" })).toEqual([
      "code_gen",
      "general",
    ]);
  });
});
