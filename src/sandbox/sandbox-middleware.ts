import { existsSync, lstatSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { StepContext, StepMiddleware, StepResult } from "../engine/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import { createBwrapSandbox } from "./bwrap-sandbox.js";
import { prepareDirect } from "./direct-launch.js";
import { attachLaunch, type StepLaunch } from "./launch.js";
import { resolveLimits, resolveSandboxConfig, type LimitsInput, type ResolvedSandboxConfig } from "./sandbox-config.js";
import type { PreparedCommand, Sandbox, SandboxMode, SandboxNetwork, SandboxRequest } from "./types.js";

/** A step's egress route: the proxy's unix socket for this step, closed when the step ends. */
export interface EgressRoute {
  socketPath: string;
  close(): void | Promise<void>;
}

/** Opens egress routes for `network: [hosts]` steps (the egress component implements it). */
export interface EgressProvider {
  forStep(hosts: string[], context: { runId: string; workflow: string; step: string }): EgressRoute | Promise<EgressRoute>;
}

export interface SandboxMiddlewareOptions {
  /** The `sandbox:` section of config.yaml (raw; validated here) or an already resolved one. */
  config?: unknown;
  dataDir: string;
  /** The exact command line the policy checked (the shell step's `shellCommandOf`). */
  commandOf: (context: StepContext<{ command: string }>) => string;
  /** Default: bubblewrap, with its state under DATA_DIR/sandbox. */
  sandbox?: Sandbox;
  egress?: EgressProvider;
}

interface ShellFields {
  command: string;
  cwd?: string;
  shell?: string;
  sandbox?: SandboxMode;
  limits?: LimitsInput;
}

const DEFAULT_SHELL = existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";

/** Per-workflow writable workspace, `DATA_DIR/workspaces/<workflow>`. */
export function workspaceFor(dataDir: string, workflow: string): string {
  return join(dataDir, "workspaces", workflow.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "_") || "_");
}

/**
 * Wraps every `shell` step in the sandbox its `sandbox:` field asks for (default from config,
 * `preferred`): prepares the wrapped argv around the exact command the policy checked, hands it
 * to the runner, records the profile and the exit in the audit log, and removes the per-step
 * cgroup afterwards. `required` refuses where no sandbox is possible; `preferred` warns and runs
 * directly.
 */
export function createSandboxMiddleware(options: SandboxMiddlewareOptions): StepMiddleware {
  const config: ResolvedSandboxConfig = isResolved(options.config) ? options.config : resolveSandboxConfig(options.config);
  const sandbox =
    options.sandbox ?? createBwrapSandbox({ ...(config.bwrap ? { bwrap: config.bwrap } : {}), stateDir: join(options.dataDir, "sandbox") });
  // Probe now, in the background, so the first step does not wait for it (unless sandboxing is
  // off by default: then only a step asking for it pays).
  if (config.mode !== "off") sandbox.unavailableReason().catch(() => undefined);
  const warned = new Set<string>();
  return async (context, next) => {
    if (context.step.type !== "shell") return next();
    const fields = context.config as unknown as ShellFields;
    const command = options.commandOf(context as StepContext<{ command: string }>);
    const mode = fields.sandbox ?? config.mode;
    const where = `step "${context.path}" of workflow "${context.workflow.name}"`;
    const workspace = workspaceFor(options.dataDir, context.workflow.name);
    mkdirSync(workspace, { recursive: true });
    const stepNetwork = context.step.network;
    const hosts = Array.isArray(stepNetwork) ? stepNetwork : undefined;
    let route: EgressRoute | undefined;
    let network: SandboxNetwork = stepNetwork === true ? { mode: "full" } : { mode: "none" };
    const request: SandboxRequest = {
      argv: [fields.shell ?? DEFAULT_SHELL, "-c", command],
      cwd: fields.cwd ?? workspace,
      workspace,
      env: {
        ...context.env,
        LOCALAGENT_STEP_KEY: context.stepKey,
        LOCALAGENT_RUN_ID: context.runId,
        LOCALAGENT_WORKFLOW: context.workflow.name,
      },
      network,
      limits: resolveLimits(config.limits, fields.limits),
      readOnlyPaths: config.readOnly,
      writablePaths: config.writable,
      label: `${context.runId}-${context.path}`,
    };
    let prepared: PreparedCommand;
    let launch: StepLaunch | undefined;
    try {
      const unavailable = mode === "off" ? undefined : await sandbox.unavailableReason();
      if (mode === "off") {
        prepared = prepareDirect(request, "sandbox: off");
      } else if (unavailable !== undefined) {
        if (mode === "required") {
          const error = new LocalAgentError(
            "sandbox_unavailable",
            `${where} needs a sandbox (sandbox: required), but none is possible here: ${unavailable}`,
            {
              details: { command, sandbox: `none: ${unavailable}` },
            },
          );
          record(context, command, `none: ${unavailable}`, { refused: true, error: error.message });
          throw error;
        }
        if (!warned.has(unavailable)) {
          warned.add(unavailable);
          context.services.logger.warn(
            { step: context.path, reason: unavailable },
            `sandbox unavailable, running unsandboxed (sandbox: preferred): ${unavailable}`,
          );
        }
        prepared = prepareDirect(request, unavailable);
      } else {
        // The egress middleware, running outside this one, may already have opened the step's proxy.
        // Only a socket in the daemon's egress folder counts: a workflow's env: must not be able to
        // bind another socket (docker.sock…) into the sandbox.
        const opened = egressSocketOf(context.env.LOCALAGENT_EGRESS_SOCKET, options.dataDir);
        if (hosts && !options.egress && opened) {
          network = { mode: "proxy", proxySocket: opened, hosts };
        } else if (hosts) {
          if (!options.egress) {
            throw new LocalAgentError(
              "sandbox_unavailable",
              `${where}: network: [${hosts.join(", ")}] needs the egress proxy, which this daemon does not run`,
              {
                details: { command },
              },
            );
          }
          route = await options.egress.forStep(hosts, { runId: context.runId, workflow: context.workflow.name, step: context.path });
          network = { mode: "proxy", proxySocket: route.socketPath, hosts };
        }
        prepared = await sandbox.prepare({ ...request, network });
      }
      launch = attachLaunch(context, prepared);
      context.services.events.emit({
        type: "step-sandboxed",
        runId: context.runId,
        step: context.path,
        profile: prepared.profile,
        sandboxed: prepared.sandboxed,
        at: context.services.clock.now(),
      });
    } catch (error) {
      await route?.close();
      if (error instanceof LocalAgentError) throw error;
      throw new LocalAgentError("sandbox_unavailable", `${where}: cannot prepare the sandbox: ${errorMessage(error)}`, {
        cause: error,
        details: { command },
      });
    }
    try {
      const result: StepResult = await next();
      record(context, command, prepared.profile, { exitCode: launch.exit?.code ?? 0 });
      return result;
    } catch (error) {
      const exit = launch.exit;
      // An aborted step (timeout, cancel) has no exit of its own to explain; what it printed and
      // the cgroup counters may still say which limit held it (a fork bomb at pids.max).
      const reason =
        exit?.reason ??
        (prepared.sandboxed && (!exit || exit.aborted)
          ? prepared.explain({ code: null, signal: null, stderr: exit?.stderr ?? "" })
          : undefined);
      record(context, command, prepared.profile, {
        exitCode: exit?.code ?? null,
        ...(exit?.signal ? { signal: exit.signal } : {}),
        ...(reason ? { reason } : {}),
        error: errorMessage(error),
      });
      if (reason && exit?.reason === undefined && error instanceof LocalAgentError) {
        throw new LocalAgentError(error.code, `${error.message} (sandbox: ${reason})`, {
          cause: error,
          retryable: error.retryable,
          details: { ...error.details, sandbox: prepared.profile, sandboxReason: reason },
        });
      }
      throw error;
    } finally {
      try {
        await prepared.cleanup();
      } catch (error) {
        context.services.logger.warn({ step: context.path, err: error }, errorMessage(error));
      }
      await route?.close();
    }
  };
}

function isResolved(config: unknown): config is ResolvedSandboxConfig {
  return typeof config === "object" && config !== null && "readOnly" in config && "writable" in config;
}

function record(context: StepContext, command: string, sandbox: string, details: Record<string, unknown>): void {
  context.services.audit?.record({
    type: "command-executed",
    actor: { workflow: context.workflow.name, run: context.runId, step: context.path },
    details: { command, sandbox, ...details },
  });
}

/** The step's egress proxy socket, when `path` is a unix socket inside `DATA_DIR/egress`. */
function egressSocketOf(path: string | undefined, dataDir: string): string | undefined {
  if (path === undefined) return undefined;
  const folder = resolve(dataDir, "egress");
  const candidate = resolve(path);
  if (dirname(candidate) !== folder) return undefined;
  try {
    return lstatSync(candidate).isSocket() ? candidate : undefined;
  } catch {
    return undefined;
  }
}
