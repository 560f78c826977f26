import { LocalAgentError } from "../../errors/index.js";

/** The open-platform base URLs behind `domain: feishu | lark`. */
export const FEISHU_DOMAINS = {
  feishu: "https://open.feishu.cn",
  lark: "https://open.larksuite.com",
} as const;

/**
 * The fields of one `platforms[]` entry the adapter reads, secrets already resolved by the platform
 * loader (src/channels/platform-config.ts). Structural, so the adapter does not depend on the loader.
 */
export interface FeishuPlatform {
  name: string;
  kind?: string;
  /** Where it was configured (`platforms.json: platforms[1]`), for error messages. */
  where?: string;
  /** Why the loader could not resolve its secrets; the adapter then refuses to start with it. */
  error?: string;
  auth?: string | Record<string, string>;
  domain?: string;
  proxy?: string;
  encrypt_key?: string;
  verification_token?: string;
  max_message_length?: number;
  /** Adapter-specific options: `mode: websocket | webhook`. */
  options?: Record<string, unknown>;
}

/** Resolved options the adapter runs on: domain turned into a base URL, proxy checked. */
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
  /** websocket: the long connection (default, needs no public URL); webhook: only the HTTP callback route. */
  mode: "websocket" | "webhook";
  /** Longest text per message (default 7000 characters: a card's 30 KB even in 4-byte characters). */
  maxMessageLength?: number;
  /** Refresh the tenant token this long before it expires (ms). Default 5 minutes. */
  tokenRefreshMarginMs?: number;
  /** Per-request timeout (ms). Default 15 s. */
  requestTimeoutMs?: number;
}

/** Checks one platform entry for Feishu/Lark and resolves it; errors name the entry and field. */
export function feishuOptionsFromPlatform(platform: FeishuPlatform): FeishuChannelOptions {
  const where = platform.where ?? `platforms: ${platform.name}`;
  if (platform.error) throw new LocalAgentError("config_invalid", platform.error);
  const auth = platform.auth;
  if (typeof auth !== "object" || !auth.app_id || !auth.app_secret) {
    throw new LocalAgentError(
      "config_invalid",
      `${where}.auth: Feishu/Lark needs {"app_id": "cli_…", "app_secret": "…"} (values may be env:NAME or file:/path)`,
    );
  }
  const mode = platform.options?.mode ?? "websocket";
  if (mode !== "websocket" && mode !== "webhook")
    throw new LocalAgentError("config_invalid", `${where}.options.mode: expected websocket or webhook, got ${JSON.stringify(mode)}`);
  return {
    name: platform.name,
    kind: platform.kind,
    appId: auth.app_id,
    appSecret: auth.app_secret,
    baseUrl: resolveDomain(platform.domain, `${where}.domain`),
    proxy: platform.proxy === undefined ? undefined : checkProxy(platform.proxy, `${where}.proxy`),
    encryptKey: platform.encrypt_key,
    verificationToken: platform.verification_token,
    mode,
    maxMessageLength: platform.max_message_length,
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
