import { LocalAgentError } from "../../errors/index.js";
import type { JsonRequest, JsonResponse } from "./http-client.js";

export interface TenantTokenOptions {
  baseUrl: string;
  appId: string;
  appSecret: string;
  request: (request: JsonRequest) => Promise<JsonResponse>;
  /** Refresh this long before expiry (ms). */
  refreshMarginMs: number;
  now?: () => number;
  timeoutMs?: number;
}

/** Feishu codes meaning "this access token is not (or no longer) valid": refresh and try once more. */
export const TOKEN_INVALID_CODES: ReadonlySet<number> = new Set([99991661, 99991663, 99991664, 99991665, 99991677]);

/**
 * The tenant access token (`POST /open-apis/auth/v3/tenant_access_token/internal`), cached until
 * `refreshMarginMs` before its `expire`, fetched once for concurrent callers, dropped on demand
 * when the platform calls it invalid.
 */
export class TenantTokenCache {
  private token: string | undefined;
  private expiresAt = 0;
  private pending: Promise<string> | undefined;
  /** How many tokens were fetched (tests and diagnostics). */
  fetches = 0;

  constructor(private readonly options: TenantTokenOptions) {}

  async get(signal?: AbortSignal): Promise<string> {
    const now = (this.options.now ?? Date.now)();
    if (this.token && now < this.expiresAt - this.options.refreshMarginMs) return this.token;
    this.pending ??= this.fetch(signal).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets `token` (if it is still the cached one), so the next get() fetches a new one. */
  invalidate(token: string): void {
    if (this.token === token) {
      this.token = undefined;
      this.expiresAt = 0;
    }
  }

  private async fetch(signal: AbortSignal | undefined): Promise<string> {
    this.fetches += 1;
    const response = await this.options.request({
      method: "POST",
      url: `${this.options.baseUrl}/open-apis/auth/v3/tenant_access_token/internal`,
      body: { app_id: this.options.appId, app_secret: this.options.appSecret },
      signal,
      timeoutMs: this.options.timeoutMs,
    });
    const body = (response.body ?? {}) as { code?: number; msg?: string; tenant_access_token?: string; expire?: number };
    if (response.status >= 500 || response.status === 429 || body.code === 99991400) {
      throw new LocalAgentError("delivery_failed", `Feishu token endpoint answered ${response.status}${describeCode(body)}`, {
        retryable: true,
      });
    }
    if (body.code !== 0 || typeof body.tenant_access_token !== "string" || body.tenant_access_token === "") {
      throw new LocalAgentError(
        "delivery_failed",
        `Feishu refused the app credentials (app_id ${this.options.appId})${describeCode(body)}: check auth.app_id and auth.app_secret`,
        { retryable: false, details: { feishu_code: body.code } },
      );
    }
    const expireSeconds = typeof body.expire === "number" && body.expire > 0 ? body.expire : 7200;
    this.token = body.tenant_access_token;
    this.expiresAt = (this.options.now ?? Date.now)() + expireSeconds * 1000;
    return this.token;
  }
}

function describeCode(body: { code?: number; msg?: string }): string {
  if (body.code === undefined) return "";
  return `: code ${body.code}${body.msg ? ` (${String(body.msg).slice(0, 200)})` : ""}`;
}
