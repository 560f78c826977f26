import { readFileSync } from "node:fs";
import type { z } from "zod";
import { resolveSecret } from "../config/config.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import { KIND_ALIASES, platformsConfigSchema, platformsFileSchema, type PlatformEntry } from "./platform-schema.js";

/** A platform with its kind decided and its secrets resolved (or the reason they could not be). */
export interface PlatformConfig extends Omit<PlatformEntry, "auth" | "secret" | "encrypt_key" | "verification_token" | "chat_id"> {
  name: string;
  kind: string;
  /** Where it was configured (`platforms.json: platforms[0]`), for error messages. */
  where: string;
  auth?: string | Record<string, string>;
  secret?: string;
  encrypt_key?: string;
  verification_token?: string;
  chat_id?: string;
  allow_users?: Array<string | number>;
  /** Why the secrets could not be resolved; the adapter then fails to start with this, the daemon keeps running. */
  error?: string;
}

export interface LoadedPlatforms {
  platforms: PlatformConfig[];
  /** Resolved secret values, for redaction. */
  secrets: string[];
}

/**
 * Reads the platforms from `--platform-config FILE` / `platform_config:` and `platforms:` in
 * config.yaml (already validated there with file:line:column). A malformed platforms.json throws
 * `config_invalid` naming the JSON path; a secret that cannot be resolved only marks that platform.
 */
export function loadPlatforms(options: { file?: string | undefined; inline?: unknown; env?: NodeJS.ProcessEnv }): LoadedPlatforms {
  const env = options.env ?? process.env;
  const entries: Array<{ entry: PlatformEntry; where: string }> = [];
  if (options.inline !== undefined) {
    const parsed = platformsConfigSchema.safeParse(options.inline);
    if (!parsed.success) throw jsonError("config.yaml: platforms", parsed.error, "platforms");
    parsed.data.forEach((entry, index) => entries.push({ entry, where: `config.yaml: platforms[${index}]` }));
  }
  if (options.file) {
    for (const [index, entry] of parsePlatformsFile(options.file).entries())
      entries.push({ entry, where: `${options.file}: platforms[${index}]` });
  }
  const seen = new Map<string, string>();
  const secrets: string[] = [];
  const platforms = entries.map(({ entry, where }) => {
    const previous = seen.get(entry.name);
    if (previous) throw new LocalAgentError("config_invalid", `${where}: name "${entry.name}" is already used by ${previous}`);
    seen.set(entry.name, where);
    const platform = resolvePlatform(entry, where, env);
    for (const value of secretValues(platform)) if (value.length >= 4) secrets.push(value);
    return platform;
  });
  return { platforms, secrets: [...new Set(secrets)] };
}

/** Parses platforms.json; errors name the file and the JSON path (`platforms[0].auth`). */
export function parsePlatformsFile(file: string): PlatformEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new LocalAgentError("config_invalid", `${file}: cannot read the platform config: ${errorMessage(error)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new LocalAgentError("config_invalid", `${file}: not valid JSON: ${errorMessage(error)}`);
  }
  const parsed = platformsFileSchema.safeParse(data);
  if (!parsed.success) throw jsonError(file, parsed.error, "");
  return parsed.data.platforms;
}

function jsonError(where: string, error: z.ZodError, prefix: string): LocalAgentError {
  const lines = error.issues.flatMap((issue) => {
    const path = jsonPath([...(prefix ? [prefix] : []), ...issue.path.map((segment) => segment as string | number)]);
    if (issue.code === "unrecognized_keys")
      return issue.keys.map((key) => `${where}: ${jsonPath([...(issue.path as Array<string | number>), key]) || key}: unknown field`);
    return [`${where}: ${path || "(top level)"}: ${issue.message}`];
  });
  return new LocalAgentError("config_invalid", lines.join("\n"), { details: { problems: lines } });
}

/** `platforms[0].auth.app_id` */
export function jsonPath(path: Array<string | number>): string {
  return path.map((segment, index) => (typeof segment === "number" ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join("");
}

function resolvePlatform(entry: PlatformEntry, where: string, env: NodeJS.ProcessEnv): PlatformConfig {
  const kind = entry.type ? (KIND_ALIASES[entry.type] ?? entry.type) : KIND_ALIASES[entry.name];
  const { auth, secret, encrypt_key, verification_token, chat_id, ...rest } = entry;
  const platform: PlatformConfig = { ...rest, name: entry.name, kind: kind ?? "", where };
  if (!kind)
    platform.error = `${where}: "${entry.name}" is not a known platform kind: add type: (telegram, enterprise_im, webhook, webchat)`;
  if (chat_id !== undefined) platform.chat_id = String(chat_id);
  try {
    if (typeof auth === "string") platform.auth = resolveSecret(auth, env, `${where}.auth`) ?? "";
    else if (auth) {
      const resolved: Record<string, string> = {};
      for (const [key, value] of Object.entries(auth)) resolved[key] = resolveSecret(value, env, `${where}.auth.${key}`) ?? "";
      platform.auth = resolved;
    }
    if (secret !== undefined) platform.secret = resolveSecret(secret, env, `${where}.secret`) ?? "";
    if (encrypt_key !== undefined) platform.encrypt_key = resolveSecret(encrypt_key, env, `${where}.encrypt_key`) ?? "";
    if (verification_token !== undefined)
      platform.verification_token = resolveSecret(verification_token, env, `${where}.verification_token`) ?? "";
  } catch (error) {
    platform.error ??= errorMessage(error);
  }
  return platform;
}

function secretValues(platform: PlatformConfig): string[] {
  const values: string[] = [];
  if (typeof platform.auth === "string") values.push(platform.auth);
  else if (platform.auth)
    values.push(
      ...Object.entries(platform.auth)
        .filter(([key]) => key !== "app_id")
        .map(([, value]) => value),
    );
  for (const value of [platform.secret, platform.encrypt_key, platform.verification_token]) if (value) values.push(value);
  return values;
}

/** The bot token of a platform whose `auth` is one string; a clear error when it is missing or still the seed's placeholder. */
export function requireToken(platform: PlatformConfig): string {
  if (platform.error) throw new LocalAgentError("config_invalid", platform.error);
  const token = platform.auth;
  if (typeof token !== "string" || token === "")
    throw new LocalAgentError("config_invalid", `${platform.where}.auth: platform "${platform.name}" needs a token in auth:`);
  if (token === "BOT_TOKEN")
    throw new LocalAgentError(
      "config_invalid",
      `${platform.where}.auth: "BOT_TOKEN" is the example placeholder: put the bot's token there (or env:NAME / file:/path)`,
    );
  return token;
}
