import type { StepContext, StepMiddleware, StepResult } from "../engine/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import { decideEgress, systemLookup, type EgressLookup } from "./egress-decision.js";
import { startEgressProxy, type EgressConnectionRecord, type EgressProxy } from "./egress-proxy.js";
import { HostAllowList } from "./host-pattern.js";

export interface EgressControlOptions {
  /** A running proxy; by default one is started on first use, recording to the step services' audit log. */
  proxy?: EgressProxy;
  /** Folder for the per-step unix sockets (DATA_DIR/egress). */
  socketDir?: string;
  lookup?: EgressLookup;
}

/** The egress middleware and the proxy it starts (closed with the daemon). */
export interface EgressControl {
  middleware: StepMiddleware;
  close(): Promise<void>;
}

/**
 * `network: [hosts]` on a step. `shell`: a proxy listener of its own for the step's lifetime, with
 * HTTP(S)_PROXY/ALL_PROXY set (advisory without the sandbox: a program may ignore them; the
 * sandbox removes the network and leaves only the proxy's socket, which makes it binding). `http`:
 * the URL's host is checked here (allow-list and DNS-rebinding guard) and the request audited.
 * `network: true | false`, or none: nothing here (the sandbox decides).
 */
export function createEgressControl(options: EgressControlOptions = {}): EgressControl {
  let proxy = options.proxy;
  const lookup = options.lookup;
  const proxyFor = (context: StepContext): EgressProxy => {
    proxy ??= startEgressProxy({
      ...(context.services.audit ? { audit: context.services.audit } : {}),
      logger: context.services.logger,
      ...(options.socketDir ? { socketDir: options.socketDir } : {}),
      ...(lookup ? { lookup } : {}),
    });
    return proxy;
  };
  const middleware: StepMiddleware = async (context, next) => {
    const hosts = context.step.network;
    // An http step told `network: false` has nothing to do: checked like an empty allow-list.
    if (hosts === false && context.step.type === "http") return checkHttpStep(context, [], lookup, next);
    if (!Array.isArray(hosts)) return next();
    if (context.step.type === "http") return checkHttpStep(context, hosts, lookup, next);
    if (context.step.type !== "shell") return next();
    const step = await proxyFor(context).forStep(hosts, { runId: context.runId, stepName: context.path, workflow: context.workflow.name });
    context.env = { ...context.env, ...step.env };
    try {
      return await next();
    } finally {
      await step.close();
    }
  };
  return {
    middleware,
    close: async () => {
      await proxy?.close();
    },
  };
}

/** An `http` step's URL must name an allowed host; the request is audited like a proxied one. */
async function checkHttpStep(
  context: StepContext,
  hosts: readonly string[],
  lookup: EgressLookup | undefined,
  next: () => Promise<StepResult>,
): Promise<StepResult> {
  const started = performance.now();
  const rawUrl = String((context.config as { url?: unknown }).url ?? "");
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return next(); // the step reports the bad URL itself
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  const method = String((context.config as { method?: unknown }).method ?? "GET").toUpperCase();
  const decision = await decideEgress(new HostAllowList(hosts), host, port, lookup ?? systemLookup);
  const audit = (details: Omit<EgressConnectionRecord, "host" | "port" | "via" | "method">): void => {
    context.services.audit?.record({
      type: "egress-connection",
      actor: { workflow: context.workflow.name, run: context.runId, step: context.path },
      details: { host, port, via: "http-step", method, ...details },
    });
  };
  if (decision.decision !== "allow") {
    audit({
      decision: decision.decision,
      reason: decision.reason,
      ...("address" in decision && decision.address ? { address: decision.address } : {}),
      bytesUp: 0,
      bytesDown: 0,
      durationMs: elapsedSince(started),
    });
    const message = `step "${context.path}": network access refused: ${decision.reason}`;
    if (decision.decision === "deny") throw new LocalAgentError("policy_denied", message, { details: { host, port } });
    throw new LocalAgentError("step_failed", message, { retryable: true, details: { host, port } });
  }
  const body = (context.config as { body?: unknown }).body;
  const bytesUp = body === undefined || body === null ? 0 : Buffer.byteLength(typeof body === "string" ? body : JSON.stringify(body));
  try {
    const result = await next();
    const output = result.output as { status?: number; body?: unknown } | undefined;
    const received = output?.body;
    const bytesDown =
      received === undefined || received === null
        ? 0
        : Buffer.byteLength(typeof received === "string" ? received : JSON.stringify(received));
    audit({
      decision: "allow",
      rule: decision.rule,
      address: decision.address,
      bytesUp,
      bytesDown,
      durationMs: elapsedSince(started),
      ...(output?.status ? { status: output.status } : {}),
    });
    return result;
  } catch (error) {
    const details = (error as { details?: { status?: unknown } }).details;
    audit({
      decision: "allow",
      rule: decision.rule,
      address: decision.address,
      reason: errorMessage(error).slice(0, 300),
      bytesUp,
      bytesDown: 0,
      durationMs: elapsedSince(started),
      ...(typeof details?.status === "number" ? { status: details.status } : {}),
    });
    throw error;
  }
}

function elapsedSince(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
