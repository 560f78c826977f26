import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { removeStaleCgroups, StepCgroup } from "./cgroups.js";
import { explainFailure } from "./failure-reason.js";
import { FORWARDER_PORT, FORWARDER_SOURCE, SANDBOX_PROXY_SOCKET } from "./forwarder.js";
import { inspectIsolationAsync, type IsolationReport } from "./isolation.js";
import { formatBytes } from "./sandbox-config.js";
import { compileSeccompFilter } from "./seccomp.js";
import type { PreparedCommand, Sandbox, SandboxRequest } from "./types.js";

export interface BwrapSandboxOptions {
  /** The bubblewrap binary (default /usr/bin/bwrap, else PATH). */
  bwrap?: string;
  /** Where the seccomp program and the egress forwarder are written (e.g. DATA_DIR/sandbox). */
  stateDir: string;
  /** A ready probe (tests, doctor); probed on first use otherwise. */
  isolation?: IsolationReport;
}

/** HOME inside the sandbox: an empty tmpfs, so the user's ~/.ssh, ~/.aws… are not there. */
export const SANDBOX_HOME = "/home/sandbox";
const SYSTEM_LINKS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
/** The pieces of /etc programs need (users, DNS, TLS roots, locale, loader); not /etc/shadow, ssh keys… */
const ETC_PIECES = [
  "passwd",
  "group",
  "hosts",
  "host.conf",
  "resolv.conf",
  "nsswitch.conf",
  "gai.conf",
  "services",
  "protocols",
  "localtime",
  "timezone",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "ssl",
  "ca-certificates",
  "ca-certificates.conf",
  "pki",
  "alternatives",
  "mime.types",
  "inputrc",
  "bash.bashrc",
  "profile",
  "environment",
  "locale.alias",
  "magic",
];
const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// A tiny prelude run before bwrap: joins the step's cgroups (so everything bwrap starts is
// counted from the first fork) and opens the seccomp program as fd 3 for `--seccomp 3`.
const WRAPPER = [
  "bpf=$1; n=$2; shift 2",
  'while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "localagent sandbox: cannot join cgroup $1" >&2; exit 125; }; n=$((n-1)); shift; done',
  'if [ -n "$bpf" ]; then exec 3< "$bpf" || exit 125; fi',
  'exec "$@"',
].join("\n");

/**
 * The Linux sandbox: bubblewrap with a read-only system, the workflow's workspace as the only
 * writable directory, private /tmp, /proc and /dev, no network (or only the egress proxy), own
 * PID/IPC/UTS/user namespaces, `--die-with-parent`, `--new-session`, all capabilities dropped,
 * no new privileges, a seccomp filter, rlimits through prlimit and a per-step cgroup.
 */
export function createBwrapSandbox(options: BwrapSandboxOptions): Sandbox {
  let isolation: Promise<IsolationReport> | undefined = options.isolation ? Promise.resolve(options.isolation) : undefined;
  const probe = (): Promise<IsolationReport> =>
    (isolation ??= inspectIsolationAsync(options.bwrap).then(async (report) => {
      // Once per daemon: cgroups a killed daemon left behind go before new ones are made.
      await removeStaleCgroups(report.cgroups);
      return report;
    }));
  let seccompFile: string | undefined;
  let forwarderFile: string | undefined;
  const stateFile = (name: string, contents: Buffer | string): string => {
    mkdirSync(options.stateDir, { recursive: true });
    const file = join(options.stateDir, name);
    if (!existsSync(file) || !readFileSync(file).equals(Buffer.from(contents))) writeFileSync(file, contents, { mode: 0o644 });
    return file;
  };
  return {
    name: "bwrap",
    unavailableReason: async () => {
      const report = await probe();
      return report.bwrap.usable ? undefined : (report.bwrap.reason ?? "bubblewrap is not usable");
    },
    prepare: async (request) => {
      const report = await probe();
      const bwrap = report.bwrap.path;
      if (!report.bwrap.usable || bwrap === undefined) throw new Error(report.bwrap.reason ?? "bubblewrap is not usable");
      const arch = report.seccomp.available ? report.seccomp.arch : undefined;
      if (arch) seccompFile ??= stateFile(`seccomp-${arch}.bpf`, compileSeccompFilter(arch));
      if (request.network.mode === "proxy") forwarderFile ??= stateFile("egress-forwarder.mjs", FORWARDER_SOURCE);
      const limits = request.limits;
      const cgroup = StepCgroup.create(report.cgroups, cgroupName(request.label), limits);
      try {
        const profile = describeProfile(request, cgroup, arch !== undefined, report.prlimit !== undefined);
        const prlimit = report.prlimit ? prlimitArgs(report.prlimit, request, cgroup) : [];
        const args = [
          "-c",
          WRAPPER,
          "localagent-sandbox",
          seccompFile ?? "",
          String(cgroup.procsFiles.length),
          ...cgroup.procsFiles,
          ...prlimit,
          bwrap,
          ...bwrapArgs(request, arch !== undefined, forwarderFile),
        ];
        const env: Record<string, string> = {
          PATH: SANDBOX_PATH,
          HOME: SANDBOX_HOME,
          TMPDIR: "/tmp",
          ...pick(process.env, ["LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM"]),
          ...request.env,
        };
        if (request.network.mode === "proxy") {
          const proxy = `http://127.0.0.1:${FORWARDER_PORT}`;
          Object.assign(env, {
            HTTP_PROXY: proxy,
            HTTPS_PROXY: proxy,
            ALL_PROXY: proxy,
            http_proxy: proxy,
            https_proxy: proxy,
            all_proxy: proxy,
            NO_PROXY: "",
            no_proxy: "",
            LOCALAGENT_EGRESS_SOCKET: SANDBOX_PROXY_SOCKET,
          });
        }
        let cleaned = false;
        const prepared: PreparedCommand = {
          file: "/bin/sh",
          args,
          env,
          cwd: request.workspace,
          sandboxed: true,
          profile,
          explain: (exit) => explainFailure(exit, { request, cgroup, rlimits: report.prlimit !== undefined }),
          cleanup: async () => {
            if (cleaned) return;
            cleaned = true;
            const problems = await cgroup.remove();
            if (problems.length > 0) throw new Error(`sandbox cgroup not removed: ${problems.join("; ")}`);
          },
        };
        return prepared;
      } catch (error) {
        await cgroup.remove();
        throw error;
      }
    },
  };
}

function pick(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of names) if (env[name] !== undefined) result[name] = env[name];
  return result;
}

function cgroupName(label: string): string {
  const clean = label.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 80);
  return `localagent-${process.pid}-${clean}-${Math.random().toString(36).slice(2, 8)}`;
}

function bwrapArgs(request: SandboxRequest, seccomp: boolean, forwarderFile: string | undefined): string[] {
  const args = ["--unshare-all"];
  if (request.network.mode === "full") args.push("--share-net");
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr");
  for (const path of SYSTEM_LINKS) {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push("--symlink", readlinkSync(path), path);
    else if (stat.isDirectory()) args.push("--ro-bind", path, path);
  }
  for (const piece of ETC_PIECES) args.push("--ro-bind-try", `/etc/${piece}`, `/etc/${piece}`);
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", SANDBOX_HOME);
  if (request.network.mode === "full") {
    // DNS through systemd-resolved or nscd lives under /run.
    args.push("--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve");
  }
  const node = process.execPath;
  if (forwarderFile) {
    // The forwarder runs on the daemon's node binary; outside /usr it needs binding in.
    const nodeDir = dirname(resolve(node));
    if (!nodeDir.startsWith("/usr/")) args.push("--ro-bind", nodeDir, nodeDir);
    args.push("--ro-bind", forwarderFile, "/run/localagent/egress-forwarder.mjs");
    if (request.network.mode === "proxy") args.push("--bind", request.network.proxySocket, SANDBOX_PROXY_SOCKET);
  }
  // Configured paths that do not exist (yet) are left out rather than failing every step.
  for (const path of request.readOnlyPaths ?? []) args.push("--ro-bind-try", path, path);
  for (const path of request.writablePaths ?? []) args.push("--bind-try", path, path);
  args.push("--bind", request.workspace, request.workspace, "--chdir", request.cwd, "--remount-ro", "/");
  if (seccomp) args.push("--seccomp", "3");
  args.push("--");
  if (forwarderFile && request.network.mode === "proxy") {
    args.push(node, "/run/localagent/egress-forwarder.mjs", SANDBOX_PROXY_SOCKET, String(FORWARDER_PORT));
  }
  args.push(...request.argv);
  return args;
}

function prlimitArgs(prlimit: string, request: SandboxRequest, cgroup: StepCgroup): string[] {
  const { limits } = request;
  const args = [prlimit];
  if (limits.cpuSeconds !== undefined) args.push(`--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + 2}`);
  if (limits.fileSizeBytes !== undefined) args.push(`--fsize=${limits.fileSizeBytes}`);
  if (limits.openFiles !== undefined) args.push(`--nofile=${limits.openFiles}`);
  // Without a memory cgroup the per-process address space is the only memory cap left.
  if (limits.memoryBytes !== undefined && !cgroup.memoryLimited) args.push(`--as=${limits.memoryBytes}`);
  const nproc = nprocLimit(limits.processes, cgroup);
  if (nproc !== undefined) args.push(`--nproc=${nproc}`);
  args.push("--");
  return args;
}

/**
 * RLIMIT_NPROC counts every process of the user, not of the step: only a fallback where there is
 * no pids cgroup, set to what the user runs now plus the step's allowance. Root ignores it.
 */
function nprocLimit(processes: number | undefined, cgroup: StepCgroup): number | undefined {
  if (processes === undefined || cgroup.pidsLimited || process.getuid?.() === 0) return undefined;
  return countUserProcesses(process.getuid?.() ?? -1) + processes;
}

function countUserProcesses(uid: number): number {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
      if (Number(real) === uid) count += threads;
    } catch {
      // Ended while we looked.
    }
  }
  return count;
}

/** `bwrap(net=none,mem=512m,pids=64,cpu=60s,fsize=1g,nofile=1024,seccomp)`. */
function describeProfile(request: SandboxRequest, cgroup: StepCgroup, seccomp: boolean, rlimits: boolean): string {
  const { limits, network } = request;
  const parts = [`net=${network.mode === "proxy" ? `proxy(${(network.hosts ?? []).join(" ")})` : network.mode}`];
  if (limits.memoryBytes !== undefined)
    parts.push(`mem=${formatBytes(limits.memoryBytes)}${cgroup.memoryLimited ? "" : rlimits ? "(rlimit-as)" : "(unenforced)"}`);
  if (limits.processes !== undefined) {
    const root = process.getuid?.() === 0;
    parts.push(`pids=${limits.processes}${cgroup.pidsLimited ? "" : rlimits && !root ? "(rlimit-nproc)" : "(unenforced)"}`);
  }
  if (rlimits) {
    if (limits.cpuSeconds !== undefined) parts.push(`cpu=${limits.cpuSeconds}s`);
    if (limits.fileSizeBytes !== undefined) parts.push(`fsize=${formatBytes(limits.fileSizeBytes)}`);
    if (limits.openFiles !== undefined) parts.push(`nofile=${limits.openFiles}`);
  } else {
    parts.push("rlimits=none(no prlimit)");
  }
  if (seccomp) parts.push("seccomp");
  return `bwrap(${parts.join(",")})`;
}
