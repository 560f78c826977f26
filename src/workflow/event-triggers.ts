import { homedir } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import type { z } from "zod";
import { parseDuration } from "../duration/index.js";
import { errorMessage } from "../errors/index.js";
import { checkPayloadSchema } from "./payload-schema.js";
import type { eventTriggerObjectSchema } from "./schema.js";
import type { EventTriggerDefinition, FileChangeKind, WorkflowIssue } from "./types.js";
import type { PathSegment, YamlSource } from "./yaml-source.js";

/** Quiet time before a burst of changes to one file fires once, unless `debounce:` says otherwise. */
export const DEFAULT_FILE_DEBOUNCE_MS = 200;
const ALL_FILE_EVENTS: FileChangeKind[] = ["add", "change", "unlink"];

type EventTriggerObject = z.infer<typeof eventTriggerObjectSchema>;

/**
 * Turns `on:` entries (and event-like `trigger:` strings) into event triggers:
 * `deploy`, `event:deploy`, `file:logs/*.log`, `chat:/deploy`, or `{event|file|chat, schema, events, debounce}`.
 */
export class EventTriggerParser {
  constructor(
    private readonly source: YamlSource,
    private readonly issues: WorkflowIssue[],
  ) {}

  /** One entry of `on:` as validated by zod (a string or the object form). */
  entry(entry: string | EventTriggerObject, path: PathSegment[]): EventTriggerDefinition | undefined {
    return typeof entry === "string" ? this.text(entry, path) : this.object(entry, path);
  }

  /** `deploy`, `event:deploy`, `file:GLOB`, `chat:/CMD`. */
  text(text: string, path: PathSegment[]): EventTriggerDefinition | undefined {
    const name = text
      .trim()
      .replace(/^event:/, "")
      .trim();
    if (name === "") return this.fail(path, "empty event name");
    const kind = /^(file|chat):/i.exec(name)?.[1]?.toLowerCase();
    if (kind === "file") return this.file(name.slice(5), path);
    if (kind === "chat") return this.chat(name.slice(5), path);
    return { kind: "event", name };
  }

  private object(entry: EventTriggerObject, path: PathSegment[]): EventTriggerDefinition | undefined {
    const given = (["event", "file", "chat"] as const).filter((key) => entry[key] !== undefined);
    if (given.length !== 1) {
      const message =
        given.length === 0 ? "give one of event:, file: or chat:" : `give only one of event:, file: or chat: (found ${given.join(", ")})`;
      return this.fail(path, message, given[1]);
    }
    const key = given[0] ?? "event";
    const value = entry[key] ?? "";
    const at = [...path, key];
    const trigger = key === "file" ? this.file(value, at) : key === "chat" ? this.chat(value, at) : this.text(value, at);
    if (!trigger) return undefined;
    if (!trigger.file) {
      for (const option of ["events", "debounce"] as const) {
        if (entry[option] !== undefined) this.fail(path, `${option}: applies to file triggers only`, option);
      }
    } else {
      if (entry.events !== undefined) trigger.file.events = [...new Set(entry.events)];
      if (entry.debounce !== undefined) trigger.file.debounceMs = this.duration(entry.debounce, [...path, "debounce"]);
    }
    if (entry.schema !== undefined) {
      const problems = checkPayloadSchema(entry.schema);
      for (const problem of problems) {
        const where = problem.path.length > 0 ? ` at ${problem.path.join(".")}` : "";
        this.fail([...path, "schema", ...problem.path], `invalid payload schema${where}: ${problem.message}`);
      }
      if (problems.length === 0) trigger.schema = entry.schema;
    }
    return trigger;
  }

  private file(pattern: string, path: PathSegment[]): EventTriggerDefinition | undefined {
    const written = pattern.trim();
    if (written === "") return this.fail(path, "file trigger without a path: write file:/var/log/*.log");
    if (written.includes("\0")) return this.fail(path, "file trigger path contains a NUL byte");
    const expanded = written === "~" || written.startsWith("~/") ? homedir() + written.slice(1) : written;
    // Relative globs follow the workflow file, not the daemon's working directory, so a file means the same wherever it is started.
    const glob = isAbsolute(expanded) ? expanded : resolve(dirname(resolve(this.source.file)), expanded);
    return {
      kind: "event",
      name: `file:${glob}`,
      file: { glob, events: [...ALL_FILE_EVENTS], debounceMs: DEFAULT_FILE_DEBOUNCE_MS },
    };
  }

  private chat(command: string, path: PathSegment[]): EventTriggerDefinition | undefined {
    const trimmed = command.trim();
    const normalized = trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
    if (!/^\/[A-Za-z0-9_][\w.-]*$/.test(normalized)) {
      return this.fail(path, `chat command "${trimmed}" must be one word such as /deploy`);
    }
    return { kind: "event", name: `chat:${normalized}` };
  }

  private duration(value: string | number, path: PathSegment[]): number {
    try {
      return parseDuration(value);
    } catch (error) {
      this.fail(path, errorMessage(error));
      return DEFAULT_FILE_DEBOUNCE_MS;
    }
  }

  private fail(path: PathSegment[], message: string, key?: string): undefined {
    this.issues.push(this.source.issue(path, message, key));
    return undefined;
  }
}
