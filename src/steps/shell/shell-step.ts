import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { z } from "zod";
import type { StepContext, StepResult, StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { launchOf, sandboxStepShape, type SandboxMode, type StepLaunch } from "../../sandbox/index.js";
import { killLeftovers } from "./leftovers.js";
import { shellCommandOf } from "./shell-command.js";

export interface ShellConfig {
  command: string;
  cwd?: string;
  shell?: string;
  strict_exit?: boolean;
  max_output?: number;
  /** Sandbox fields, applied by the sandbox middleware (src/sandbox). */
  sandbox?: SandboxMode;
  limits?: Record<string, unknown>;
}

const KILL_GRACE_MS = 2000;
const DEFAULT_SHELL = existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";

/**
 * `shell`: runs a command in its own process group. A timeout or cancel kills the whole group,
 * output is captured up to a cap, and `LOCALAGENT_STEP_KEY` lets commands deduplicate re-runs.
 */
export const shellStep: StepRunner<ShellConfig> = {
  type: "shell",
  // The command is rendered by the step itself, with every interpolated value shell-quoted.
  rawFields: ["command"],
  configShape: {
    command: z.string().min(1).describe("Shell command line (run with bash -c, or sh -c where bash is missing)"),
    cwd: z.string().optional().describe("Working directory (default: the workflow workspace)"),
    shell: z.string().optional().describe("Shell binary (default /bin/bash)"),
    strict_exit: z
      .boolean()
      .optional()
      .describe("Treat exit status 1 with no output as a failure (default false: grep's 'nothing found' is an empty result)"),
    max_output: z.number().int().positive().optional().describe("Bytes of stdout/stderr kept (default 1 MiB)"),
    ...sandboxStepShape,
  },
  run: runShell,
};

async function runShell(context: StepContext<ShellConfig>): Promise<StepResult> {
  // An attempt interrupted by a crash may still be running: stop it before starting it again,
  // so the step never overlaps itself.
  if (context.interrupted) {
    const killed = await killLeftovers(context.stepKey);
    if (killed > 0) context.services.logger.warn({ step: context.path, groups: killed }, "killed leftovers of the interrupted attempt");
  }
  // The same string the policy middleware checked (see shell-command.ts).
  const command = shellCommandOf(context);
  return spawnShell({ ...context, config: { ...context.config, command } }, launchOf(context));
}

function spawnShell(context: StepContext<ShellConfig>, launch: StepLaunch | undefined): Promise<StepResult> {
  const { config, services, signal } = context;
  const limit = config.max_output ?? services.settings.maxOutputBytes;
  return new Promise<StepResult>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    // The sandbox middleware, when present, prepared the wrapped argv around this same command.
    const prepared = launch?.prepared;
    const child = spawn(prepared?.file ?? config.shell ?? DEFAULT_SHELL, prepared?.args ?? ["-c", config.command], {
      cwd: prepared?.cwd ?? config.cwd ?? services.settings.workspaceDir,
      env: prepared?.env ?? {
        ...process.env,
        ...context.env,
        LOCALAGENT_STEP_KEY: context.stepKey,
        LOCALAGENT_RUN_ID: context.runId,
        LOCALAGENT_WORKFLOW: context.workflow.name,
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout = new CappedBuffer(limit);
    const stderr = new CappedBuffer(limit);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      context.progress("stdout", chunk.toString("utf8"));
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr.push(chunk);
      context.progress("stderr", chunk.toString("utf8"));
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
      killTimer.unref();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(new LocalAgentError("step_failed", `cannot start shell: ${error.message}`, { cause: error }));
    });
    child.on("close", (code, killedBy) => {
      signal.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
      // Whatever the shell left behind in its group goes too.
      killGroup(child.pid, "SIGKILL");
      const out = stdout.text().replace(/\r?\n$/, "");
      const err = stderr.text();
      const failed = code !== 0 && !(code === 1 && !config.strict_exit && out === "" && err.trim() === "");
      const reason = failed && !signal.aborted ? prepared?.explain({ code, signal: killedBy, stderr: err }) : undefined;
      if (launch) launch.exit = { code, signal: killedBy, reason, stderr: err, aborted: signal.aborted };
      if (signal.aborted) return reject(signal.reason);
      if (!failed) return resolve({ output: code === 0 ? out : "" });
      const status = code === null ? `killed by ${killedBy}` : `exit status ${code}`;
      const tail = err.trim().split("\n").slice(-5).join("\n");
      const why = reason ? `; sandbox: ${reason}` : "";
      reject(
        new LocalAgentError("step_failed", `command failed (${status}${why})${tail ? `: ${tail}` : ""}`, {
          // A limit hit again on a retry changes nothing.
          retryable: reason === undefined,
          details: {
            exitCode: code,
            stderr: tail,
            stdout: out.slice(-2000),
            ...(prepared ? { sandbox: prepared.profile } : {}),
            ...(reason ? { sandboxReason: reason } : {}),
          },
        }),
      );
    });
  });
}

function killGroup(pid: number | undefined, signalName: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signalName);
  } catch {
    // The group is already gone.
  }
}

/** Keeps the first `limit` bytes and notes how much was dropped. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
    this.dropped += chunk.length - kept.length;
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString("utf8");
    return this.dropped > 0 ? `${text}\n[output truncated: ${this.dropped} more bytes]` : text;
  }
}
