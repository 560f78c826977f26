import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.js";
import { EventBus } from "../events/index.js";
import { createLogger } from "../logger/index.js";
import { entryHash, GENESIS_HASH, REDACTED, redactSecrets } from "./audit-entry.js";
import { AuditLog, readAuditEntries, verifyAuditLog } from "./audit-log.js";
import { createAuditAlerter, matchesRule, renderAlert, subscribeAuditRecorder } from "./audit-recorder.js";

const T0 = Date.UTC(2026, 0, 1, 12);
const logger = createLogger({ level: "silent" });

describe("AuditLog", () => {
  let dir: string;
  let file: string;
  let clock: ManualClock;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-audit-"));
    file = join(dir, "audit.log");
    clock = new ManualClock(T0);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function writeEntries(count: number, log = new AuditLog({ file, clock, durability: "power" })): AuditLog {
    for (let index = 0; index < count; index += 1) {
      log.record({ type: "step-finished", actor: { workflow: "wf", run: "r1", step: `s${index}` }, details: { status: "succeeded" } });
      clock.advance(10);
    }
    return log;
  }

  it("writes one hash-chained JSON line per entry", () => {
    writeEntries(3).close();
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const entries = lines.map((line) => JSON.parse(line) as { seq: number; prev: string; hash: string; at: string });
    expect(entries.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    expect(entries[0]?.prev).toBe(GENESIS_HASH);
    expect(entries[1]?.prev).toBe(entries[0]?.hash);
    expect(entries[2]?.prev).toBe(entries[1]?.hash);
    expect(entries[0]?.at).toBe(new Date(T0).toISOString());
    for (const entry of readAuditEntries(file)) expect(entry.hash).toBe(entryHash(entry));
    expect(verifyAuditLog(file)).toEqual({ ok: true, entries: 3 });
  });

  it("resumes the chain after a restart from the last line", () => {
    writeEntries(2).close();
    const second = writeEntries(2, new AuditLog({ file, clock, durability: "process" }));
    second.close();
    expect(readAuditEntries(file).map((entry) => entry.seq)).toEqual([1, 2, 3, 4]);
    expect(verifyAuditLog(file)).toEqual({ ok: true, entries: 4 });
  });

  it("picks up entries another writer appended in between", () => {
    const first = new AuditLog({ file, clock, durability: "process" });
    const second = new AuditLog({ file, clock, durability: "process" });
    first.record({ type: "a" });
    second.record({ type: "b" });
    first.record({ type: "c" });
    first.close();
    second.close();
    expect(verifyAuditLog(file)).toEqual({ ok: true, entries: 3 });
  });

  it("verifies an empty or missing log as intact", () => {
    expect(verifyAuditLog(file)).toEqual({ ok: true, entries: 0 });
  });

  describe("tampering", () => {
    beforeEach(() => writeEntries(5).close());

    it("detects one edited byte", () => {
      const text = readFileSync(file, "utf8");
      const offset = text.indexOf('"s2"') + 2;
      writeFileSync(file, `${text.slice(0, offset)}X${text.slice(offset + 1)}`);
      expect(verifyAuditLog(file)).toMatchObject({ ok: false, line: 3, seq: 3, entries: 2 });
    });

    it("detects an edit that re-computes the entry's own hash (the next entry's prev no longer matches)", () => {
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      const entry = JSON.parse(lines[1] ?? "") as Parameters<typeof entryHash>[0];
      entry.details = { status: "failed" };
      lines[1] = JSON.stringify({ ...entry, hash: entryHash(entry) });
      writeFileSync(file, `${lines.join("\n")}\n`);
      expect(verifyAuditLog(file)).toMatchObject({ ok: false, line: 3, seq: 3 });
    });

    it("detects a deleted line", () => {
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      lines.splice(2, 1);
      writeFileSync(file, `${lines.join("\n")}\n`);
      expect(verifyAuditLog(file)).toMatchObject({ ok: false, line: 3, seq: 4 });
    });

    it("detects lines cut off the end (the head file remembers the last entry)", () => {
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      writeFileSync(file, `${lines.slice(0, 4).join("\n")}\n`);
      expect(verifyAuditLog(file)).toMatchObject({ ok: false, line: 5, seq: 5, entries: 4 });
      expect(verifyAuditLog(file)).toMatchObject({ reason: expect.stringMatching(/removed from the end/) });
      writeFileSync(file, "");
      expect(verifyAuditLog(file)).toMatchObject({ ok: false, line: 1, seq: 1 });
    });

    it("detects two swapped lines", () => {
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      [lines[1], lines[2]] = [lines[2] ?? "", lines[1] ?? ""];
      writeFileSync(file, `${lines.join("\n")}\n`);
      expect(verifyAuditLog(file)).toMatchObject({ ok: false, line: 2, seq: 3 });
    });

    it("detects a line that is no longer JSON", () => {
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      lines[0] = (lines[0] ?? "").slice(0, 20);
      writeFileSync(file, `${lines.join("\n")}\n`);
      expect(verifyAuditLog(file)).toMatchObject({ ok: false, line: 1 });
    });
  });

  it("never writes secrets: secret keys and configured secret values are redacted before hashing", () => {
    const log = new AuditLog({ file, clock, durability: "process", secrets: ["hunter2-very-secret"] });
    log.record({
      type: "policy-decision",
      actor: { workflow: "wf" },
      details: {
        command: "curl -H 'X-Key: hunter2-very-secret' https://example.com",
        headers: { Authorization: "Bearer abcdefghijklmnop", accept: "json" },
        api_key: "k-123",
        nested: [{ password: "pw" }],
        shell: "curl -H 'Authorization: Bearer zyxwvutsrqponm' x",
      },
    });
    log.close();
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("hunter2-very-secret");
    expect(text).not.toContain("abcdefghijklmnop");
    expect(text).not.toContain("zyxwvutsrqponm");
    expect(text).not.toContain("k-123");
    const [entry] = readAuditEntries(file);
    expect(entry?.details).toMatchObject({
      command: `curl -H 'X-Key: ${REDACTED}' https://example.com`,
      headers: { Authorization: REDACTED, accept: "json" },
      api_key: REDACTED,
      nested: [{ password: REDACTED }],
    });
    expect(verifyAuditLog(file).ok).toBe(true);
  });

  it("redactSecrets leaves ordinary values alone", () => {
    expect(redactSecrets({ a: 1, b: "text", c: null, d: [true] }, ["secret-value"])).toEqual({ a: 1, b: "text", c: null, d: [true] });
  });
});

describe("audit recorder and alerts", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-audit-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("records run, step, trigger, delivery and approval events with who caused them", () => {
    const file = join(dir, "audit.log");
    const clock = new ManualClock(T0);
    const log = new AuditLog({ file, clock, durability: "process" });
    const events = new EventBus();
    subscribeAuditRecorder(events, (input) => log.record(input), logger);
    events.emit({ type: "trigger-fired", workflow: "wf", trigger: "event:x", at: T0 });
    events.emit({ type: "run-queued", runId: "r1", workflow: "wf", trigger: "event:x", at: T0 });
    events.emit({ type: "step-started", runId: "r1", step: "s", attempt: 1, stepType: "shell", at: T0 });
    events.emit({ type: "step-output", runId: "r1", step: "s", stream: "stdout", text: "noise", at: T0 });
    events.emit({ type: "step-finished", runId: "r1", step: "s", status: "failed", durationMs: 5, error: "exit code 2", at: T0 });
    events.emit({ type: "delivery-queued", deliveryId: 1, destination: "webhook:https://h.example/x?token=abc", at: T0 });
    events.emit({
      type: "approval-decided",
      approvalId: "ap_1",
      runId: "r1",
      workflow: "wf",
      step: "s",
      decision: "denied",
      by: "cli:ada",
      at: T0,
    });
    log.close();
    const entries = readAuditEntries(file);
    expect(entries.map((entry) => entry.type)).toEqual([
      "trigger-fired",
      "run-queued",
      "step-started",
      "step-finished",
      "delivery-queued",
      "approval-decided",
    ]);
    expect(entries[3]).toMatchObject({
      actor: { workflow: "wf", run: "r1", step: "s" },
      details: { status: "failed", error: "exit code 2" },
    });
    expect(entries[4]?.details.destination).toBe("webhook:https://h.example/x");
    expect(entries[5]).toMatchObject({ actor: { user: "cli:ada" }, details: { decision: "denied" } });
  });

  it("matches alert rules and queues one notification per matching entry, keyed by the entry hash", () => {
    const file = join(dir, "audit.log");
    const queued: Array<{ destination: string; payload: unknown; idempotencyKey: string }> = [];
    const alert = createAuditAlerter({
      rules: [
        { match: { type: "policy-decision", decision: "deny" }, notify: "hook", message: "denied {{ command }} in {{ actor.workflow }}" },
      ],
      queue: {
        enqueue: (delivery) => {
          queued.push(delivery);
          return queued.length;
        },
      },
      platforms: { hook: { type: "webhook", url: "https://alerts.example/hook" } },
      logger,
    });
    const log = new AuditLog({ file, clock: new ManualClock(T0), durability: "process", onEntry: alert });
    log.record({
      type: "policy-decision",
      actor: { workflow: "wf" },
      details: { command: "rm -rf /", decision: "deny", rule: "destructive" },
    });
    log.record({ type: "policy-decision", actor: { workflow: "wf" }, details: { command: "ls", decision: "allow" } });
    log.close();
    expect(queued).toHaveLength(1);
    expect(queued[0]?.destination).toBe("webhook:https://alerts.example/hook");
    expect(queued[0]?.payload).toMatchObject({ message: "denied rm -rf / in wf", url: "https://alerts.example/hook" });
    expect(queued[0]?.idempotencyKey).toMatch(/^audit:[0-9a-f]{64}:0$/);
  });

  it("matchesRule accepts lists and actor fields; renderAlert fills placeholders", () => {
    const entry = {
      seq: 7,
      at: "x",
      type: "step-finished",
      actor: { workflow: "backup" },
      details: { status: "failed" },
      prev: GENESIS_HASH,
      hash: "h",
    };
    expect(matchesRule(entry, { type: ["step-finished", "run-finished"], status: "failed", workflow: "backup" })).toBe(true);
    expect(matchesRule(entry, { type: "step-finished", status: "succeeded" })).toBe(false);
    expect(renderAlert("#{{ seq }} {{ type }} {{ workflow }} {{ details }}", entry)).toBe('#7 step-finished backup {"status":"failed"}');
  });
});
