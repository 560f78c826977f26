import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, runCli, startDaemon, waitFor, writeConfigDir, type DaemonProcess, type Json } from "../helpers/index.js";
import { ModelServer } from "../helpers/model-servers.js";

const TOKEN = "e2e-token-0123456789";
const OPENAI_KEY = "sk-e2e-openai-key-abcdef";

/** The seed daily_backup's ai step as written (its pg_dump step needs a PostgreSQL this machine lacks). */
function seedAiStep(): string {
  const seed = readFileSync(join(import.meta.dirname, "../../examples/workflows/daily_backup.yaml"), "utf8");
  const step = /( {4}- name: model_update\n(?: {6}.*\n?)+)/.exec(seed)?.[1];
  if (!step) throw new Error("the seed daily_backup has no model_update step");
  return `workflow:\n  name: daily_backup_review\n  trigger: manual\n  tasks:\n${step.trimEnd()}\n`;
}

function configYaml(coderUrl: string, llamaUrl: string, routing: string): string {
  return [
    "server: { token: env:E2E_TOKEN }",
    "models:",
    `  coder: { provider: openai, base_url: "${coderUrl}", model: qwen2.5-coder, api_key: env:E2E_OPENAI_KEY, max_retries: 0, cooldown: 1h }`,
    `  llama: { provider: ollama, base_url: "${llamaUrl}", model: llama3.2, max_retries: 0 }`,
    "routing:",
    routing,
    "",
  ].join("\n");
}

describe("models through the daemon", () => {
  const coder = new ModelServer("openai");
  const llama = new ModelServer("ollama");
  const { dir, cleanup } = makeTempDir();
  const configDir = join(dir, "config");
  let daemon: DaemonProcess;
  const env = { E2E_TOKEN: TOKEN, E2E_OPENAI_KEY: OPENAI_KEY };
  const auth = { authorization: `Bearer ${TOKEN}` };

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const response = await fetch(`${daemon.url}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    await Promise.all([coder.start(), llama.start()]);
    writeConfigDir(configDir, {
      config: configYaml(coder.url, llama.url, "  code_gen: [coder, llama]\n  general: [llama]"),
      workflows: { "daily_backup_review.yaml": seedAiStep() },
    });
    daemon = await startDaemon({ configDir, dataDir: join(dir, "data"), env });
  });

  afterAll(async () => {
    await daemon?.stop();
    await Promise.all([coder.stop(), llama.stop()]);
    cleanup();
  });

  it("runs the seed's ai step with model: code_gen; when the first model returns 500 the second serves, recorded in the output and the audit log", async () => {
    coder.reply({ status: 500, message: "GPU on fire" });
    llama.reply({ text: "Use set -euo pipefail and quote the date.", usage: { input: 30, output: 9 } });
    const run = await api("POST", "/api/workflows/daily_backup_review/run?wait=1", {});
    expect(run.status).toBe(200);
    expect(run.body.status).toBe("succeeded");
    const output = run.body.steps.find((step: Json) => step.path === "model_update").output;
    expect(output).toEqual({
      text: "Use set -euo pipefail and quote the date.",
      model: "llama",
      usage: { input_tokens: 30, output_tokens: 9 },
      cached: false,
      finish_reason: "stop",
    });
    expect(coder.requests[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect((llama.requests[0]!.body.messages as Json[])[0].content).toBe("检查备份脚本是否存在安全隐患,提出改进建议");

    // The same request again: coder is cooling down, llama's answer comes from the cache.
    const again = await api("POST", "/api/workflows/daily_backup_review/run?wait=1", {});
    expect(again.body.steps.find((step: Json) => step.path === "model_update").output).toMatchObject({ cached: true, model: "llama" });
    expect(llama.requests).toHaveLength(1);

    const audit = readFileSync(join(dir, "data", "audit.log"), "utf8");
    const calls = audit
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.type === "model-call");
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({
      actor: { workflow: "daily_backup_review", step: "model_update" },
      details: {
        target: "code_gen",
        model: "llama",
        provider: "ollama",
        inputTokens: 30,
        outputTokens: 9,
        cached: false,
        fellThrough: [{ model: "coder" }],
      },
    });
    expect(calls[1].details).toMatchObject({ cached: true });
    expect(audit).not.toContain(OPENAI_KEY);

    const overview = await api("GET", "/api/models");
    expect(overview.body.cache).toMatchObject({ hits: 1, misses: 1 });
    expect(overview.body.models.find((model: Json) => model.name === "coder").health.state).toBe("cooling_down");
  });

  it("serves the matrix as an OpenAI-compatible endpoint, to the official openai client, streaming and not", async () => {
    const client = new OpenAI({ baseURL: `${daemon.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const listed = await client.models.list();
    expect(listed.data.map((model) => model.id).sort()).toEqual(["code_gen", "coder", "general", "llama"]);

    llama.reply({ text: "plain answer", usage: { input: 4, output: 2 } });
    const completion = await client.chat.completions.create({ model: "general", messages: [{ role: "user", content: "hello" }] });
    expect(completion.model).toBe("llama");
    expect(completion.choices[0]!.message.content).toBe("plain answer");
    expect(completion.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });

    llama.reply({ text: "streamed answer here", chunks: ["streamed ", "answer ", "here"], usage: { input: 5, output: 3 } });
    const stream = await client.chat.completions.create({
      model: "general",
      messages: [{ role: "user", content: "stream please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let usage: Json;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas.join("")).toBe("streamed answer here");
    expect(deltas.length).toBeGreaterThan(1);
    expect(finish).toBe("stop");
    expect(usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3 });

    // Tool calls pass through, both ways.
    const call = { id: "call_7", name: "get_weather", arguments: { city: "Oslo" } };
    llama.reply({ toolCalls: [call] }, { toolCalls: [call] });
    const tools = [
      {
        type: "function" as const,
        function: { name: "get_weather", description: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
      },
    ];
    const withTools = await client.chat.completions.create({ model: "general", messages: [{ role: "user", content: "weather?" }], tools });
    expect(withTools.choices[0]!.finish_reason).toBe("tool_calls");
    const toolCall = withTools.choices[0]!.message.tool_calls![0]! as Json;
    expect(toolCall.function).toEqual({ name: "get_weather", arguments: '{"city":"Oslo"}' });
    expect((llama.requests.at(-1)!.body.tools as Json[])[0].function.name).toBe("get_weather");
    const streamedTools = await client.chat.completions.create({
      model: "general",
      messages: [{ role: "user", content: "weather again?" }],
      tools,
      stream: true,
    });
    const streamedCalls: Json[] = [];
    for await (const chunk of streamedTools) streamedCalls.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
    expect(streamedCalls).toMatchObject([{ index: 0, function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }]);

    // A stream cut by the model server mid-answer reaches the client as an error, not as a short answer.
    llama.reply({ text: "this answer will be cut off", dropAfterChunks: 2 });
    const cut = await client.chat.completions.create({ model: "general", messages: [{ role: "user", content: "cut" }], stream: true });
    await expect(
      (async () => {
        for await (const chunk of cut) void chunk;
      })(),
    ).rejects.toThrow(/connection dropped while streaming/);

    // A client that goes away aborts the model call upstream.
    llama.reply({ text: "too slow to matter", delayMs: 5000 });
    const controller = new AbortController();
    const abandoned = client.chat.completions.create(
      { model: "general", messages: [{ role: "user", content: "never mind" }] },
      { signal: controller.signal },
    );
    await waitFor(
      () =>
        llama.requests.at(-1)?.body.messages !== undefined && (llama.requests.at(-1)!.body.messages as Json[])[0].content === "never mind",
    );
    controller.abort();
    await expect(abandoned).rejects.toThrow();
    await waitFor(() => llama.abandoned === 1);

    // Same token as /api; a wrong one is refused; an unknown model is a clear 404.
    const stranger = new OpenAI({ baseURL: `${daemon.url}/v1`, apiKey: "wrong", maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toMatchObject({ status: 401 });
    await expect(
      client.chat.completions.create({ model: "translation", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining('no task type or model named "translation"'),
    });
  });

  it("switches routing live with PUT /api/config/models, shows the config with keys redacted, and refuses bad bodies", async () => {
    const current = await api("GET", "/api/config/models");
    expect(current.body.models.coder.api_key).toBe("[redacted]");
    expect(JSON.stringify(current.body)).not.toContain(OPENAI_KEY);

    const bad = await api("PUT", "/api/config/models", { models: current.body.models, routing: { general: ["nobody"] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('routing.general.0: no model named "nobody"');

    const models = {
      coder: { provider: "openai", base_url: coder.url, model: "qwen2.5-coder", max_retries: 0 },
      llama: { provider: "ollama", base_url: llama.url, model: "llama3.2" },
    };
    const put = await api("PUT", "/api/config/models", { models, routing: { general: ["coder"] } });
    expect(put.status).toBe(200);
    coder.reply({ text: "coder now" });
    const answer = await api("POST", "/v1/chat/completions", { model: "general", messages: [{ role: "user", content: "who?" }] });
    expect(answer.body.model).toBe("coder");
  });

  it("applies an edited config.yaml without a restart, and again on SIGHUP", async () => {
    writeFileSync(join(configDir, "config.yaml"), configYaml(coder.url, llama.url, "  general: [llama]\n  summarize: [llama]"));
    await waitFor(async () => Object.keys((await api("GET", "/api/models")).body.routing).includes("summarize"));

    // A broken edit is logged and the routing stays.
    writeFileSync(join(configDir, "config.yaml"), configYaml(coder.url, llama.url, "  general: [ghost]"));
    await waitFor(() => daemon.output().includes("model config not applied"));
    expect((await api("GET", "/api/models")).body.routing.general).toEqual(["llama"]);

    writeFileSync(join(configDir, "config.yaml"), configYaml(coder.url, llama.url, "  general: [coder]\n  on_hup: [coder]"));
    await waitFor(async () => Object.keys((await api("GET", "/api/models")).body.routing).includes("on_hup"));

    // SIGHUP re-reads the file even when it did not change: a PUT's in-memory routing gives way to it.
    const models = {
      coder: { provider: "openai", base_url: coder.url, model: "qwen2.5-coder" },
      llama: { provider: "ollama", base_url: llama.url, model: "llama3.2" },
    };
    expect((await api("PUT", "/api/config/models", { models, routing: { via_put: ["llama"] } })).status).toBe(200);
    expect((await api("GET", "/api/models")).body.routing).toEqual({ via_put: ["llama"] });
    daemon.child.kill("SIGHUP");
    await waitFor(async () => Object.keys((await api("GET", "/api/models")).body.routing).includes("on_hup"));
    expect((await api("GET", "/api/models")).body.routing).toEqual({ general: ["coder"], on_hup: ["coder"] });
  });

  it("lists and probes models from the CLI against the running daemon", async () => {
    const cliEnv = { ...env };
    const listed = await runCli(["models", "list", "--config", configDir, "--port", String(daemon.port), "--json"], { env: cliEnv });
    expect(listed.code).toBe(0);
    const overview = JSON.parse(listed.stdout);
    expect(overview.source).toBe("daemon");
    expect(overview.models.map((model: Json) => model.name)).toEqual(["coder", "llama"]);

    const table = await runCli(["models", "list", "--config", configDir, "--port", String(daemon.port)], { env: cliEnv });
    expect(table.stdout).toMatch(/NAME\s+PROVIDER\s+ENDPOINT\s+MODEL\s+TASK TYPES\s+HEALTH/);
    expect(table.stdout).toMatch(/coder\s+openai\s+http:\/\/127\.0\.0\.1:\d+\/v1\s+qwen2\.5-coder\s+general,on_hup/);
    expect(table.stdout).toMatch(/cache: on, \d+ hits/);

    coder.reply({ text: "ok", usage: { input: 6, output: 1 } });
    const probe = await runCli(["models", "test", "general", "--config", configDir, "--port", String(daemon.port)], { env: cliEnv });
    expect(probe.code).toBe(0);
    expect(probe.stdout).toMatch(/^served by coder \(for general\) in \d+ ms, 6 input \/ 1 output tokens: "ok"/);

    coder.reply({ status: 401, message: "bad key" });
    const failed = await runCli(["models", "test", "coder", "--config", configDir, "--port", String(daemon.port)], { env: cliEnv });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("authentication failed");
  });

  it("works from the config alone when no daemon runs", async () => {
    const offline = join(dir, "offline");
    writeConfigDir(offline, {
      config: configYaml(coder.url, llama.url, "  general: [llama]").replace("server: { token: env:E2E_TOKEN }", "server: { port: 1 }"),
    });
    const listed = await runCli(["models", "list", "--config", offline, "--json"], { env });
    expect(JSON.parse(listed.stdout)).toMatchObject({ source: "config", routing: { general: ["llama"] } });
    llama.reply({ text: "fine" });
    const probe = await runCli(["models", "test", "general", "--config", offline], { env });
    expect(probe.code).toBe(0);
    expect(probe.stdout).toContain("served by llama (for general)");
    const missing = await runCli(["models", "test", "nothing", "--config", offline], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no task type or model named "nothing"');

    // A foreground `localagent run` routes its ai step through the same matrix.
    const file = join(dir, "ask.yaml");
    writeFileSync(file, seedAiStep().replace("model: code_gen", "model: general"));
    llama.reply({ text: "reviewed in the foreground" });
    const run = await runCli(["run", file, "--json", "--config", offline, "--data-dir", join(dir, "offline-data")], { env });
    expect(run.code).toBe(0);
    const record = JSON.parse(run.stdout);
    expect(JSON.stringify(record)).toContain("reviewed in the foreground");
    expect(JSON.stringify(record)).toContain('"model":"llama"');
  });
});
