import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { z } from "zod";
import { resolveAuditConfig, type ResolvedAuditConfig } from "../audit/index.js";
import { parseByteSize, parseDuration } from "../duration/index.js";
import type { NotificationTarget } from "../engine/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import type { Durability } from "../store/index.js";
import { YamlSource } from "../workflow/yaml-source.js";
import { configFileSchema, type ConfigFile } from "./schema.js";

/** What the command line may override. */
export interface ConfigOptions {
  configDir?: string;
  dataDir?: string;
  cacheDir?: string;
  host?: string;
  port?: number;
  modelPath?: string;
  platformConfig?: string;
  memoryLimit?: string;
  logLevel?: string;
  /** Environment to read LOCALAGENT_* and env:NAME secrets from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** The resolved configuration: every default applied, every path absolute. The core sees only this. */
export interface ResolvedConfig {
  configDir: string;
  configFile: string | undefined;
  workflowsDir: string;
  workflowPaths: string[];
  dataDir: string;
  cacheDir: string;
  databasePath: string;
  durability: Durability;
  server: { host: string; port: number; token: string | undefined };
  logLevel: string;
  shutdownGraceMs: number;
  maxOutputBytes: number;
  maxConcurrentRuns: number;
  networkProbeIntervalMs: number;
  outbox: { backoffMs: number; maxBackoffMs: number };
  notifications: Record<string, NotificationTarget>;
  memoryLimitBytes: number | undefined;
  modelPath: string | undefined;
  /** `allocator.weights` as written (undefined: the allocator's defaults). */
  allocatorWeights: Record<string, number> | undefined;
  platformConfig: string | undefined;
  /** Sections owned by later layers (models, routing, platforms, policy, …), passed through. */
  extensions: Record<string, unknown>;
  audit: ResolvedAuditConfig;
  approvals: { timeoutMs: number };
  /** Every secret value resolved from `env:`/`file:` (and the API token): redacted from the audit log and API errors. */
  secrets: string[];
}

export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOCALAGENT_CONFIG) return resolve(env.LOCALAGENT_CONFIG);
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "localagent");
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOCALAGENT_DATA_DIR) return resolve(env.LOCALAGENT_DATA_DIR);
  return join(env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "localagent");
}

/** Reads and validates config.yaml (if present) and applies flags and defaults. Throws `config_invalid` naming file:line:column. */
export function loadConfig(options: ConfigOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const configDir = resolve(options.configDir ?? defaultConfigDir(env));
  const candidates = ["config.yaml", "config.yml"].map((name) => join(configDir, name));
  const configFile = candidates.find((file) => existsSync(file));
  const file = configFile ? parseConfigFile(configFile, options.modelPath) : {};
  const relative = (path: string): string => expandHome(isAbsolute(path) || path.startsWith("~") ? path : join(configDir, path));
  const dataDir = resolve(
    options.dataDir ?? (env.LOCALAGENT_DATA_DIR ? env.LOCALAGENT_DATA_DIR : file.data_dir ? relative(file.data_dir) : defaultDataDir(env)),
  );
  const at = (field: string): string => `${configFile ?? join(configDir, "config.yaml")}: ${field}`;
  const port = options.port ?? (env.LOCALAGENT_PORT ? Number(env.LOCALAGENT_PORT) : (file.server?.port ?? 8080));
  const memoryLimit = options.memoryLimit ?? file.memory_limit;
  const secrets: string[] = [];
  const secret = (value: string | undefined, where: string): string | undefined => {
    const resolved = resolveSecret(value, env, where);
    if (resolved !== undefined && resolved !== value) secrets.push(resolved);
    return resolved;
  };
  const extensions: Record<string, unknown> = {};
  for (const key of ["models", "routing", "cache", "platforms", "policy", "sandbox", "mcp", "conversations"] as const) {
    if (file[key] !== undefined) extensions[key] = file[key];
  }
  // Model API keys are read here too, so a missing env var is a start-up error and the values are redacted everywhere.
  for (const [name, entry] of Object.entries(file.models ?? {})) {
    if ("api_key" in entry) secret(entry.api_key, at(`models.${name}.api_key`));
  }
  return {
    configDir,
    configFile,
    workflowsDir: join(configDir, "workflows"),
    workflowPaths: (file.workflows ?? []).map(relative),
    dataDir,
    cacheDir: resolve(options.cacheDir ?? (file.cache_dir ? relative(file.cache_dir) : join(dataDir, "cache"))),
    databasePath: join(dataDir, "localagent.db"),
    durability: file.durability ?? "process",
    server: {
      host: options.host ?? env.LOCALAGENT_HOST ?? file.server?.host ?? "127.0.0.1",
      port,
      token: secret(file.server?.token ?? env.LOCALAGENT_TOKEN, at("server.token")),
    },
    logLevel: options.logLevel ?? env.LOCALAGENT_LOG_LEVEL ?? file.log_level ?? "info",
    shutdownGraceMs: parseDuration(file.shutdown_grace ?? "10s"),
    maxOutputBytes: parseByteSize(file.max_output ?? "1m"),
    maxConcurrentRuns: file.max_concurrent_runs ?? 32,
    networkProbeIntervalMs: parseDuration(file.network?.probe_interval ?? "5s"),
    outbox: { backoffMs: parseDuration(file.outbox?.backoff ?? "1s"), maxBackoffMs: parseDuration(file.outbox?.max_backoff ?? "5m") },
    notifications: resolveNotifications(file.notifications ?? {}, secret, at),
    memoryLimitBytes: memoryLimit === undefined ? undefined : parseByteSize(memoryLimit),
    modelPath: options.modelPath ? resolve(options.modelPath) : file.model_path ? relative(file.model_path) : undefined,
    allocatorWeights: file.allocator?.weights,
    platformConfig: options.platformConfig
      ? resolve(options.platformConfig)
      : file.platform_config
        ? relative(file.platform_config)
        : undefined,
    extensions,
    audit: resolveAuditConfig(file.audit, configFile ?? "config.yaml"),
    approvals: { timeoutMs: parseDuration(file.approvals?.timeout ?? "1h") },
    secrets: [...new Set([...secrets, ...(file.server?.token === undefined && env.LOCALAGENT_TOKEN ? [env.LOCALAGENT_TOKEN] : [])])],
  };
}

/** `modelPath`: --model-path, which registers the model `default` as model_path: does (routing: may name it). */
function parseConfigFile(file: string, modelPath?: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new LocalAgentError("config_invalid", `${file}: cannot read: ${errorMessage(error)}`);
  }
  const source = new YamlSource(file, text);
  const first = source.syntaxIssues[0];
  if (first) throw configError(source.syntaxIssues.map((issue) => `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`));
  const data: unknown = source.toJS() ?? {};
  const withModelPath =
    modelPath !== undefined && typeof data === "object" && data !== null && !Array.isArray(data) && !("model_path" in data)
      ? { ...data, model_path: modelPath }
      : data;
  const parsed = configFileSchema.safeParse(withModelPath);
  if (!parsed.success) throw configError(describeIssues(source, parsed.error));
  return parsed.data;
}

function describeIssues(source: YamlSource, error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map((segment) => (typeof segment === "number" ? segment : String(segment)));
    const field = path.join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => {
        const position = source.position(path, key);
        return `${source.file}:${position.line}:${position.column}: unknown field "${[...path, key].join(".")}"`;
      });
    }
    const position = source.position(path);
    return [`${source.file}:${position.line}:${position.column}: ${field || "config"}: ${issue.message}`];
  });
}

function configError(lines: string[]): LocalAgentError {
  return new LocalAgentError("config_invalid", lines.join("\n"), { details: { problems: lines } });
}

/**
 * `env:NAME` reads a secret from the environment and `file:/path` from a file (one trailing newline
 * dropped; relative paths are against the config directory by the caller), so config files can be
 * shared without their secrets.
 */
export function resolveSecret(value: string | undefined, env: NodeJS.ProcessEnv, where: string): string | undefined {
  if (value === undefined) return value;
  if (value.startsWith("file:")) {
    const path = expandHome(value.slice(5));
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new LocalAgentError("config_invalid", `${where}: cannot read secret file ${path}: ${errorMessage(error)}`);
    }
    const secret = text.replace(/\r?\n$/, "");
    if (secret === "") throw new LocalAgentError("config_invalid", `${where}: secret file ${path} is empty`);
    return secret;
  }
  if (!value.startsWith("env:")) return value;
  const name = value.slice(4);
  const secret = env[name];
  if (secret === undefined || secret === "")
    throw new LocalAgentError("config_invalid", `${where}: environment variable ${name} is not set`);
  return secret;
}

function resolveNotifications(
  targets: NonNullable<ConfigFile["notifications"]>,
  secret: (value: string | undefined, where: string) => string | undefined,
  at: (field: string) => string,
): Record<string, NotificationTarget> {
  const result: Record<string, NotificationTarget> = {};
  for (const [name, target] of Object.entries(targets)) {
    const resolved: NotificationTarget = { type: target.type };
    if (target.url) resolved.url = target.url;
    if (target.headers) {
      resolved.headers = {};
      for (const [header, value] of Object.entries(target.headers)) {
        resolved.headers[header] = secret(value, at(`notifications.${name}.headers.${header}`)) ?? "";
      }
    }
    result[name] = resolved;
  }
  return result;
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}
