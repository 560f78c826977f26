import { createHash } from "node:crypto";
import { LocalAgentError } from "../../errors/index.js";
import type { OutboundButton } from "../types.js";
import type { JsonRequest, JsonResponse } from "./http-client.js";
import { TOKEN_INVALID_CODES, type TenantTokenCache } from "./tenant-token.js";

/** Feishu codes that mean "slow down": retried by the outbox. */
const RATE_LIMIT_CODES: ReadonlySet<number> = new Set([99991400, 230020, 11232, 11233]);

/** What one `im/v1/messages` call sends. */
export interface FeishuMessageBody {
  msgType: "text" | "interactive";
  /** The `content` object (serialised to a JSON string on the wire, as the API wants). */
  content: Record<string, unknown>;
  /** Platform deduplication key (the same uuid within an hour sends once). */
  uuid?: string;
}

export interface FeishuApiOptions {
  baseUrl: string;
  tokens: TenantTokenCache;
  request: (request: JsonRequest) => Promise<JsonResponse>;
  timeoutMs?: number;
}

/** The slice of the Feishu open API the adapter uses: send and reply. */
export class FeishuApi {
  constructor(private readonly options: FeishuApiOptions) {}

  /** Sends to a chat (`receive_id_type=chat_id`), or replies to `replyTo`. Returns the new message id. */
  async send(chatId: string, message: FeishuMessageBody, replyTo?: string, signal?: AbortSignal): Promise<string> {
    const path = replyTo
      ? `/open-apis/im/v1/messages/${encodeURIComponent(replyTo)}/reply`
      : "/open-apis/im/v1/messages?receive_id_type=chat_id";
    const body = {
      ...(replyTo ? {} : { receive_id: chatId }),
      msg_type: message.msgType,
      content: JSON.stringify(message.content),
      ...(message.uuid ? { uuid: message.uuid } : {}),
    };
    const data = await this.call(path, body, signal);
    const messageId = (data as { message_id?: unknown } | undefined)?.message_id;
    return typeof messageId === "string" ? messageId : "";
  }

  /** One authorised POST; a token the platform calls invalid is dropped and the call made once more. */
  private async call(path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    for (let attempt = 1; ; attempt += 1) {
      const token = await this.options.tokens.get(signal);
      const response = await this.options.request({
        method: "POST",
        url: `${this.options.baseUrl}${path}`,
        headers: { authorization: `Bearer ${token}` },
        body,
        signal,
        timeoutMs: this.options.timeoutMs,
      });
      const answer = (response.body ?? {}) as { code?: number; msg?: string; data?: unknown };
      if (response.status < 300 && answer.code === 0) return answer.data;
      if (answer.code !== undefined && TOKEN_INVALID_CODES.has(answer.code) && attempt === 1) {
        this.options.tokens.invalidate(token);
        continue;
      }
      throw feishuError(path, response.status, answer);
    }
  }
}

/** Maps a Feishu answer to an outbox error: rate limits and 5xx retry, everything else is permanent with the reason. */
export function feishuError(path: string, status: number, answer: { code?: number; msg?: string }): LocalAgentError {
  const where = `Feishu ${path.split("?")[0]}`;
  const reason = `${status}${answer.code === undefined ? "" : `, code ${answer.code}`}${answer.msg ? ` (${String(answer.msg).slice(0, 200)})` : ""}`;
  const rateLimited = status === 429 || (answer.code !== undefined && RATE_LIMIT_CODES.has(answer.code));
  const retryable = rateLimited || status >= 500 || status === 408;
  const hint =
    status === 403 || answer.code === 99991672 || answer.code === 230002 || answer.code === 230006
      ? ": the app lacks a permission or is not in the chat (check the app's scopes and that the bot was added)"
      : rateLimited
        ? ": rate limited, will retry"
        : "";
  return new LocalAgentError("delivery_failed", `${where} answered ${reason}${hint}`, {
    retryable,
    details: { feishu_code: answer.code, status },
  });
}

/** An interactive card: the text as markdown, then one action row per button row. */
export function buildCard(text: string, buttons: OutboundButton[][] | undefined): Record<string, unknown> {
  const elements: unknown[] = [{ tag: "markdown", content: text }];
  for (const row of buttons ?? []) {
    if (row.length === 0) continue;
    elements.push({
      tag: "action",
      actions: row.map((button) => ({
        tag: "button",
        text: { tag: "plain_text", content: button.text },
        type: button.action.startsWith("approve:") ? "primary" : button.action.startsWith("deny:") ? "danger" : "default",
        value: { action: button.action },
      })),
    });
  }
  return { config: { wide_screen_mode: true }, elements };
}

/** A Feishu `uuid` (≤ 50 characters) derived from a caller's idempotency key and the piece index. */
export function messageUuid(idempotencyKey: string, piece: number): string {
  return createHash("sha256").update(`${idempotencyKey}:${piece}`).digest("hex").slice(0, 40);
}
