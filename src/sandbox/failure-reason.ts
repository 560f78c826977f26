import { constants } from "node:os";
import type { StepCgroup } from "./cgroups.js";
import { formatBytes } from "./sandbox-config.js";
import type { SandboxExit, SandboxRequest } from "./types.js";

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/**
 * The signal that ended the command: the process's own, or the shell's/bwrap's `128 + N` exit
 * status (both report a child killed by signal N that way).
 */
export function terminatingSignal(exit: SandboxExit): string | undefined {
  if (exit.signal) return exit.signal;
  if (exit.code !== null && exit.code > 128 && exit.code < 128 + 65) return SIGNAL_NAMES.get(exit.code - 128);
  return undefined;
}

export interface FailureFacts {
  request: SandboxRequest;
  cgroup?: StepCgroup;
  /** True when rlimits were applied (prlimit found). */
  rlimits: boolean;
}

/** Why a sandboxed command failed, in words, when a limit or the isolation explains it. */
export function explainFailure(exit: SandboxExit, facts: FailureFacts): string | undefined {
  const { request, cgroup } = facts;
  const { limits } = request;
  const signal = terminatingSignal(exit);
  const stderr = exit.stderr;
  if (cgroup?.memoryLimitHit() && (signal === "SIGKILL" || /Cannot allocate memory|out of memory/i.test(stderr))) {
    return `killed by SIGKILL after reaching the memory limit of ${formatBytes(limits.memoryBytes ?? 0)} (cgroup)`;
  }
  if (cgroup?.pidsLimitHit()) return `reached the process limit of ${limits.processes ?? "?"} (pids cgroup): fork failed`;
  if (signal === "SIGXCPU") return `CPU time limit of ${limits.cpuSeconds ?? "?"}s exceeded (SIGXCPU)`;
  if (signal === "SIGXFSZ") return `file size limit of ${formatBytes(limits.fileSizeBytes ?? 0)} reached (SIGXFSZ)`;
  if (/^bwrap: /m.test(stderr)) return `the sandbox could not start: ${/^bwrap: (.*)$/m.exec(stderr)?.[1] ?? ""}`;
  if (/Read-only file system/i.test(stderr)) {
    return `the sandbox is read-only outside the workspace ${request.workspace} (and /tmp): add the path to sandbox.writable to allow it`;
  }
  if (
    request.network.mode === "none" &&
    /Network is unreachable|Could not resolve host|Temporary failure in name resolution|Name or service not known|Connection refused|Couldn't connect/i.test(
      stderr,
    )
  ) {
    return "network unreachable: the sandbox has no network (give the step network: true or network: [hosts])";
  }
  if (request.network.mode === "proxy" && /Could not resolve|Connection refused|403|Forbidden|not allowed/i.test(stderr)) {
    return `network limited to ${(request.network.hosts ?? []).join(", ") || "the listed hosts"} through the egress proxy`;
  }
  if (limits.processes !== undefined && /fork: .*Resource temporarily unavailable|Cannot fork|can't fork/i.test(stderr)) {
    return `RLIMIT_NPROC reached (process limit ${limits.processes})`;
  }
  if (limits.openFiles !== undefined && /Too many open files/i.test(stderr))
    return `open files limit of ${limits.openFiles} reached (RLIMIT_NOFILE)`;
  if (limits.memoryBytes !== undefined && /cannot allocate|out of memory|std::bad_alloc|MemoryError/i.test(stderr)) {
    return `memory limit of ${formatBytes(limits.memoryBytes)} reached`;
  }
  if (/No such file or directory/.test(stderr) && /: (\/(home|root|mnt|media|srv|var|opt)\/)/.test(stderr)) {
    return "the path is not visible in the sandbox: add it to sandbox.read_only or sandbox.writable";
  }
  if (/Operation not permitted/.test(stderr)) return "operation not permitted in the sandbox (all capabilities dropped, seccomp filter)";
  return undefined;
}
