import type { Command } from "commander";
import { channelKinds, loadPlatforms } from "../channels/index.js";
import "../channels/builtin.js";
import type { ResolvedConfig } from "../config/index.js";
import { runningDaemonPid } from "../daemon/index.js";
import { errorMessage } from "../errors/index.js";
import { addCommonOptions, configOrReport, printJson, printTable, type CommonOptions, type Io } from "./context.js";

interface ChannelsOptions extends CommonOptions {
  platformConfig?: string;
  port?: string;
}

interface Row {
  name: string;
  kind: string;
  status: string;
  error?: string;
}

/**
 * `localagent channels`: each configured chat platform and its state — from the running daemon
 * (`GET /api/channels`), else from the config alone (what would fail to start, and why).
 */
export function registerChannels(program: Command, io: Io, setExit: (code: number) => void): void {
  addCommonOptions(program.command("channels"))
    .description("chat platforms and their status (running, failed and why)")
    .option("--platform-config <file>", "platforms.json (default: platform_config: in config.yaml)")
    .option("--port <port>", "daemon port (default from config)")
    .option("--json", "print JSON")
    .action(async (options: ChannelsOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      let rows: Row[];
      try {
        rows =
          runningDaemonPid(config.dataDir) !== undefined
            ? await fromDaemon(config, options.port)
            : fromConfig(config, options.platformConfig);
      } catch (error) {
        io.err(`${errorMessage(error)}\n`);
        return setExit(1);
      }
      if (rows.some((row) => row.status === "failed" || row.status === "invalid")) setExit(1);
      if (options.json) return printJson(io, rows);
      printTable(
        io,
        ["NAME", "KIND", "STATUS", "PROBLEM"],
        rows.map((row) => [row.name, row.kind, row.status, row.error ?? ""]),
      );
    });
}

async function fromDaemon(config: ResolvedConfig, port: string | undefined): Promise<Row[]> {
  const host = config.server.host === "0.0.0.0" ? "127.0.0.1" : config.server.host;
  const response = await fetch(`http://${host}:${port ?? config.server.port}/api/channels`, {
    headers: config.server.token ? { authorization: `Bearer ${config.server.token}` } : {},
  });
  if (!response.ok) throw new Error(`the daemon answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { channels: Row[] }).channels.map(({ name, kind, status, error }) => ({
    name,
    kind,
    status,
    ...(error ? { error } : {}),
  }));
}

function fromConfig(config: ResolvedConfig, file: string | undefined): Row[] {
  const { platforms } = loadPlatforms({ file: file ?? config.platformConfig, inline: config.extensions.platforms });
  const known = new Set(channelKinds());
  return platforms.map((platform) => {
    const error = platform.error ?? (known.has(platform.kind) ? undefined : `no adapter for platform kind "${platform.kind}"`);
    return {
      name: platform.name,
      kind: platform.kind,
      status: error ? "invalid" : "configured (daemon not running)",
      ...(error ? { error } : {}),
    };
  });
}
