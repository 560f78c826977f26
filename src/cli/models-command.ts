import type { Command } from "commander";
import type { ResolvedConfig } from "../config/index.js";
import { modelSections } from "../daemon/index.js";
import { errorMessage } from "../errors/index.js";
import { ModelService, type ModelsOverview } from "../models/index.js";
import { addCommonOptions, configOrReport, postToDaemon, printJson, printTable, type CommonOptions, type Io } from "./context.js";

interface ModelsOptions extends CommonOptions {
  port?: string;
}

/** What `models test` prints. */
interface ProbeResult {
  target: string;
  model: string;
  latencyMs: number;
  usage: { inputTokens: number; outputTokens: number };
  text: string;
}

/** `localagent models list|test`: through the running daemon (live health and cache counters), else from the config. */
export function registerModels(program: Command, io: Io, setExit: (code: number) => void): void {
  const models = program.command("models").description("show and probe the configured models and the routing matrix");
  addCommonOptions(models.command("list"))
    .description("models, their task types, health and the cache counters")
    .option("--json", "print JSON")
    .option("--port <port>", "daemon port (default from config)")
    .action(async (options: ModelsOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      let overview: ModelsOverview & { source: string };
      try {
        const live = await getFromDaemon(config, options.port, "/api/models");
        overview = live
          ? { ...(live as ModelsOverview), source: "daemon" }
          : { ...(await fromConfig(config, (service) => service.overview())), source: "config" };
      } catch (error) {
        io.err(`localagent models list: ${errorMessage(error)}\n`);
        return setExit(1);
      }
      if (options.json) return printJson(io, overview);
      if (overview.models.length === 0) {
        io.out("no models configured: add models: and routing: to config.yaml (docs/models.md), or start with --model-path FILE.gguf\n");
        return;
      }
      const live = overview.source === "daemon";
      printTable(
        io,
        ["NAME", "PROVIDER", "ENDPOINT", "MODEL", "TASK TYPES", "HEALTH", "SERVED"],
        overview.models.map((model) => [
          model.name,
          model.provider,
          model.endpoint,
          model.model ?? model.quantization ?? "-",
          model.taskTypes.join(",") || "-",
          live ? health(model.health) : "-",
          live ? String(model.health.served) : "-",
        ]),
      );
      const cache = overview.cache;
      io.out(
        live
          ? `cache: ${cache.enabled ? "on" : "off"}, ${cache.hits} hits, ${cache.misses} misses, ${cache.entries} entries (${formatBytes(cache.bytes)})\n`
          : "(daemon not running: health and cache counters are shown by a running daemon)\n",
      );
    });
  addCommonOptions(models.command("test"))
    .description("send a tiny prompt through a model or task type: who served, latency, tokens")
    .argument("<name>", "a model name or a task type")
    .option("--json", "print JSON")
    .option("--port <port>", "daemon port (default from config)")
    .action(async (name: string, options: ModelsOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      let result: ProbeResult;
      try {
        result = await probe(config, options.port, name);
      } catch (error) {
        io.err(`localagent models test ${name}: failed: ${errorMessage(error)}\n`);
        return setExit(1);
      }
      if (options.json) return printJson(io, result);
      const via = result.model === result.target ? "" : ` (for ${result.target})`;
      io.out(
        `served by ${result.model}${via} in ${result.latencyMs} ms, ${result.usage.inputTokens} input / ${result.usage.outputTokens} output tokens: ${JSON.stringify(result.text.slice(0, 80))}\n`,
      );
    });
}

/** Through the daemon when it runs (its routing and health), else with models built from the config here. */
async function probe(config: ResolvedConfig, port: string | undefined, name: string): Promise<ProbeResult> {
  let response: Response | undefined;
  try {
    response = await postToDaemon(config, port, `/api/models/${encodeURIComponent(name)}/test`);
  } catch {
    response = undefined;
  }
  if (response) {
    const body = (await response.json()) as ProbeResult & { error?: { message?: string } };
    if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
    return body;
  }
  return fromConfig(config, (service) => service.probe(name));
}

async function fromConfig<T>(config: ResolvedConfig, use: (service: ModelService) => T | Promise<T>): Promise<T> {
  const service = new ModelService({
    initial: modelSections(config),
    source: config.configFile ?? "config.yaml",
    configDir: config.configDir,
    ...(config.modelPath ? { modelPath: config.modelPath } : {}),
  });
  try {
    return await use(service);
  } finally {
    await service.close();
  }
}

/** GET from the running daemon; undefined when none answers. */
async function getFromDaemon(config: ResolvedConfig, port: string | undefined, path: string): Promise<unknown> {
  const host = config.server.host === "0.0.0.0" ? "127.0.0.1" : config.server.host;
  const headers: Record<string, string> = config.server.token ? { authorization: `Bearer ${config.server.token}` } : {};
  let response: Response;
  try {
    response = await fetch(`http://${host}:${port ?? config.server.port}${path}`, { headers });
  } catch {
    return undefined;
  }
  const body = (await response.json()) as { error?: { message?: string } };
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return body;
}

function health(value: ModelsOverview["models"][number]["health"]): string {
  if (value.state === "cooling_down")
    return `cooling down ${Math.ceil((value.retryInMs ?? 0) / 1000)}s (${value.lastError ?? "failed"})`.slice(0, 60);
  return value.state;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
