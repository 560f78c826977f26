import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { errorMessage } from "../errors/index.js";

/** One controller we can use: where its per-step cgroups go. */
export interface CgroupController {
  version: 1 | 2;
  controller: "memory" | "pids";
  /** The directory under which per-step cgroups are created (this process's own cgroup). */
  parent: string;
}

/** What cgroups offer here, for the sandbox and `localagent doctor`. */
export interface CgroupSupport {
  memory: CgroupController | undefined;
  pids: CgroupController | undefined;
  /** Human lines: what was found and why a controller is not used. */
  notes: string[];
}

interface Mount {
  root: string;
  point: string;
  type: string;
  options: string[];
}

/** Where the process's mounts and cgroup membership are read (the real /proc, or a test's text). */
export interface CgroupSources {
  mountinfo(): string;
  cgroup(): string;
}

const procSources: CgroupSources = {
  mountinfo: () => readFileSync("/proc/self/mountinfo", "utf8"),
  cgroup: () => readFileSync("/proc/self/cgroup", "utf8"),
};

function readMounts(sources: CgroupSources): Mount[] {
  let text: string;
  try {
    text = sources.mountinfo();
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .flatMap((line) => {
      const [left, right] = line.split(" - ");
      if (!left || !right) return [];
      const fields = left.split(" ");
      const [type, , superOptions] = right.split(" ");
      return [{ root: fields[3] ?? "/", point: unescape(fields[4] ?? ""), type: type ?? "", options: (superOptions ?? "").split(",") }];
    });
}

function unescape(path: string): string {
  return path.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** This process's cgroup path per v1 controller, and its v2 path under the key "". */
function ownCgroups(sources: CgroupSources): Map<string, string> {
  const paths = new Map<string, string>();
  try {
    for (const line of sources.cgroup().split("\n")) {
      const match = /^\d+:([^:]*):(.*)$/.exec(line);
      if (!match) continue;
      for (const controller of (match[1] ?? "").split(",")) paths.set(controller, match[2] ?? "/");
    }
  } catch {
    // Not Linux: no cgroups.
  }
  return paths;
}

function subtreeControl(path: string): string[] {
  try {
    return readFileSync(join(path, "cgroup.subtree_control"), "utf8").trim().split(/\s+/);
  } catch {
    return [];
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function within(mount: Mount, cgroupPath: string): string {
  const relative = mount.root !== "/" && cgroupPath.startsWith(mount.root) ? cgroupPath.slice(mount.root.length) : cgroupPath;
  return join(mount.point, relative);
}

/** Finds usable memory and pids controllers: cgroup v2 where delegated, else the v1 hierarchies. */
export function detectCgroups(sources: CgroupSources = procSources): CgroupSupport {
  const mounts = readMounts(sources);
  const own = ownCgroups(sources);
  const notes: string[] = [];
  const support: CgroupSupport = { memory: undefined, pids: undefined, notes };
  const unified = mounts.find((mount) => mount.type === "cgroup2");
  if (unified) {
    // Step cgroups go under the nearest cgroup, from our own upwards, that delegates the
    // controller to its children and that we may write: our own where a service manager
    // delegated it, else an ancestor (the root cgroup, as root). Our own cgroup usually holds
    // processes, and v2 allows no controllers below a cgroup with processes of its own.
    const own2 = within(unified, own.get("") ?? "/");
    for (const controller of ["memory", "pids"] as const) {
      for (let parent = own2; parent.startsWith(unified.point); parent = dirname(parent)) {
        if (subtreeControl(parent).includes(controller) && writable(parent)) {
          support[controller] = { version: 2, controller, parent };
          break;
        }
        if (parent === unified.point) break;
      }
      notes.push(
        support[controller]
          ? `cgroup v2 ${controller} at ${unified.point}: per-step cgroups under ${support[controller]?.parent}`
          : `cgroup v2 ${controller} at ${unified.point}: no writable cgroup from ${own2} up delegates it`,
      );
    }
  }
  for (const controller of ["memory", "pids"] as const) {
    if (support[controller]) continue;
    const mount = mounts.find((entry) => entry.type === "cgroup" && entry.options.includes(controller));
    if (!mount) {
      notes.push(`cgroup ${controller}: no v1 hierarchy${unified ? " and not delegated on v2" : ""}`);
      continue;
    }
    const parent = within(mount, own.get(controller) ?? "/");
    if (!existsSync(parent) || !writable(parent)) {
      notes.push(`cgroup v1 ${controller} at ${mount.point}: ${parent} is not writable`);
      continue;
    }
    notes.push(`cgroup v1 ${controller} at ${mount.point}: writable (${parent})`);
    support[controller] = { version: 1, controller, parent };
  }
  return support;
}

/** A per-step cgroup in one or two controllers; created before the step, removed after. */
export class StepCgroup {
  /** `cgroup.procs` files the sandbox wrapper writes its pid into before it execs bwrap. */
  readonly procsFiles: string[] = [];
  private readonly directories: Array<{ controller: CgroupController; path: string }> = [];

  /** Creates the cgroups and writes the limits; throws with the path that failed. */
  static create(support: CgroupSupport, name: string, limits: { memoryBytes?: number; processes?: number }): StepCgroup {
    const group = new StepCgroup();
    try {
      if (support.memory && limits.memoryBytes !== undefined) {
        const path = group.add(support.memory, name);
        if (support.memory.version === 1) {
          writeFileSync(join(path, "memory.limit_in_bytes"), String(limits.memoryBytes));
          // Without swap accounting the limit could be dodged by swapping out.
          if (existsSync(join(path, "memory.memsw.limit_in_bytes")))
            writeFileSync(join(path, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes));
        } else {
          writeFileSync(join(path, "memory.max"), String(limits.memoryBytes));
          if (existsSync(join(path, "memory.swap.max"))) writeFileSync(join(path, "memory.swap.max"), "0");
        }
      }
      if (support.pids && limits.processes !== undefined) {
        const path = group.add(support.pids, name);
        writeFileSync(join(path, "pids.max"), String(limits.processes));
      }
    } catch (error) {
      void group.remove();
      throw new Error(`cannot set up the step's cgroup: ${errorMessage(error)}`, { cause: error });
    }
    return group;
  }

  private add(controller: CgroupController, name: string): string {
    const path = join(controller.parent, name);
    mkdirSync(path);
    this.directories.push({ controller, path });
    this.procsFiles.push(join(path, "cgroup.procs"));
    return path;
  }

  /** Takes over an existing cgroup directory (stale ones, for removal). */
  adopt(controller: CgroupController, path: string): void {
    this.directories.push({ controller, path });
  }

  get memoryLimited(): boolean {
    return this.directories.some((entry) => entry.controller.controller === "memory");
  }

  get pidsLimited(): boolean {
    return this.directories.some((entry) => entry.controller.controller === "pids");
  }

  /** True when the memory limit was hit (v1 failcnt/oom_kill, v2 memory.events oom_kill/max). */
  memoryLimitHit(): boolean {
    const entry = this.directories.find((directory) => directory.controller.controller === "memory");
    if (!entry) return false;
    if (entry.controller.version === 1) {
      return counter(join(entry.path, "memory.oom_control"), "oom_kill") > 0 || numberIn(join(entry.path, "memory.failcnt")) > 0;
    }
    return counter(join(entry.path, "memory.events"), "oom_kill") > 0 || counter(join(entry.path, "memory.events"), "oom") > 0;
  }

  /** True when a fork was refused because of pids.max. */
  pidsLimitHit(): boolean {
    const entry = this.directories.find((directory) => directory.controller.controller === "pids");
    return entry !== undefined && counter(join(entry.path, "pids.events"), "max") > 0;
  }

  /** Kills whatever is left in the cgroups and removes them; errors are ignored (best effort, logged by the caller). */
  async remove(): Promise<string[]> {
    const problems: string[] = [];
    for (const { path } of this.directories.reverse()) {
      for (let tries = 0; tries < 50; tries++) {
        const pids = readPids(join(path, "cgroup.procs"));
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // Gone already.
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      try {
        rmdirSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") problems.push(`${path}: ${errorMessage(error)}`);
      }
    }
    this.directories.length = 0;
    return problems;
  }
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function numberIn(file: string): number {
  try {
    return Number(readFileSync(file, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

/** `key N` lines (memory.events, pids.events, memory.oom_control). */
function counter(file: string, key: string): number {
  try {
    const line = readFileSync(file, "utf8")
      .split("\n")
      .find((entry) => entry.startsWith(`${key} `));
    return line ? Number(line.split(" ")[1]) || 0 : 0;
  } catch {
    return 0;
  }
}

/**
 * Removes per-step cgroups left by a daemon that died (kill -9, power loss): named
 * `localagent-<pid>-…` with that pid gone. Their processes died with the sandbox
 * (`--die-with-parent`); anything still inside is killed first. Returns the paths removed.
 */
export async function removeStaleCgroups(support: CgroupSupport): Promise<string[]> {
  const removed: string[] = [];
  for (const controller of [support.memory, support.pids]) {
    if (!controller) continue;
    let entries: string[];
    try {
      entries = readdirSync(controller.parent);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const owner = /^localagent-(\d+)-/.exec(entry)?.[1];
      if (owner === undefined || Number(owner) === process.pid || alive(Number(owner))) continue;
      const group = new StepCgroup();
      group.adopt(controller, join(controller.parent, entry));
      if ((await group.remove()).length === 0) removed.push(join(controller.parent, entry));
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
