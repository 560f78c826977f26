import { z } from "zod";
import { LocalAgentError } from "../../errors/index.js";

/** The open-platform base URLs behind `domain: feishu | lark`. */
export const FEISHU_DOMAINS = {
  feishu: "https://open.feishu.cn",
  lark: "https://open.larksuite.com",
} as const;

/** The Feishu-specific fields of one `platforms[]` entry, as written by the user (secrets not yet resolved). */
export const feishuPlatformSchema = z
  .object({
    name: z.string().min(1),
    type: z.string().optional(),
    auth: z.object(
      { app_id: z.string().min(1), app_secret: z.string().min(1) },
      {
        message: "expected {app_id, app_secret} (values may be env:NAME or file:/path)",
      },
    ),
    domain: z.string().optional(),
    proxy: z.string().optional(),
    encrypt_key: z.string().optional(),
    verification_token: z.string().optional(),
    /** websocket: the long connection (default, needs no public URL); webhook: only the HTTP callback route. */
    mode: z.enum(["websocket", "webhook"]).optional(),
    chat_id: z.string().optional(),
    allow_users: z.array(z.union([z.string(), z.number()])).optional(),
  })
  .passthrough();

export type FeishuPlatformEntry = z.infer<typeof feishuPlatformSchema>;

/** Resolved options the adapter runs on: secrets read, domain turned into a base URL, proxy checked. */
export interface FeishuChannelOptions {
  name: string;
  kind?: string;
  appId: string;
  appSecret: string;
  /** Base URL of the open platform, without a trailing slash. */
  baseUrl: string;
  /** `socks5://[user:pass@]host:port`: every request and the WebSocket go through it. */
  proxy?: string;
  encryptKey?: string;
  verificationToken?: string;
  mode: "websocket" | "webhook";
  /** Refresh the tenant token this long before it expires (ms). Default 5 minutes. */
  tokenRefreshMarginMs?: number;
  /** Per-request timeout (ms). Default 15 s. */
  requestTimeoutMs?: number;
}

/** Resolves `env:NAME` / `file:/path` values; throws naming the field when unset. */
export type SecretResolver = (value: string, where: string) => string;

/**
 * Validates one `platforms[]` entry for Feishu/Lark and resolves it. `where` names the entry in
 * error messages (`platforms[1]`). Secrets are resolved here, so call it when the adapter starts.
 */
export function resolveFeishuOptions(entry: unknown, resolveSecret: SecretResolver, where = "platforms[]"): FeishuChannelOptions {
  const parsed = feishuPlatformSchema.safeParse(entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? `.${issue.path.join(".")}` : "";
    throw new LocalAgentError("config_invalid", `${where}${path}: ${issue?.message ?? "invalid Feishu platform entry"}`);
  }
  const platform = parsed.data;
  const optionalSecret = (value: string | undefined, field: string): string | undefined =>
    value === undefined ? undefined : resolveSecret(value, `${where}.${field}`);
  return {
    name: platform.name,
    kind: platform.type ?? platform.name,
    appId: resolveSecret(platform.auth.app_id, `${where}.auth.app_id`),
    appSecret: resolveSecret(platform.auth.app_secret, `${where}.auth.app_secret`),
    baseUrl: resolveDomain(platform.domain, `${where}.domain`),
    proxy: platform.proxy === undefined ? undefined : checkProxy(resolveSecret(platform.proxy, `${where}.proxy`), `${where}.proxy`),
    encryptKey: optionalSecret(platform.encrypt_key, "encrypt_key"),
    verificationToken: optionalSecret(platform.verification_token, "verification_token"),
    mode: platform.mode ?? "websocket",
  };
}

/** `feishu` | `lark` | an http(s) base URL → the base URL. */
export function resolveDomain(domain: string | undefined, where: string): string {
  if (domain === undefined || domain === "feishu") return FEISHU_DOMAINS.feishu;
  if (domain === "lark") return FEISHU_DOMAINS.lark;
  let url: URL;
  try {
    url = new URL(domain);
  } catch {
    throw new LocalAgentError("config_invalid", `${where}: expected feishu, lark or an http(s) base URL, got "${domain}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new LocalAgentError("config_invalid", `${where}: expected an http(s) URL, got ${url.protocol}`);
  return url.href.replace(/\/+$/, "");
}

function checkProxy(proxy: string, where: string): string {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    throw new LocalAgentError("config_invalid", `${where}: expected socks5://host:port`);
  }
  if (!["socks5:", "socks5h:", "socks:", "socks4:", "socks4a:"].includes(url.protocol) || !url.hostname || !url.port)
    throw new LocalAgentError("config_invalid", `${where}: expected socks5://host:port, got ${redactProxy(proxy)}`);
  return proxy;
}

/** The proxy URL without its credentials, for logs and messages. */
export function redactProxy(proxy: string): string {
  try {
    const url = new URL(proxy);
    if (url.username || url.password) {
      url.username = "***";
      url.password = "";
    }
    return url.href.replace(/\/$/, "");
  } catch {
    return "(invalid proxy URL)";
  }
}
