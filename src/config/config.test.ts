import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalAgentError } from "../errors/index.js";
import { defaultConfigDir, defaultDataDir, loadConfig } from "./config.js";

describe("loadConfig", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("applies defaults when there is no config.yaml", () => {
    const config = loadConfig({ configDir: dir, env: { HOME: "/home/ada" } });
    expect(config.configFile).toBeUndefined();
    expect(config.workflowsDir).toBe(join(dir, "workflows"));
    expect(config.server).toEqual({ host: "127.0.0.1", port: 8080, token: undefined });
    expect(config.durability).toBe("process");
    expect(config.shutdownGraceMs).toBe(10_000);
    expect(config.maxOutputBytes).toBe(1024 * 1024);
  });

  it("uses XDG and LOCALAGENT_* locations", () => {
    expect(defaultConfigDir({ XDG_CONFIG_HOME: "/x" })).toBe("/x/localagent");
    expect(defaultConfigDir({ LOCALAGENT_CONFIG: "/etc/localai" })).toBe("/etc/localai");
    expect(defaultDataDir({ XDG_DATA_HOME: "/d" })).toBe("/d/localagent");
    expect(defaultDataDir({ LOCALAGENT_DATA_DIR: "/var/lib/localagent" })).toBe("/var/lib/localagent");
  });

  it("reads the file, resolves relative paths and lets flags win", () => {
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "server: { port: 9000, token: env:MY_TOKEN }",
        "data_dir: state",
        "durability: power",
        "shutdown_grace: 2s",
        "memory_limit: 6g",
        "notifications:",
        "  telegram: { type: webhook, url: 'http://127.0.0.1:9/hook', headers: { authorization: 'env:HOOK' } }",
        'models: { coder: { provider: openai, base_url: "http://127.0.0.1:8000/v1", model: qwen } }',
      ].join("\n"),
    );
    const config = loadConfig({
      configDir: dir,
      port: 7000,
      modelPath: "/models/a.gguf",
      platformConfig: "/p.json",
      cacheDir: "/c",
      env: { MY_TOKEN: "s3cret", HOOK: "Bearer x" },
    });
    expect(config.server.port).toBe(7000);
    expect(config.server.token).toBe("s3cret");
    expect(config.dataDir).toBe(join(dir, "state"));
    expect(config.durability).toBe("power");
    expect(config.shutdownGraceMs).toBe(2000);
    expect(config.memoryLimitBytes).toBe(6 * 1024 ** 3);
    expect(config.modelPath).toBe("/models/a.gguf");
    expect(config.platformConfig).toBe("/p.json");
    expect(config.cacheDir).toBe("/c");
    expect(config.notifications.telegram).toEqual({
      type: "webhook",
      url: "http://127.0.0.1:9/hook",
      headers: { authorization: "Bearer x" },
    });
    expect(config.extensions.models).toEqual({ coder: { provider: "openai", base_url: "http://127.0.0.1:8000/v1", model: "qwen" } });
  });

  it("names file, line, column and field for a bad value or an unknown field", () => {
    writeFileSync(join(dir, "config.yaml"), "server:\n  port: eighty\nlog_levle: debug\n");
    let error: unknown;
    try {
      loadConfig({ configDir: dir, env: {} });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LocalAgentError);
    const message = (error as LocalAgentError).message;
    expect(message).toContain(`${join(dir, "config.yaml")}:2:9: server.port:`);
    expect(message).toContain(`${join(dir, "config.yaml")}:3:1: unknown field "log_levle"`);
  });

  it("reports YAML syntax errors with their position", () => {
    writeFileSync(join(dir, "config.yaml"), "server: [\n");
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/config\.yaml:\d+:\d+: YAML syntax/);
  });

  it("says which environment variable a secret is missing from, without any value", () => {
    writeFileSync(join(dir, "config.yaml"), "server: { token: env:NOT_SET_ANYWHERE }\n");
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/server\.token: environment variable NOT_SET_ANYWHERE is not set/);
  });

  it("requires a url for webhook notification targets", () => {
    writeFileSync(join(dir, "config.yaml"), "notifications:\n  ops: { type: webhook }\n");
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/notifications\.ops\.url: a webhook target needs url:/);
  });
});

describe("secrets", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads file:/path and env:NAME secrets and lists their values for redaction", () => {
    writeFileSync(join(dir, "token.txt"), "file-token-123\n");
    writeFileSync(
      join(dir, "config.yaml"),
      [
        `server: { token: "file:${join(dir, "token.txt")}" }`,
        "notifications:",
        '  hook: { type: webhook, url: "https://h.example/x", headers: { X-Api-Key: "env:HOOK_KEY" } }',
        "",
      ].join("\n"),
    );
    const config = loadConfig({ configDir: dir, env: { HOOK_KEY: "env-key-456" } });
    expect(config.server.token).toBe("file-token-123");
    expect(config.notifications.hook?.headers).toEqual({ "X-Api-Key": "env-key-456" });
    expect(config.secrets.sort()).toEqual(["env-key-456", "file-token-123"]);
  });

  it("names the field and the file when a secret file cannot be read", () => {
    writeFileSync(join(dir, "config.yaml"), 'server: { token: "file:/nonexistent/token" }\n');
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/server\.token: cannot read secret file \/nonexistent\/token/);
  });

  it("validates audit alert rules and the approvals timeout", () => {
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "audit:",
        "  alerts:",
        "    - match: { type: policy-decision, decision: deny }",
        "      notify: log",
        "approvals: { timeout: 30m }",
        "",
      ].join("\n"),
    );
    const config = loadConfig({ configDir: dir, env: {} });
    expect(config.audit.alerts).toEqual([{ match: { type: "policy-decision", decision: "deny" }, notify: "log", message: undefined }]);
    expect(config.approvals.timeoutMs).toBe(30 * 60_000);
    writeFileSync(join(dir, "config.yaml"), "audit:\n  alerts:\n    - match: { type: x }\n      notify: log\n      bogus: 1\n");
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/bogus/);
  });
  it("accepts routing: naming the model `default` when --model-path is given only on the command line", () => {
    writeFileSync(
      join(dir, "config.yaml"),
      ["routing:", "  general: [default]", "cache: { warmup: [{ model: default, prompt: hi }] }", ""].join("\n"),
    );
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/routing\.general\.0: no model named "default"/);
    const config = loadConfig({ configDir: dir, modelPath: "/models/a.gguf", env: {} });
    expect(config.modelPath).toBe("/models/a.gguf");
    expect(config.extensions.routing).toEqual({ general: ["default"] });
  });

  it("reads conversations: and names a bad field with its place", () => {
    writeFileSync(
      join(dir, "config.yaml"),
      ["conversations:", "  model: chat", "  tools: [shell, read_file]", "  max_turns: 3", ""].join("\n"),
    );
    expect(loadConfig({ configDir: dir, env: {} }).extensions.conversations).toEqual({
      model: "chat",
      tools: ["shell", "read_file"],
      max_turns: 3,
    });
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "models: { local: { provider: openai, base_url: 'http://127.0.0.1:9/v1', model: m } }",
        "routing: { general: [local] }",
        "conversations: { model: chatty }",
        "",
      ].join("\n"),
    );
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(
      /config\.yaml:3:\d+: conversations\.model: no task type .* named "chatty" \(task types: general; models: local\)/,
    );
    expect(loadConfig({ configDir: dir, modelPath: "/m.gguf", env: {} }).extensions.conversations).toEqual({ model: "chatty" });
    writeFileSync(join(dir, "config.yaml"), ["conversations:", "  tools: [shell, rm_rf]", ""].join("\n"));
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/config\.yaml:2:\d+: conversations\.tools/);
  });
});
