import { z } from "zod";
import { durationSchema } from "../workflow/index.js";

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
          .describe("Bearer token for the API; required when host is not loopback. env:NAME reads it from the environment"),
      })
      .strict()
      .optional(),
    data_dir: z.string().optional(),
    cache_dir: z.string().optional(),
    durability: z.enum(["process", "power"]).optional(),
    log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).optional(),
    shutdown_grace: durationSchema.optional(),
    max_output: z.union([z.string(), z.number()]).optional(),
    max_concurrent_runs: z.number().int().positive().optional(),
    network: z.object({ probe_interval: durationSchema.optional() }).strict().optional(),
    outbox: z.object({ backoff: durationSchema.optional(), max_backoff: durationSchema.optional() }).strict().optional(),
    notifications: z.record(z.string(), notificationTargetSchema).optional(),
    workflows: z.array(z.string()).optional().describe("Extra workflow files or folders, besides workflows/"),
    memory_limit: z.union([z.string(), z.number()]).optional(),
    model_path: z.string().optional(),
    platform_config: z.string().optional(),
    models: z.unknown().optional(),
    routing: z.unknown().optional(),
    cache: z.unknown().optional(),
    platforms: z.unknown().optional(),
    policy: z.unknown().optional(),
    sandbox: z.unknown().optional(),
    mcp: z.unknown().optional(),
    audit: z.unknown().optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;
