import { z } from "zod";

/** The tools a chat conversation may be given: those that work outside a workflow step. */
export const CONVERSATION_TOOL_NAMES = ["shell", "read_file", "write_file"] as const;
export type ConversationToolName = (typeof CONVERSATION_TOOL_NAMES)[number];

/** config.yaml `conversations:`: how chat messages are answered (docs/channels.md#conversations). */
export const conversationsConfigSchema = z
  .object({
    model: z
      .string()
      .min(1)
      .optional()
      .describe("Task type under routing: or a model name under models: that answers chats (default general)"),
    tools: z
      .union([z.literal("none"), z.array(z.enum(CONVERSATION_TOOL_NAMES))])
      .optional()
      .describe(
        "Tools the agent loop may call for a chat: none (default) or a list of shell, read_file, write_file. Every shell call passes the command policy and the sandbox",
      ),
    max_turns: z.number().int().min(1).max(50).optional().describe("Model calls per chat message at most (default 6)"),
    max_tokens: z.number().int().positive().optional().describe("Token budget per chat message (default: no limit)"),
    system_prompt: z.string().min(1).optional().describe("Replaces the default system prompt of chat conversations"),
  })
  .strict();

export type ConversationsConfig = z.infer<typeof conversationsConfigSchema>;

/** The tool names a `conversations:` section enables (none when absent or `none`). */
export function conversationTools(config: ConversationsConfig | undefined): ConversationToolName[] {
  const tools = config?.tools;
  return tools === undefined || tools === "none" ? [] : [...new Set(tools)];
}

/**
 * `conversations.model` names a task type under routing: or a model under models: (the config's
 * superRefine). As the router resolves it: without routing: every model serves any task type, and
 * with routing: an unrouted task type goes to the `--model-path`/`model_path:` model "default".
 */
export function checkConversationModel(
  config: {
    conversations?: ConversationsConfig | undefined;
    models?: Record<string, unknown> | undefined;
    routing?: Record<string, unknown> | undefined;
    model_path?: string | undefined;
  },
  context: z.RefinementCtx,
): void {
  const target = config.conversations?.model;
  if (target === undefined) return;
  const models = Object.keys(config.models ?? {});
  const routes = Object.keys(config.routing ?? {});
  if (routes.includes(target) || models.includes(target)) return;
  if (routes.length === 0 || config.model_path !== undefined || models.includes("default")) return;
  context.addIssue({
    code: "custom",
    path: ["conversations", "model"],
    message: `no task type under routing: or model under models: named "${target}" (task types: ${routes.join(", ")}${models.length > 0 ? `; models: ${models.join(", ")}` : ""})`,
  });
}
