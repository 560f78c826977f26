import { fork, type Serializable } from "node:child_process";
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
  /** Run it in a worker thread instead of a child process (its memory is then part of the daemon's). */
  thread?: boolean;
}

/** How long the parser stays loaded after the last check. */
export const DEFAULT_POLICY_IDLE_MS = 15_000;

/**
 * The command policy in a child process that is ended when idle. The bash grammar is
 * WebAssembly (web-tree-sitter): once loaded in the daemon, its compiled code and linear memory
 * stay for the life of the process (20–70 MB of idle RSS after a single shell step, measured in
 * docs/benchmarks.md); an ended child gives all of it back. A start costs ~0.1–0.3 s, paid by the
 * first shell step after a quiet period; a check costs one IPC round trip. Where the worker
 * script is missing (running from the TypeScript sources), the policy runs in-process instead.
 */
export function createWorkerPolicyChecker(options: WorkerPolicyCheckerOptions = {}): PolicyChecker {
  const workerUrl = options.workerUrl ?? new URL("./policy-worker.js", import.meta.url);
  // LOCALAGENT_POLICY_WORKER=off keeps the parser in the main thread (measurements, diagnosis).
  if (process.env.LOCALAGENT_POLICY_WORKER === "off" || !existsSync(fileURLToPath(workerUrl)))
    return createInProcessChecker(() => createCommandPolicy({ config: options.config }));
  const idleMs = options.idleMs ?? DEFAULT_POLICY_IDLE_MS;
  let worker: PolicyProcess | undefined;
  let ready: Promise<PolicyProcess> | undefined;
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
    if (current) await current.stop();
  };
  const armIdle = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (pending.size === 0) void stop();
      else armIdle();
    }, idleMs);
    idleTimer.unref();
  };
  const start = (): Promise<PolicyProcess> => {
    ready ??= new Promise<PolicyProcess>((resolve, reject) => {
      const created = spawnPolicyProcess(workerUrl, options.config, options.thread === true);
      worker = created;
      created.hold(true); // until it is ready: a caller may have nothing else keeping it alive
      created.onMessage((message) => {
        if (message.ready) {
          if (pending.size === 0) created.hold(false);
          return resolve(created);
        }
        const waiter = message.id === undefined ? undefined : pending.get(message.id);
        if (!waiter || message.id === undefined) return;
        pending.delete(message.id);
        if (pending.size === 0) created.hold(false);
        if (message.check) waiter.resolve(message.check);
        else waiter.reject(new LocalAgentError("unavailable", `command policy: ${message.error ?? "no answer"}`));
      });
      created.onGone((error) => {
        if (worker !== created) return;
        worker = undefined;
        ready = undefined;
        reject(error);
        failAll(error);
      });
    });
    return ready;
  };

  return {
    async check(command) {
      const current = await start();
      const id = nextId++;
      const answer = new Promise<PolicyCheck>((resolve, reject) => pending.set(id, { resolve, reject }));
      current.hold(true);
      current.send({ id, command });
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

type PolicyMessage = { ready?: boolean; id?: number; check?: PolicyCheck; error?: string };

/** The policy's process or thread, seen through one interface. */
interface PolicyProcess {
  onMessage(listener: (message: PolicyMessage) => void): void;
  /** It failed or exited. */
  onGone(listener: (error: Error) => void): void;
  send(message: unknown): void;
  /** Keep the daemon's event loop alive while an answer is awaited (and only then). */
  hold(waiting: boolean): void;
  stop(): Promise<void>;
}

/**
 * A child process by default: when it ends, every page it used is gone, where a worker thread
 * leaves its malloc arena and touched code pages in the daemon's RSS. Neither keeps the daemon
 * alive; the child exits when its IPC channel closes (the daemon died).
 */
function spawnPolicyProcess(workerUrl: URL, config: unknown, thread: boolean): PolicyProcess {
  const failed = (error: Error): Error =>
    new LocalAgentError("unavailable", `command policy worker failed: ${error.message}`, { cause: error });
  const exited = (code: number | null): Error => new LocalAgentError("unavailable", `command policy worker exited (code ${String(code)})`);
  if (thread) {
    const worker = new Worker(workerUrl, { workerData: { config } });
    worker.unref();
    return {
      onMessage: (listener) => void worker.on("message", listener),
      onGone: (listener) => {
        worker.on("error", (error) => listener(failed(error)));
        worker.on("exit", (code) => listener(exited(code)));
      },
      send: (message) => worker.postMessage(message),
      hold: (waiting) => (waiting ? worker.ref() : worker.unref()),
      stop: async () => {
        await worker.terminate();
      },
    };
  }
  const child = fork(fileURLToPath(workerUrl), [], {
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [],
    env: { ...process.env, LOCALAGENT_POLICY_CONFIG: JSON.stringify(config ?? null) },
  });
  child.unref();
  child.channel?.unref();
  return {
    onMessage: (listener) => void child.on("message", listener),
    onGone: (listener) => {
      child.on("error", (error) => listener(failed(error)));
      child.on("exit", (code) => listener(exited(code)));
    },
    send: (message) => void child.send(message as Serializable),
    hold: (waiting) => (waiting ? child.channel?.ref() : child.channel?.unref()),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.ref(); // so a caller awaiting stop() is not left with an empty event loop
      child.kill("SIGKILL");
      await gone;
    },
  };
}
