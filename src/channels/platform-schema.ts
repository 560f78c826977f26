import { z } from "zod";

/** Names that pick an adapter by themselves (`name: telegram`); any other name needs `type:`. */
export const KIND_ALIASES: Record<string, string> = {
  telegram: "telegram",
  enterprise_im: "feishu",
  feishu: "feishu",
  lark: "feishu",
  webhook: "webhook",
  webchat: "webchat",
};

const secretSchema = z.string().min(1).describe("A literal, env:NAME (from the environment) or file:/path (from a file)");

/** One entry of platforms.json (`{"platforms": [...]}`) or of `platforms:` in config.yaml. */
export const platformEntrySchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9_.-]+$/, { message: "use letters, digits, _ . - only" })
      .describe("The channel's name (used by notification steps' platform:); picks the adapter when it is a known kind"),
    type: z
      .string()
      .min(1)
      .optional()
      .describe("telegram, enterprise_im (feishu, lark), webhook or webchat; default: the name when it is one of those"),
    auth: z
      .union([secretSchema, z.record(z.string(), secretSchema)])
      .optional()
      .describe("Bot token, or {app_id, app_secret} (Feishu); each value may be env:NAME or file:/path"),
    webhook: z.string().optional().describe("Telegram: the public webhook URL (else long polling); webhook: the URL replies are POSTed to"),
    message_parser: z.enum(["markdown_v2", "markdown", "html", "plain"]).optional().describe("How outgoing text is formatted"),
    proxy: z.string().optional().describe("socks5://host:port (or http://) for all the adapter's traffic"),
    api_root: z.string().optional().describe("Telegram Bot API server (self-hosted), default https://api.telegram.org"),
    allow_users: z
      .array(z.union([z.string(), z.number()]))
      .optional()
      .describe("Platform user ids that may command the agent without pairing"),
    chat_id: z.union([z.string(), z.number()]).optional().describe("Default chat for notification steps and approval announcements"),
    polling: z.record(z.string(), z.unknown()).optional().describe("Long-polling options of the adapter (timeout, limit, …)"),
    domain: z.string().optional().describe("Feishu/Lark: feishu, lark, or a base URL"),
    secret: secretSchema.optional().describe("webhook: HMAC-SHA256 key; telegram: the webhook secret token"),
    encrypt_key: secretSchema.optional().describe("Feishu event encryption key"),
    verification_token: secretSchema.optional().describe("Feishu event verification token"),
    max_message_length: z.number().int().positive().optional().describe("Override the adapter's message length limit"),
    options: z.record(z.string(), z.unknown()).optional().describe("Adapter-specific options"),
  })
  .strict()
  .describe("One chat platform (see docs/channels.md)");

export type PlatformEntry = z.infer<typeof platformEntrySchema>;

/** `platforms:` in config.yaml: the list that platforms.json holds under `platforms`. */
export const platformsConfigSchema = z.array(platformEntrySchema);

/** platforms.json as written: `{"platforms": [...]}`. */
export const platformsFileSchema = z.object({ platforms: z.array(platformEntrySchema) }).strict();
