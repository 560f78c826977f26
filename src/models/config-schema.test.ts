import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";

/** The models:, routing: and cache: sections as config.yaml holds them, checked with file:line:column. */
describe("models:, routing:, cache: in config.yaml", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-models-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const load = (lines: string[], env: NodeJS.ProcessEnv = {}) => {
    writeFileSync(join(dir, "config.yaml"), lines.join("\n"));
    return loadConfig({ configDir: dir, dataDir: join(dir, "data"), env });
  };
  const problems = (lines: string[]): string => {
    try {
      load(lines);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("expected the config to be refused");
  };

  it("accepts the shared design's example and reads api keys from the environment as secrets", () => {
    const config = load(
      [
        "models:",
        '  coder:   { provider: openai, base_url: "http://127.0.0.1:8000/v1", model: qwen2.5-coder, api_key: env:OPENAI_API_KEY, timeout: 60s, max_retries: 2 }',
        '  llama:   { provider: ollama, base_url: "http://127.0.0.1:11434", model: llama3.2 }',
        '  claude:  { provider: anthropic, base_url: "https://api.anthropic.com", model: claude-sonnet-4-5, api_key: env:ANTHROPIC_API_KEY }',
        "  local:   { provider: embedded, path: ./models/llama3-compact-4bit.gguf, quantization: Q4_K_M, context_size: 4096, gpu: auto, threads: auto }",
        "routing:",
        "  code_gen: [coder, local]",
        "  general:  [llama, local]",
        "  image_proc: [claude]",
        "cache: { enabled: true, ttl: 24h, max_entries: 1000, warmup: [ { model: general, prompt: hello } ] }",
      ],
      { OPENAI_API_KEY: "sk-openai-123", ANTHROPIC_API_KEY: "sk-ant-456" },
    );
    expect(Object.keys(config.extensions.models as object)).toEqual(["coder", "llama", "claude", "local"]);
    expect(config.secrets).toEqual(expect.arrayContaining(["sk-openai-123", "sk-ant-456"]));
  });

  it("names file:line:column for an unknown provider, a bad URL and an unknown field", () => {
    const file = join(dir, "config.yaml");
    const message = problems([
      "models:",
      "  a: { provider: openia, base_url: 'http://x', model: m }",
      "  b: { provider: ollama, base_url: 'localhost:11434', model: m }",
      "  c: { provider: openai, base_url: 'http://x', model: m, temprature: 1 }",
    ]);
    expect(message).toContain(`${file}:2:`);
    expect(message).toContain('models.a.provider: unknown provider "openia" (known: openai, ollama, anthropic, embedded)');
    expect(message).toMatch(new RegExp(`${file}:3:\\d+: models.b.base_url: expected an http:// or https:// URL`));
    expect(message).toMatch(new RegExp(`${file}:4:\\d+: unknown field "models.c.temprature"`));
  });

  it("refuses routing to a model that is not defined, pointing at the entry", () => {
    const message = problems([
      "models:",
      "  coder: { provider: openai, base_url: 'http://x/v1', model: m }",
      "routing:",
      "  code_gen: [coder, lokal]",
      "cache: { warmup: [ { model: nothing, prompt: hi } ] }",
    ]);
    expect(message).toMatch(/config\.yaml:4:\d+: routing\.code_gen\.1: no model named "lokal" under models: \(have: coder\)/);
    expect(message).toMatch(/config\.yaml:5:\d+: cache\.warmup\.0\.model: "nothing" is neither a task type/);
  });

  it("reports a missing environment variable for an api key without printing any key", () => {
    expect(
      problems(["models:", "  c: { provider: anthropic, base_url: 'https://api.anthropic.com', model: m, api_key: env:NOPE_KEY }"]),
    ).toContain("models.c.api_key: environment variable NOPE_KEY is not set");
  });
});
