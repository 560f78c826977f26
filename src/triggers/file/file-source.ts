import type { Clock } from "../../clock/index.js";
import type { Logger } from "../../logger/index.js";
import type { TriggerEmit, TriggerSource } from "../../scheduler/index.js";
import type { EventTriggerDefinition, FileChangeKind, WorkflowDefinition } from "../../workflow/index.js";
import { GlobWatch } from "./glob-watch.js";

export interface FileSourceOptions {
  clock: Clock;
  logger: Logger;
  /** How long to wait before looking again for a missing folder or after a broken watch (default 5 s). */
  retryMs?: number;
}

/** The payload of a file trigger: `trigger.path`, `trigger.event` in templates. */
export interface FileChangePayload {
  path: string;
  event: FileChangeKind;
}

/**
 * File changes (`on: file:/var/log/*.log`): one watch per glob of the enabled workflows' file
 * triggers, fired as `file:GLOB` with `{path, event}`. Workflows sharing a glob share its watch,
 * with the shortest debounce any of them asked for; each one's `events:` filter is applied
 * through `accepts`. A reload adds and removes watches without touching the others.
 */
export class FileSource implements TriggerSource {
  readonly name = "file";
  private readonly watches = new Map<string, GlobWatch>();
  private wanted = new Map<string, number>();
  private emit: TriggerEmit | undefined;

  constructor(private readonly options: FileSourceOptions) {}

  setWorkflows(workflows: readonly WorkflowDefinition[]): void {
    const wanted = new Map<string, number>();
    for (const workflow of workflows) {
      if (!workflow.enabled) continue;
      for (const trigger of workflow.triggers) {
        if (trigger.kind !== "event" || !trigger.file) continue;
        const { glob, debounceMs } = trigger.file;
        wanted.set(glob, Math.min(wanted.get(glob) ?? Infinity, debounceMs));
      }
    }
    this.wanted = wanted;
    if (this.emit) this.reconcile();
  }

  start(emit: TriggerEmit): void {
    this.emit = emit;
    this.reconcile();
  }

  stop(): void {
    this.emit = undefined;
    for (const watch of this.watches.values()) watch.close();
    this.watches.clear();
  }

  accepts(trigger: EventTriggerDefinition, payload: unknown): boolean {
    if (!trigger.file) return true;
    const event = (payload as Partial<FileChangePayload> | null)?.event;
    return event !== undefined && trigger.file.events.includes(event);
  }

  /** The globs watched now (for tests and diagnostics). */
  watchedGlobs(): string[] {
    return [...this.watches.keys()];
  }

  private reconcile(): void {
    for (const [glob, watch] of this.watches) {
      if (this.wanted.get(glob) === watch.debounceMs) continue;
      watch.close();
      this.watches.delete(glob);
    }
    for (const [glob, debounceMs] of this.wanted) {
      if (this.watches.has(glob)) continue;
      const watch = new GlobWatch({
        glob,
        debounceMs,
        clock: this.options.clock,
        logger: this.options.logger,
        retryMs: this.options.retryMs ?? 5000,
        onChange: (path, event) => this.changed(glob, path, event),
      });
      this.watches.set(glob, watch);
      watch.open();
    }
  }

  private changed(glob: string, path: string, event: FileChangeKind): void {
    const payload: FileChangePayload = { path, event };
    this.emit?.(`file:${glob}`, payload);
  }
}
