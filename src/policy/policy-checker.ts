import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { LocalAgentError } from "../errors/index.js";
import { createCommandPolicy, type CommandPolicy, type PolicyCheck } from "./command-policy.js";

/** Checks commands, possibly off the main thread. */
export interface PolicyChecker {
  check(command: string): Promise<PolicyCheck>;
  /** Whether the parser is loaded now (worker running, or in-process). */
  readonly loaded: boolean;
  close(): Promise<void>;
}

export interface WorkerPolicyCheckerOptions {
  /** The `policy:` section of config.yaml (already validated by the caller). */
  config?: unknown;
  /** The worker is terminated after this long without a check (default 15 s); the next check starts it again. */
  idleMs?: number;
  /** The worker script (default: policy-worker.js beside this module). */
  workerUrl?: URL;
}

/** How long the parser stays loaded after the last check. */
export const DEFAULT_POLICY_IDLE_MS = 15_000;

/**
 * The command policy in a worker thread that is terminated when idle. The bash grammar is
 * WebAssembly (web-tree-sitter): once loaded in the main thread, its compiled code and linear
 * memory stay for the life of the process (~17 MB of idle RSS after a single shell step); a
 * terminated worker's isolate gives all of it back. A start costs ~0.1–0.2 s, paid by the first
 * shell step after a quiet period. Where the worker script is missing (running from the
 * TypeScript sources), the policy runs in-process instead.
 */
export function createWorkerPolicyChecker(options: WorkerPolicyCheckerOptions = {}): PolicyChecker {
  const workerUrl = options.workerUrl ?? new URL("./policy-worker.js", import.meta.url);
  if (!existsSync(fileURLToPath(workerUrl))) return createInProcessChecker(() => createCommandPolicy({ config: options.config }));
  const idleMs = options.idleMs ?? DEFAULT_POLICY_IDLE_MS;
  let worker: Worker | undefined;
  let ready: Promise<Worker> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (check: PolicyCheck) => void; reject: (error: Error) => void }>();

  const failAll = (error: Error): void => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  const stop = async (): Promise<void> => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    const current = worker;
    worker = undefined;
    ready = undefined;
    if (current) await current.terminate();
  };
  const armIdle = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (pending.size === 0) void stop();
      else armIdle();
    }, idleMs);
    idleTimer.unref();
  };
  const start = (): Promise<Worker> => {
    ready ??= new Promise<Worker>((resolve, reject) => {
      const created = new Worker(workerUrl, { workerData: { config: options.config } });
      created.unref();
      worker = created;
      created.on("message", (message: { ready?: boolean; id?: number; check?: PolicyCheck; error?: string }) => {
        if (message.ready) return resolve(created);
        const waiter = message.id === undefined ? undefined : pending.get(message.id);
        if (!waiter || message.id === undefined) return;
        pending.delete(message.id);
        if (message.check) waiter.resolve(message.check);
        else waiter.reject(new LocalAgentError("unavailable", `command policy: ${message.error ?? "no answer"}`));
      });
      const gone = (error: Error): void => {
        if (worker !== created) return;
        worker = undefined;
        ready = undefined;
        reject(error);
        failAll(error);
      };
      created.on("error", (error) =>
        gone(new LocalAgentError("unavailable", `command policy worker failed: ${error.message}`, { cause: error })),
      );
      created.on("exit", (code) => gone(new LocalAgentError("unavailable", `command policy worker exited (code ${code})`)));
    });
    return ready;
  };

  return {
    async check(command) {
      const current = await start();
      const id = nextId++;
      const answer = new Promise<PolicyCheck>((resolve, reject) => pending.set(id, { resolve, reject }));
      current.postMessage({ id, command });
      armIdle();
      return answer;
    },
    get loaded() {
      return worker !== undefined;
    },
    close: stop,
  };
}

/** A checker over an in-process policy (tests, a given policy); a function is called on first use. */
export function createInProcessChecker(policy: CommandPolicy | Promise<CommandPolicy> | (() => Promise<CommandPolicy>)): PolicyChecker {
  let loaded: CommandPolicy | undefined;
  let ready: Promise<CommandPolicy> | undefined;
  return {
    async check(command) {
      ready ??= Promise.resolve(typeof policy === "function" ? policy() : policy);
      loaded ??= await ready;
      return loaded.check(command);
    },
    get loaded() {
      return loaded !== undefined;
    },
    close: () => Promise.resolve(),
  };
}
