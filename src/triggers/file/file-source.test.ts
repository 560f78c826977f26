import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../clock/index.js";
import { createSilentLogger } from "../../logger/index.js";
import type { TriggerOutcome } from "../../scheduler/index.js";
import type { EventTriggerDefinition, FileChangeKind } from "../../workflow/index.js";
import { makeTempDir } from "../../../test/helpers/index.js";
import { describeTriggerSourceConformance, testWorkflow } from "../trigger-source.conformance.js";
import { FileSource } from "./file-source.js";

const ALL: FileChangeKind[] = ["add", "change", "unlink"];

function fileTrigger(glob: string, debounceMs = 30, events: FileChangeKind[] = ALL): EventTriggerDefinition {
  return { kind: "event", name: `file:${glob}`, file: { glob, events, debounceMs } };
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeTriggerSourceConformance("FileSource", () => {
  const temp = makeTempDir("localagent-file-source-");
  const source = new FileSource({ clock: systemClock, logger: createSilentLogger() });
  source.setWorkflows([testWorkflow("watcher", [fileTrigger(join(temp.dir, "*.txt"))])]);
  return {
    source,
    event: `file:${join(temp.dir, "*.txt")}`,
    provoke: () => writeFileSync(join(temp.dir, "a.txt"), "hello"),
    waitMs: 3000,
    cleanup: temp.cleanup,
  };
});

describe("FileSource", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let source: FileSource;
  let emitted: Array<{ event: string; payload: { path: string; event: FileChangeKind } }>;

  beforeEach(() => {
    temp = makeTempDir("localagent-file-source-");
    source = new FileSource({ clock: systemClock, logger: createSilentLogger(), retryMs: 50 });
    emitted = [];
  });
  afterEach(() => {
    source.stop();
    temp.cleanup();
  });

  const start = (...triggers: EventTriggerDefinition[]): void => {
    source.setWorkflows([testWorkflow("watcher", triggers)]);
    source.start((event, payload): TriggerOutcome => {
      emitted.push({ event, payload: payload as { path: string; event: FileChangeKind } });
      return { event, runs: [], skipped: [], rejected: [] };
    });
  };
  const kinds = (): string[] => emitted.map((entry) => `${entry.payload.event} ${entry.payload.path.slice(temp.dir.length + 1)}`);

  it("fires add, change and unlink with {path, event}; files there before the start are not news", async () => {
    writeFileSync(join(temp.dir, "old.log"), "x");
    const glob = join(temp.dir, "*.log");
    start(fileTrigger(glob));
    const file = join(temp.dir, "app.log");
    writeFileSync(file, "one\n");
    await until(() => emitted.length === 1);
    expect(emitted[0]).toEqual({ event: `file:${glob}`, payload: { path: file, event: "add" } });
    appendFileSync(file, "two\n");
    await until(() => emitted.length === 2);
    rmSync(file);
    await until(() => emitted.length === 3);
    appendFileSync(join(temp.dir, "old.log"), "y");
    writeFileSync(join(temp.dir, "ignored.txt"), "not a log");
    await until(() => emitted.length === 4);
    await pause(150);
    expect(kinds()).toEqual(["add app.log", "change app.log", "unlink app.log", "change old.log"]);
  });

  it("fires once for a burst of writes to one file (debounce)", async () => {
    start(fileTrigger(join(temp.dir, "*.csv"), 100));
    const file = join(temp.dir, "export.csv");
    for (let line = 0; line < 20; line += 1) {
      appendFileSync(file, `${line}\n`);
      await pause(2);
    }
    await until(() => emitted.length === 1);
    await pause(300);
    expect(kinds()).toEqual(["add export.csv"]);
  });

  it("still fires for a file written without pause (at most ten debounce periods late)", async () => {
    start(fileTrigger(join(temp.dir, "*.log"), 20));
    const file = join(temp.dir, "busy.log");
    writeFileSync(file, "");
    await until(() => emitted.length === 1);
    const began = Date.now();
    while (Date.now() - began < 600 && emitted.length < 2) {
      appendFileSync(file, "line\n");
      await pause(5);
    }
    expect(kinds().slice(0, 2)).toEqual(["add busy.log", "change busy.log"]);
  });

  it("watches ** recursively, new sub-folders included", async () => {
    start(fileTrigger(join(temp.dir, "**", "*.json")));
    mkdirSync(join(temp.dir, "a", "b"), { recursive: true });
    await pause(100);
    writeFileSync(join(temp.dir, "a", "b", "deep.json"), "{}");
    writeFileSync(join(temp.dir, "top.json"), "{}");
    await until(() => emitted.length === 2);
    expect(kinds().sort()).toEqual(["add a/b/deep.json", "add top.json"]);
  });

  it("waits for a folder that does not exist yet, then reports what appears in it", async () => {
    const folder = join(temp.dir, "later");
    start(fileTrigger(join(folder, "*.txt")));
    await pause(80);
    mkdirSync(folder);
    writeFileSync(join(folder, "first.txt"), "1");
    await until(() => emitted.length === 1);
    expect(kinds()).toEqual(["add later/first.txt"]);
  });

  it("applies each trigger's events: filter through accepts", () => {
    const onlyAdd = fileTrigger("/x/*", 30, ["add"]);
    expect(source.accepts(onlyAdd, { path: "/x/a", event: "add" })).toBe(true);
    expect(source.accepts(onlyAdd, { path: "/x/a", event: "change" })).toBe(false);
    expect(source.accepts(onlyAdd, null)).toBe(false);
    expect(source.accepts({ kind: "event", name: "deploy" }, {})).toBe(true);
  });

  it("follows reloads: shared globs share one watch (shortest debounce), removed globs stop", async () => {
    const logs = join(temp.dir, "*.log");
    const texts = join(temp.dir, "*.txt");
    start(fileTrigger(logs, 200), fileTrigger(logs, 40), fileTrigger(texts));
    expect(source.watchedGlobs().sort()).toEqual([logs, texts].sort());
    source.setWorkflows([testWorkflow("watcher", [fileTrigger(logs, 40)]), testWorkflow("off", [fileTrigger(texts)], { enabled: false })]);
    expect(source.watchedGlobs()).toEqual([logs]);
    writeFileSync(join(temp.dir, "a.txt"), "x");
    writeFileSync(join(temp.dir, "a.log"), "x");
    await until(() => emitted.length === 1);
    await pause(150);
    expect(kinds()).toEqual(["add a.log"]);
  });
});
