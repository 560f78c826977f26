import { existsSync, readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import type { Clock, TimerHandle } from "../../clock/index.js";
import type { Logger } from "../../logger/index.js";
import type { FileChangeKind } from "../../workflow/index.js";
import { compileGlob, globBase } from "./glob.js";

export interface GlobWatchOptions {
  glob: string;
  debounceMs: number;
  clock: Clock;
  logger: Logger;
  /** How long to wait before watching again when the folder is missing or the watch broke. */
  retryMs: number;
  onChange: (path: string, event: FileChangeKind) => void;
}

/** A scan of a folder that large is cut short: a glob over `/` should not stall the daemon. */
const MAX_SCANNED_ENTRIES = 50_000;

interface Pending {
  timer: TimerHandle;
  firstAt: number;
}

/**
 * Watches the files matching one glob with `fs.watch` on the folder above its first wildcard
 * (recursive when matches can lie deeper). Events for one path are debounced: a burst fires once,
 * `debounceMs` after it went quiet (and at the latest after ten debounce periods, so a file written
 * without pause still fires). What fired is decided by comparing before and after the burst:
 * a file that was not there is `add`, one that is gone is `unlink`, otherwise `change`.
 */
export class GlobWatch {
  private readonly matches: (path: string) => boolean;
  private readonly base: string;
  private readonly recursive: boolean;
  private readonly known = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private watcher: FSWatcher | undefined;
  private retry: TimerHandle | undefined;
  private closed = false;
  /** Whether a first look has been taken (its files are not reported as added). */
  private armed = false;

  constructor(private readonly options: GlobWatchOptions) {
    this.matches = compileGlob(options.glob);
    ({ base: this.base, recursive: this.recursive } = globBase(options.glob));
  }

  get glob(): string {
    return this.options.glob;
  }

  get debounceMs(): number {
    return this.options.debounceMs;
  }

  /** Whether the folder is being watched now (false while it is missing). */
  get watching(): boolean {
    return this.watcher !== undefined;
  }

  open(): void {
    this.closed = false;
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.retry) this.options.clock.clearTimeout(this.retry);
    this.retry = undefined;
    for (const entry of this.pending.values()) this.options.clock.clearTimeout(entry.timer);
    this.pending.clear();
  }

  private arm(): void {
    if (this.closed || this.watcher) return;
    const first = !this.armed;
    this.armed = true;
    if (!isDirectory(this.base)) {
      if (first)
        this.options.logger.warn(
          { glob: this.options.glob, folder: this.base },
          "file trigger: folder does not exist yet; watching for it",
        );
      this.reconcile([]);
      return this.scheduleRetry();
    }
    try {
      this.watcher = watch(this.base, { recursive: this.recursive, persistent: false }, (_type, name) => this.onEvent(name));
      this.watcher.on("error", (error) => this.broken(error));
      // Files already there at the first look are the starting point, not news; after a gap
      // (missing folder, broken watch) the differences are what happened meanwhile.
      const found = this.scan();
      if (first) for (const path of found) this.known.add(path);
      else this.reconcile(found);
    } catch (error) {
      this.broken(error);
    }
  }

  private onEvent(name: string | Buffer | null): void {
    if (this.closed) return;
    if (name === null) {
      // Some platforms do not say which entry changed: compare a fresh scan with what was known.
      this.reconcile(this.scan());
      return;
    }
    const path = join(this.base, name.toString());
    if (this.matches(path)) this.touch(path);
    // The watched folder itself went away: what was in it is gone, and the watch must start again.
    if (!isDirectory(this.base)) {
      this.reconcile([]);
      this.watcher?.close();
      this.watcher = undefined;
      this.scheduleRetry();
    }
  }

  /** Touches the paths that appeared or disappeared compared with what is known. */
  private reconcile(found: string[]): void {
    const now = new Set(found);
    for (const path of now) if (!this.known.has(path)) this.touch(path);
    for (const path of this.known) if (!now.has(path)) this.touch(path);
  }

  private touch(path: string): void {
    const { clock, debounceMs } = this.options;
    const now = clock.now();
    const pending = this.pending.get(path);
    if (pending) clock.clearTimeout(pending.timer);
    const firstAt = pending?.firstAt ?? now;
    const delay = Math.max(0, Math.min(debounceMs, firstAt + debounceMs * 10 - now));
    this.pending.set(path, { firstAt, timer: clock.setTimeout(() => this.flush(path), delay) });
  }

  private flush(path: string): void {
    this.pending.delete(path);
    if (this.closed) return;
    const was = this.known.has(path);
    const is = isFile(path);
    if (is) this.known.add(path);
    else this.known.delete(path);
    const event: FileChangeKind | undefined = was ? (is ? "change" : "unlink") : is ? "add" : undefined;
    if (event) this.options.onChange(path, event);
  }

  private broken(error: unknown): void {
    this.options.logger.warn({ err: error, glob: this.options.glob, folder: this.base }, "file trigger: watch failed; retrying");
    this.watcher?.close();
    this.watcher = undefined;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    this.retry = this.options.clock.setTimeout(() => {
      this.retry = undefined;
      this.arm();
    }, this.options.retryMs);
  }

  private scan(): string[] {
    const found: string[] = [];
    let budget = MAX_SCANNED_ENTRIES;
    const visit = (folder: string, depth: number): void => {
      let entries;
      try {
        entries = readdirSync(folder, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        if (--budget < 0) return;
        const path = join(folder, entry.name);
        // Symbolic links to folders are not followed: a link cycle would never end.
        if (entry.isDirectory()) {
          if (this.recursive && depth < 32) visit(path, depth + 1);
        } else if (this.matches(path) && isFile(path)) found.push(path);
      }
    };
    visit(this.base, 0);
    return found;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}
