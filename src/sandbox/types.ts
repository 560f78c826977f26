/** How a step wants to be isolated: `required` refuses to run unsandboxed, `preferred` falls back with a warning, `off` runs directly. */
export type SandboxMode = "required" | "preferred" | "off";

/** Network inside the sandbox: none at all, the host's, or only a local egress proxy reached through a unix socket. */
export type SandboxNetwork = { mode: "none" } | { mode: "full" } | { mode: "proxy"; proxySocket: string; hosts?: string[] };

/** Resolved limits; an absent field is not limited. Sizes in bytes, time in seconds. */
export interface SandboxLimits {
  memoryBytes?: number;
  cpuSeconds?: number;
  processes?: number;
  fileSizeBytes?: number;
  openFiles?: number;
}

/** One command to wrap. `argv` is run as given: the sandbox never re-renders or re-parses it. */
export interface SandboxRequest {
  argv: string[];
  /** Working directory (inside the workspace, or a path the sandbox makes visible). */
  cwd: string;
  /** The only writable directory besides the private /tmp. */
  workspace: string;
  env: Record<string, string>;
  network: SandboxNetwork;
  limits: SandboxLimits;
  /** Extra host paths visible read-only / read-write (config `sandbox.read_only` / `sandbox.writable`). */
  readOnlyPaths?: string[];
  writablePaths?: string[];
  /** Names the per-step cgroup (any text; sanitised). */
  label: string;
}

/** How the wrapped process ended, for `explain`. */
export interface SandboxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** A command ready to spawn: the wrapper argv, its environment and the profile that was applied. */
export interface PreparedCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** True when the command runs isolated. */
  sandboxed: boolean;
  /** `bwrap(net=none,mem=512m,pids=64,seccomp)` or `none: <reason>`; recorded in the audit log. */
  profile: string;
  /** Why the command failed when a limit or the isolation explains it (memory limit, pids limit, read-only file system…). */
  explain(exit: SandboxExit): string | undefined;
  /** Removes the per-step cgroup (kills what is left in it); safe to call twice. */
  cleanup(): Promise<void>;
}

/** The sandbox contract: one implementation per isolation technology (bubblewrap on Linux). */
export interface Sandbox {
  readonly name: string;
  /** Resolves undefined when this sandbox can run here, else the exact reason it cannot (bwrap missing, user namespaces disabled…). */
  unavailableReason(): Promise<string | undefined>;
  prepare(request: SandboxRequest): Promise<PreparedCommand>;
}
