import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LocalAgentError } from "../errors/index.js";
import type { Store } from "../store/index.js";

/** The pid of the daemon that owns this data directory, if one is alive. */
export function runningDaemonPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, "daemon.pid"), "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** One daemon per data directory: a second one would deliver the outbox twice. */
export function acquirePidLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const other = runningDaemonPid(dataDir);
  if (other !== undefined && other !== process.pid) {
    throw new LocalAgentError("config_invalid", `another daemon (pid ${other}) already uses ${dataDir}; stop it or pass --data-dir`);
  }
  const file = join(dataDir, "daemon.pid");
  writeFileSync(file, `${process.pid}\n`);
  return () => {
    if (runningDaemonPid(dataDir) === process.pid) rmSync(file, { force: true });
  };
}

const OWNER_NAMESPACE = "run-owner";

/** Marks a run as executed by this (foreground) process, so a daemon does not resume it meanwhile. */
export function claimRun(store: Store, runId: string): void {
  store.compareAndSetState(OWNER_NAMESPACE, runId, { pid: process.pid }, null);
}

/** The pid of a live process other than this one that executes the run, if any. */
export function runOwner(store: Store, runId: string): number | undefined {
  const owner = store.getState(OWNER_NAMESPACE, runId)?.value as { pid?: number } | undefined;
  const pid = owner?.pid;
  if (pid === undefined || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
