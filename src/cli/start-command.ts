import type { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { Daemon } from "../daemon/index.js";
import { errorMessage } from "../errors/index.js";
import type { Io } from "./context.js";

interface StartOptions {
  config?: string;
  dataDir?: string;
  port?: string;
  host?: string;
  modelPath?: string;
  platformConfig?: string;
  cacheDir?: string;
  memoryLimit?: string;
  logLevel?: string;
}

/** `localagent start`: the daemon in the foreground (systemd, Docker and `npm start` run it so). */
export function registerStart(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("start")
    .description("start the daemon: schedules, triggers, HTTP API on 127.0.0.1:8080")
    .argument("[files...]", "extra workflow files or folders to load")
    .option("-c, --config <dir>", "config directory (default $LOCALAGENT_CONFIG or ~/.config/localagent)")
    .option("-d, --data-dir <dir>", "data directory (default ~/.local/share/localagent)")
    .option("-p, --port <port>", "HTTP port (default 8080; 0 picks a free one)")
    .option("--host <host>", "bind address (default 127.0.0.1; anything else needs server.token)")
    .option("--model-path <path>", "GGUF model for the embedded engine")
    .option("--platform-config <file>", "platforms.json with the chat platforms")
    .option("--cache-dir <dir>", "cache directory (default DATA_DIR/cache)")
    .option("--memory-limit <size>", "memory budget for local models, e.g. 6g")
    .option("--log-level <level>", "trace, debug, info, warn, error")
    .action(async (files: string[], options: StartOptions) => {
      let daemon: Daemon;
      try {
        const config = loadConfig({
          ...(options.config ? { configDir: options.config } : {}),
          ...(options.dataDir ? { dataDir: options.dataDir } : {}),
          ...(options.port !== undefined ? { port: Number(options.port) } : {}),
          ...(options.host ? { host: options.host } : {}),
          ...(options.modelPath ? { modelPath: options.modelPath } : {}),
          ...(options.platformConfig ? { platformConfig: options.platformConfig } : {}),
          ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
          ...(options.memoryLimit ? { memoryLimit: options.memoryLimit } : {}),
          ...(options.logLevel ? { logLevel: options.logLevel } : {}),
        });
        daemon = new Daemon({ config, workflowFiles: files });
        await daemon.start();
      } catch (error) {
        io.err(`localagent start: ${errorMessage(error)}\n`);
        return setExit(1);
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          daemon.logger.info({ signal }, "signal received");
          void daemon.stop().then(resolve, (error: unknown) => {
            io.err(`localagent: stop failed: ${errorMessage(error)}\n`);
            setExit(1);
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
        process.on("SIGHUP", () => daemon.reload());
      });
      setExit(0);
    });
}
