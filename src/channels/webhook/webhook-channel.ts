import { randomUUID } from "node:crypto";
import { z } from "zod";
import { LocalAgentError } from "../../errors/index.js";
import type { PlatformConfig } from "../platform-config.js";
import type { ChannelServices } from "../registry.js";
import { splitMessage } from "../split.js";
import type { Channel, ChannelCapabilities, ChannelContext, OutboundMessage, SentMessage } from "../types.js";
import { signatureHeaders, verifySignature } from "./signature.js";

const DEFAULT_MAX_LENGTH = 16_000;

const id = z.union([z.string().min(1).max(200), z.number()]).transform(String);

/** The inbound body of `POST /api/channels/webhook/:name`. */
export const webhookEventSchema = z
  .object({
    type: z.enum(["message", "action"]).default("message"),
    chat_id: id,
    user_id: id,
    user_name: z.string().max(200).optional(),
    message_id: id,
    text: z
      .string()
      .max(64 * 1024)
      .default(""),
    action: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((event) => event.type !== "action" || event.action !== undefined, { message: "an action event needs action", path: ["action"] })
  .refine((event) => event.type !== "message" || event.text.trim() !== "", { message: "a message event needs text", path: ["text"] });

/**
 * The generic webhook channel. Inbound: `POST /api/channels/webhook/NAME` with a JSON body signed
 * with HMAC-SHA256 (`X-LocalAgent-Signature: sha256=<hex>` over "TIMESTAMP.BODY",
 * `X-LocalAgent-Timestamp`: unix seconds within 5 minutes). Outbound: a JSON POST to `webhook:`,
 * signed the same way.
 */
export class WebhookChannel implements Channel {
  readonly kind = "webhook";
  readonly capabilities: ChannelCapabilities;
  private context: ChannelContext | undefined;

  constructor(
    readonly name: string,
    private readonly options: { secret: string; url?: string | undefined; maxMessageLength?: number | undefined },
    private readonly services: Pick<ChannelServices, "clock">,
  ) {
    this.capabilities = {
      maxMessageLength: options.maxMessageLength ?? DEFAULT_MAX_LENGTH,
      formats: ["plain"],
      buttons: true,
      edit: false,
    };
  }

  start(context: ChannelContext): Promise<void> {
    this.context = context;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.context = undefined;
    return Promise.resolve();
  }

  async handleEvent(event: unknown, headers: Record<string, string | undefined>, rawBody?: string): Promise<void> {
    const refuse = (reason: string, status = 400): never => {
      throw new LocalAgentError("bad_request", reason, { details: { httpStatus: status } });
    };
    if (!this.context) return refuse("channel is not running", 503);
    const body = rawBody ?? (typeof event === "string" ? event : JSON.stringify(event));
    const problem = verifySignature(this.options.secret, lowerCase(headers), body, this.services.clock.now());
    if (problem) return refuse(problem, 401);
    if (typeof event !== "object" || event === null || Array.isArray(event)) return refuse("the body must be a JSON object");
    const parsed = webhookEventSchema.safeParse(event);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      return refuse(`${first?.path.join(".") || "body"}: ${first?.message ?? "invalid"}`);
    }
    const data = parsed.data;
    await this.context.receive({
      channel: this.name,
      chatId: data.chat_id,
      userId: data.user_id,
      ...(data.user_name ? { userName: data.user_name } : {}),
      messageId: data.message_id,
      text: data.text,
      ...(data.action ? { action: data.action } : {}),
      receivedAt: this.services.clock.now(),
    });
  }

  async sendMessage(message: OutboundMessage, signal?: AbortSignal): Promise<SentMessage> {
    const url = this.options.url;
    if (!url) throw new LocalAgentError("delivery_failed", `webhook channel "${this.name}" has no webhook: URL to send to`);
    const pieces = splitMessage(message.text, this.capabilities.maxMessageLength);
    const messageIds: string[] = [];
    for (const [index, text] of pieces.entries()) {
      const messageId = randomUUID();
      const body = JSON.stringify({
        channel: this.name,
        chat_id: message.chatId,
        message_id: messageId,
        text,
        ...(message.replyTo ? { reply_to: message.replyTo } : {}),
        ...(index === pieces.length - 1 && message.buttons ? { buttons: message.buttons } : {}),
        ...(pieces.length > 1 ? { part: index + 1, parts: pieces.length } : {}),
      });
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "localagent",
            ...signatureHeaders(this.options.secret, body, this.services.clock.now()),
          },
          body,
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        throw new LocalAgentError("delivery_failed", `${new URL(url).origin} unreachable: ${cause}`, { retryable: true });
      }
      await response.body?.cancel();
      if (!response.ok) {
        const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
        throw new LocalAgentError("delivery_failed", `${new URL(url).origin} answered ${response.status}`, { retryable });
      }
      messageIds.push(messageId);
    }
    return { messageIds };
  }
}

function lowerCase(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(headers)) result[key.toLowerCase()] = value;
  return result;
}

export function createWebhookChannel(platform: PlatformConfig, services: ChannelServices): WebhookChannel {
  if (platform.error) throw new LocalAgentError("config_invalid", platform.error);
  const secret = platform.secret ?? (typeof platform.auth === "string" ? platform.auth : undefined);
  if (!secret || secret.length < 16)
    throw new LocalAgentError(
      "config_invalid",
      `${platform.where}.secret: a webhook channel needs secret: (at least 16 characters) to check HMAC signatures`,
    );
  if (platform.webhook !== undefined) {
    try {
      new URL(platform.webhook);
    } catch {
      throw new LocalAgentError("config_invalid", `${platform.where}.webhook: not a URL`);
    }
  }
  return new WebhookChannel(platform.name, { secret, url: platform.webhook, maxMessageLength: platform.max_message_length }, services);
}
