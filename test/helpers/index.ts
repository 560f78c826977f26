import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root and the CLI entry point (tests run against the built dist/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(ROOT, "bin", "localagent.js");

/** A fresh temporary directory, removed by the returned cleanup. */
export function makeTempDir(prefix = "localagent-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
  at: number;
}

/**
 * A local HTTP receiver standing in for a webhook endpoint. It records every POST, can be taken
 * down and brought back on the same port, and can answer with a chosen status.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  status = 200;
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        if (this.status < 300) this.requests.push({ path: request.url ?? "/", headers: request.headers, body, at: Date.now() });
        response.writeHead(this.status, { "content-type": "application/json" }).end('{"ok":true}');
      });
    });
    await new Promise<void>((done) => this.server?.listen(port, "127.0.0.1", done));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Stops listening (connections refused) while keeping the port for `start(port)`. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }

  /** Requests grouped by their Idempotency-Key header. */
  byKey(): Map<string, ReceivedRequest[]> {
    const groups = new Map<string, ReceivedRequest[]>();
    for (const request of this.requests) {
      const key = String(request.headers["idempotency-key"] ?? "");
      groups.set(key, [...(groups.get(key) ?? []), request]);
    }
    return groups;
  }
}

export interface DaemonProcess {
  child: ChildProcess;
  port: number;
  url: string;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Starts `localagent start` as a real process and waits for /healthz. */
export async function startDaemon(options: {
  configDir: string;
  dataDir: string;
  port?: number;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}): Promise<DaemonProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(
    process.execPath,
    [CLI, "start", "--config", options.configDir, "--data-dir", options.dataDir, "--port", String(port), ...(options.args ?? [])],
    {
      env: { ...process.env, LOCALAGENT_LOG_LEVEL: "info", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`daemon exited early (${child.exitCode}):\n${output}`);
      try {
        return (await fetch(`${url}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 15_000);
  } catch (error) {
    // A daemon that never became healthy must not outlive the test.
    child.kill("SIGKILL");
    throw error;
  }
  return {
    child,
    port,
    url,
    output: () => output,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls until `check` returns true, or throws after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Runs the CLI to completion; a CLI still running after `timeoutMs` (default 20 s) is killed and gets code null. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd ?? ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** JSON read back from the daemon: tests assert on its shape, so it is read loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A config dir holding `config.yaml` and `workflows/<name>` files; returns its path. */
export function writeConfigDir(dir: string, files: { config?: string; workflows?: Record<string, string> }): string {
  mkdirSync(join(dir, "workflows"), { recursive: true });
  if (files.config !== undefined) writeFile(join(dir, "config.yaml"), files.config);
  for (const [name, text] of Object.entries(files.workflows ?? {})) writeFile(join(dir, "workflows", name), text);
  return dir;
}

/** One JSON request to the daemon's API: the status and the parsed body (text when not JSON). */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  options: { raw?: string; contentType?: string } = {},
): Promise<{ status: number; body: Json }> {
  const text = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: text === undefined ? {} : { "content-type": options.contentType ?? "application/json" },
    ...(text === undefined ? {} : { body: text }),
  });
  const answer = await response.text();
  let parsed: unknown = answer;
  try {
    parsed = JSON.parse(answer);
  } catch {
    parsed = answer;
  }
  return { status: response.status, body: parsed };
}

/** Polls a run through the API until it reaches a final status; returns the run view. */
export async function waitForRun(baseUrl: string, runId: string, timeoutMs = 15_000): Promise<Json> {
  let run: Json;
  await waitFor(
    async () => {
      run = (await callApi(baseUrl, "GET", `/api/runs/${runId}`)).body;
      return ["succeeded", "failed", "cancelled"].includes(run?.status);
    },
    timeoutMs,
    50,
  );
  return run;
}
