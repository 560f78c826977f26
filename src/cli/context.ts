import type { Command } from "commander";
import { existsSync } from "node:fs";
import { loadConfig, type ResolvedConfig } from "../config/index.js";
import { errorMessage } from "../errors/index.js";
import { MemoryStore, SqliteStore, type Store } from "../store/index.js";

/** Options shared by every command that reads the config and data directories. */
export interface CommonOptions {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

export function addCommonOptions(command: Command): Command {
  return command
    .option("-c, --config <dir>", "config directory (default $LOCALAGENT_CONFIG or ~/.config/localagent)")
    .option("-d, --data-dir <dir>", "data directory (default ~/.local/share/localagent)");
}

export function resolveConfig(options: CommonOptions): ResolvedConfig {
  return loadConfig({
    ...(options.config ? { configDir: options.config } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
}

/** Where CLI commands write; swapped in tests. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  isTty: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTty: Boolean(process.stdout.isTTY),
};

export function printJson(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns for list commands. */
export function printTable(io: Io, headers: string[], rows: string[][]): void {
  const widths = headers.map((header, index) => Math.max(header.length, ...rows.map((row) => (row[index] ?? "").length)));
  const format = (row: string[]): string =>
    row
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join("  ")
      .trimEnd();
  io.out(`${format(headers)}\n`);
  for (const row of rows) io.out(`${format(row)}\n`);
}

/** The data directory's store for reading; an empty one when nothing ran yet (no files are created). */
export function openStoreForReading(config: ResolvedConfig): Store {
  return existsSync(config.databasePath) ? new SqliteStore({ path: config.databasePath }) : new MemoryStore();
}

/** Resolves the config, or prints why it cannot and sets exit status 1 (then returns undefined). */
export function configOrReport(options: CommonOptions, io: Io, setExit: (code: number) => void): ResolvedConfig | undefined {
  try {
    return resolveConfig(options);
  } catch (error) {
    io.err(`${errorMessage(error)}\n`);
    setExit(1);
    return undefined;
  }
}

/**
 * POSTs to the running daemon and reports: the error body on stderr (exit 1), else the lines `lines`
 * makes of the JSON answer on stdout (exit 0); an unreachable daemon is exit 1 with the reason.
 */
export async function postAndReport(
  config: ResolvedConfig,
  port: string | undefined,
  path: string,
  body: unknown,
  io: Io,
  lines: (answer: unknown) => string[],
): Promise<number> {
  try {
    const response = await postToDaemon(config, port, path, body);
    const text = await response.text();
    if (!response.ok) {
      io.err(`${text}\n`);
      return 1;
    }
    for (const line of lines(JSON.parse(text))) io.out(`${line}\n`);
    return 0;
  } catch (error) {
    io.err(`cannot reach the daemon: ${errorMessage(error)}\n`);
    return 1;
  }
}

/** A POST to the running daemon's API on this machine, with the configured token. */
export function postToDaemon(config: ResolvedConfig, port: string | undefined, path: string, body?: unknown): Promise<Response> {
  const host = config.server.host === "0.0.0.0" ? "127.0.0.1" : config.server.host;
  const headers: Record<string, string> = config.server.token ? { authorization: `Bearer ${config.server.token}` } : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(`http://${host}:${port ?? config.server.port}${path}`, {
    method: "POST",
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}
