import { execFile, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { detectCgroups, type CgroupSupport } from "./cgroups.js";
import { DENIED_SYSCALLS, hostSeccompArch, type SeccompArch } from "./seccomp.js";

/** What isolation this machine offers: the sandbox decides with it, `localagent doctor` prints it. */
export interface IsolationReport {
  platform: string;
  bwrap: { path: string | undefined; version: string | undefined; usable: boolean; reason: string | undefined };
  userNamespaces: { needed: boolean; available: boolean; detail: string };
  seccomp: { available: boolean; arch: SeccompArch | undefined; detail: string };
  cgroups: CgroupSupport;
  prlimit: string | undefined;
}

/** `name` as a path or found on PATH (and executable). */
export function findExecutable(name: string, path: string = process.env.PATH ?? "/usr/bin:/bin"): string | undefined {
  const candidates = name.includes("/") ? [name] : path.split(delimiter).map((directory) => join(directory, name));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

function userNamespaces(): IsolationReport["userNamespaces"] {
  const root = process.getuid?.() === 0;
  const clone = readText("/proc/sys/kernel/unprivileged_userns_clone");
  const max = readText("/proc/sys/user/max_user_namespaces");
  const apparmor = readText("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  if (clone === "0") return { needed: !root, available: false, detail: "disabled (kernel.unprivileged_userns_clone = 0)" };
  if (max === "0") return { needed: !root, available: false, detail: "disabled (user.max_user_namespaces = 0)" };
  if (apparmor === "1")
    return { needed: !root, available: false, detail: "restricted by AppArmor (kernel.apparmor_restrict_unprivileged_userns = 1)" };
  return {
    needed: !root,
    available: max !== undefined,
    detail: max !== undefined ? `enabled (max ${max})` : "unknown (no /proc/sys/user)",
  };
}

interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error | undefined;
}

const trialArgs = ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "/bin/sh", "-c", "true"];

/** Everything but the two bwrap runs (cheap file reads). */
function baseReport(bwrapPath: string | undefined): { report: IsolationReport; path: string | undefined } {
  const platform = process.platform;
  const seccompLine = readText("/proc/self/status")
    ?.split("\n")
    .find((line) => line.startsWith("Seccomp:"));
  const arch = hostSeccompArch();
  const report: IsolationReport = {
    platform,
    bwrap: { path: undefined, version: undefined, usable: false, reason: undefined },
    userNamespaces: userNamespaces(),
    seccomp: {
      available: seccompLine !== undefined && arch !== undefined,
      arch,
      detail:
        seccompLine === undefined
          ? "kernel without seccomp"
          : arch === undefined
            ? `no filter for ${process.arch}`
            : `filter for ${arch} (${DENIED_SYSCALLS.length} syscalls denied)`,
    },
    cgroups: platform === "linux" ? detectCgroups() : { memory: undefined, pids: undefined, notes: ["not Linux"] },
    prlimit: findExecutable("prlimit") ?? (existsSync("/usr/bin/prlimit") ? "/usr/bin/prlimit" : undefined),
  };
  if (platform !== "linux") {
    report.bwrap.reason = `bubblewrap needs Linux (this is ${platform})`;
    return { report, path: undefined };
  }
  const wanted = bwrapPath ?? (existsSync("/usr/bin/bwrap") ? "/usr/bin/bwrap" : "bwrap");
  const path = findExecutable(wanted);
  if (!path)
    report.bwrap.reason = `bubblewrap not found at ${wanted} (install the bubblewrap package, or set sandbox.bwrap in config.yaml)`;
  report.bwrap.path = path;
  return { report, path };
}

function finish(report: IsolationReport, path: string, version: ExecResult, trial: ExecResult): IsolationReport {
  report.bwrap.version = version.status === 0 ? version.stdout.trim().replace(/^bubblewrap\s*/, "") : undefined;
  if (trial.status === 0) {
    report.bwrap.usable = true;
  } else {
    const why = (trial.stderr || trial.error?.message || `exit status ${String(trial.status)}`).trim();
    const hint =
      !report.userNamespaces.available && report.userNamespaces.needed ? `; user namespaces ${report.userNamespaces.detail}` : "";
    report.bwrap.reason = `bubblewrap at ${path} cannot create a sandbox here: ${why}${hint}`;
  }
  return report;
}

/**
 * Probes the machine (blocking; for the CLI). `bwrapPath` is the configured binary (default
 * /usr/bin/bwrap, else PATH). bwrap is tried for real once (`bwrap --ro-bind / / --unshare-all
 * true`): the only reliable answer to "can it create namespaces here".
 */
export function inspectIsolation(bwrapPath?: string): IsolationReport {
  const { report, path } = baseReport(bwrapPath);
  if (!path) return report;
  const run = (args: string[]): ExecResult => {
    const result = spawnSync(path, args, { encoding: "utf8", timeout: 10_000 });
    return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", error: result.error };
  };
  return finish(report, path, run(["--version"]), run(trialArgs));
}

/** The same probe without blocking the event loop (the daemon runs it once, at start). */
export async function inspectIsolationAsync(bwrapPath?: string): Promise<IsolationReport> {
  const { report, path } = baseReport(bwrapPath);
  if (!path) return report;
  const run = (args: string[]): Promise<ExecResult> =>
    new Promise((done) => {
      execFile(path, args, { encoding: "utf8", timeout: 10_000 }, (error, stdout, stderr) =>
        done({ status: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr, error: error ?? undefined }),
      );
    });
  const [version, trial] = await Promise.all([run(["--version"]), run(trialArgs)]);
  return finish(report, path, version, trial);
}
