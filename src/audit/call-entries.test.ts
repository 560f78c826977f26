import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { systemClock } from "../clock/index.js";
import { AuditLog, readAuditEntries, recordModelCall, recordToolCall, verifyAuditLog, type ModelCallRecord } from "./index.js";

const temp = makeTempDir("localagent-audit-calls-");
afterAll(() => temp.cleanup());

describe("model-call and tool-call audit entries", () => {
  const file = join(temp.dir, "audit.log");
  const log = new AuditLog({ file, clock: systemClock, durability: "process", secrets: ["sk-live-abcdef123456"] });
  const actor = { workflow: "triage", run: "run_1", step: "classify" };

  it("records a model call with tokens, duration, cache and served-by, and nothing else", () => {
    const call = {
      model: "qwen2.5-7b-instruct",
      provider: "llama-cpp",
      inputTokens: 812,
      outputTokens: 64,
      durationMs: 1234.5678,
      cached: false,
      servedBy: "llama-cpp/qwen2.5-7b-instruct",
      status: "ok",
      // Not part of the record: must never reach the log.
      prompt: "summarize this: password=hunter2",
      apiKey: "sk-live-abcdef123456",
      headers: { authorization: "Bearer sk-live-abcdef123456" },
    } as ModelCallRecord;
    const entry = log.modelCall(call, actor);
    expect(entry).toMatchObject({
      type: "model-call",
      actor,
      details: {
        model: "qwen2.5-7b-instruct",
        provider: "llama-cpp",
        inputTokens: 812,
        outputTokens: 64,
        durationMs: 1234.57,
        cached: false,
        servedBy: "llama-cpp/qwen2.5-7b-instruct",
        status: "ok",
      },
    });
    expect(Object.keys(entry.details).sort()).toEqual([
      "cached",
      "durationMs",
      "inputTokens",
      "model",
      "outputTokens",
      "provider",
      "servedBy",
      "status",
    ]);
    expect(JSON.stringify(entry)).not.toMatch(/hunter2|sk-live|prompt/);
  });

  it("records a failed model call with its error, secrets redacted", () => {
    const entry = log.modelCall(
      { model: "gpt-4o-mini", provider: "openai", durationMs: 20, status: "error", error: "401 invalid key sk-live-abcdef123456" },
      actor,
    );
    expect(entry.details).toEqual({
      model: "gpt-4o-mini",
      provider: "openai",
      durationMs: 20,
      status: "error",
      error: "401 invalid key [redacted]",
    });
  });

  it("records tool calls with an argument summary (secret keys redacted, long values cut) and the decision", () => {
    const allowed = log.toolCall(
      {
        tool: "http.get",
        arguments: { url: "https://api.example.com/x", token: "t0ps3cret-value" },
        decision: "allow",
        status: "ok",
        durationMs: 12,
      },
      actor,
    );
    expect(allowed.details).toEqual({
      tool: "http.get",
      arguments: '{"url":"https://api.example.com/x","token":"[redacted]"}',
      decision: "allow",
      status: "ok",
      durationMs: 12,
    });
    const denied = log.toolCall({
      tool: "shell",
      arguments: { command: "x".repeat(2000) },
      decision: "deny",
      status: "denied",
      rule: "destroy.rm-root",
    });
    expect(denied.details).toMatchObject({ tool: "shell", decision: "deny", status: "denied", rule: "destroy.rm-root" });
    expect(String(denied.details.arguments)).toMatch(/^\{"command":"x+… \(2014 chars\)$/);
    expect(String(denied.details.arguments).length).toBeLessThan(530);
  });

  it("works through any recorder (the step services' audit) and keeps the chain valid", () => {
    recordModelCall(log, { model: "m", provider: "p", durationMs: 1, status: "ok", cached: true });
    recordToolCall(log, { tool: "t", decision: "ask", status: "error", error: "boom" });
    recordModelCall(undefined, { model: "m", provider: "p", durationMs: 1, status: "ok" });
    log.close();
    const entries = readAuditEntries(file);
    expect(entries.map((entry) => entry.type)).toEqual(["model-call", "model-call", "tool-call", "tool-call", "model-call", "tool-call"]);
    expect(entries[4]?.details).toMatchObject({ cached: true });
    expect(verifyAuditLog(file)).toEqual({ ok: true, entries: 6 });
  });
});
