import { z } from "zod";
import { isByteSize, isDuration } from "../duration/index.js";
import { mcpConfigSchema } from "../agent/index.js";
import { auditConfigSchema } from "../audit/index.js";
import { platformsConfigSchema } from "../channels/platform-schema.js";
import { checkConversationModel, conversationsConfigSchema } from "../channels/conversation-config.js";
// The config file only (not ../models/embedded/index.js), like the models schema below.
import { allocatorConfigSchema } from "../models/embedded/config.js";
import { policyConfigSchema } from "../policy/index.js";
import { sandboxConfigSchema } from "../sandbox/index.js";
import { durationSchema } from "../workflow/index.js";
// The schema file only (not ../models/index.js): the model service imports the config loader.
import { cacheSchema, checkModelReferences, modelsSchema, routingSchema } from "../models/config-schema.js";

// Checked here, not when the values are used, so a bad one is reported with its file:line:column.
const configDurationSchema = durationSchema.refine(isDuration, { message: "not a duration (examples: 500ms, 30s, 5m, 1h30m)" });
const byteSizeSchema = z.union([z.string(), z.number()]).refine(isByteSize, { message: "not a size (examples: 512m, 6g, 65536)" });

const notificationTargetSchema = z
  .object({
    type: z.enum(["log", "webhook"]).describe("log writes to the daemon log; webhook POSTs JSON"),
    url: z.url().optional(),
    headers: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .refine((target) => target.type !== "webhook" || target.url !== undefined, { message: "a webhook target needs url:", path: ["url"] });

/** config.yaml as written. Sections owned by later layers are accepted as-is and validated there. */
export const configFileSchema = z
  .object({
    server: z
      .object({
        host: z.string().optional(),
        port: z.number().int().min(0).max(65535).optional(),
        token: z
          .string()
          .optional()
          .describe(
            "Bearer token for the API; required when host is not loopback. env:NAME reads it from the environment, file:/path from a file",
          ),
      })
      .strict()
      .optional(),
    data_dir: z.string().optional(),
    cache_dir: z.string().optional(),
    durability: z.enum(["process", "power"]).optional(),
    log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).optional(),
    shutdown_grace: configDurationSchema.optional(),
    max_output: byteSizeSchema.optional(),
    max_concurrent_runs: z.number().int().positive().optional(),
    network: z.object({ probe_interval: configDurationSchema.optional() }).strict().optional(),
    outbox: z.object({ backoff: configDurationSchema.optional(), max_backoff: configDurationSchema.optional() }).strict().optional(),
    notifications: z.record(z.string(), notificationTargetSchema).optional(),
    workflows: z.array(z.string()).optional().describe("Extra workflow files or folders, besides workflows/"),
    memory_limit: byteSizeSchema.optional(),
    model_path: z.string().optional(),
    allocator: allocatorConfigSchema
      .optional()
      .describe("How embedded models share memory_limit: task-type weights (docs/models.md#memory-budget)"),
    platform_config: z.string().optional(),
    models: modelsSchema.optional(),
    routing: routingSchema.optional(),
    cache: cacheSchema.optional(),
    platforms: platformsConfigSchema
      .optional()
      .describe("Chat platforms: the list platforms.json holds under platforms (docs/channels.md)"),
    policy: policyConfigSchema
      .optional()
      .describe("Command policy for shell steps: default decision and your deny/ask/allow rules (docs/security.md)"),
    conversations: conversationsConfigSchema
      .optional()
      .describe("How chat messages are answered: model (task type), tools (none by default), max_turns, max_tokens (docs/channels.md)"),
    mcp: mcpConfigSchema.optional().describe("MCP servers whose tools an ai step may use (tools: [mcp:NAME]); docs/agent.md"),
    sandbox: sandboxConfigSchema
      .optional()
      .describe("Isolation of shell steps: default mode, bwrap path, default limits, extra visible paths (docs/security.md)"),
    audit: auditConfigSchema.optional().describe("The hash-chained audit log (DATA_DIR/audit.log) and its alert rules"),
    approvals: z
      .object({
        timeout: configDurationSchema
          .optional()
          .describe("How long an approval waits for an answer before it counts as a deny (default 1h)"),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine(checkModelReferences)
  .superRefine(checkConversationModel);

export type ConfigFile = z.infer<typeof configFileSchema>;
