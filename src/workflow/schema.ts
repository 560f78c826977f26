import { z } from "zod";

/** Durations are `30s`-style strings or numbers of seconds. */
export const durationSchema = z.union([z.string(), z.number().nonnegative()]);

export const retrySchema = z.union([
  z.number().int().nonnegative(),
  z
    .object({
      count: z.number().int().nonnegative().describe("Extra attempts after the first"),
      backoff: durationSchema.optional().describe("Delay before the first retry (default 1s)"),
      factor: z.number().min(1).optional().describe("Multiplier applied to the delay after each retry (default 2)"),
      max_backoff: durationSchema.optional().describe("Upper bound of the delay (default 5m)"),
    })
    .strict(),
]);

/**
 * A step's network access: `true` (any host), `false` (none), or the hosts it may reach through the
 * egress proxy (`api.example.com`, `*.example.com`, `host:443`, `10.0.0.5`, `[::1]:8080`).
 */
export const networkSchema = z
  .union([
    z.boolean(),
    z
      .array(
        z
          .string()
          .regex(
            /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$|^[0-9A-Fa-f]*:[0-9A-Fa-f:.]+$/,
            "expected a host: name, *.name, an IP address, optionally with :port (IPv6 with a port in brackets: [::1]:8080)",
          ),
      )
      .min(1),
  ])
  .describe(
    "Network access: true (any host), false (none), or a list of allowed hosts ([*.]name[:port] or IP) reached through the egress proxy",
  );

/** Fields every step accepts, whatever its type. */
export const baseStepShape = {
  name: z.string().min(1).optional().describe("Unique within the workflow; referenced as steps.<name>.output"),
  type: z.string().describe("Step type: shell, set, http, notification, foreach, ai, …"),
  description: z.string().optional(),
  condition: z.union([z.string(), z.boolean()]).optional().describe('Run only when true, e.g. "{{ output.length > 0 }}"'),
  timeout: durationSchema.optional(),
  retry: retrySchema.optional(),
  on_failure: z.string().optional().describe("stop (default), continue, or the name of a step to run"),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  needs: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe("Steps that must finish first (default: the previous step)"),
  cache_key: z.string().optional().describe("Keep this step's result across runs under this key"),
  cache_mode: z.enum(["delta", "value"]).optional().describe("delta (default): output only what is new since the last run"),
  network: networkSchema.optional(),
};

export const inputSchema = z
  .object({
    type: z.enum(["string", "number", "boolean", "object", "array", "any"]).optional(),
    required: z.boolean().optional(),
    default: z.unknown().optional(),
    description: z.string().optional(),
  })
  .strict();

/** The object form of an `on:` entry: one of `event`, `file`, `chat`, with an optional payload schema. */
export const eventTriggerObjectSchema = z
  .object({
    event: z
      .string()
      .optional()
      .describe("Event name: deploy (POST /api/events/deploy), network.online, workflow.finished:NAME, daemon.start, file:GLOB, chat:/CMD"),
    file: z.string().optional().describe("Glob of files to watch (*, **, ?, [..]); relative to the workflow file's folder"),
    chat: z.string().optional().describe("Chat command, e.g. /deploy"),
    events: z
      .array(z.enum(["add", "change", "unlink"]))
      .min(1)
      .optional()
      .describe("file only: which changes start a run (default all)"),
    debounce: durationSchema.optional().describe("file only: quiet time before a burst of changes fires once (default 200ms)"),
    schema: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("JSON Schema (draft 2020-12) the payload must satisfy; an invalid payload starts no run"),
  })
  .strict();

const eventTriggerSchema = z.union([z.string(), eventTriggerObjectSchema]);

/** Workflow-level fields; the step list may be called `steps`, `tasks` (seed 000) or `actions` (seed 001). */
export const workflowShape = {
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_.-]+$/, "use letters, digits, _ . -"),
  description: z.string().optional(),
  enabled: z.boolean().optional(),
  schedule: z.string().optional().describe('Cron expression, e.g. "0 3 * * *"'),
  trigger: z.string().optional().describe('"cron * * * * *", "every 30s", "event:NAME" or "manual"'),
  every: durationSchema.optional(),
  on: z
    .union([eventTriggerSchema, z.array(eventTriggerSchema)])
    .optional()
    .describe(
      "event:NAME, network.online, network.offline, workflow.finished:NAME, daemon.start, file:GLOB, chat:/CMD, or {event|file|chat, schema}",
    ),
  timezone: z.string().optional(),
  misfire: z.enum(["skip", "once", "all"]).optional(),
  concurrency: z.number().int().positive().optional(),
  overlap: z
    .enum(["queue", "skip", "replace"])
    .optional()
    .describe("While concurrency runs are going: queue (default) waits, skip drops the fire, replace cancels the running run"),
  priority: z.number().int().optional(),
  timeout: durationSchema.optional(),
  inputs: z.record(z.string(), inputSchema).optional(),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  steps: z.array(z.unknown()).optional(),
  tasks: z.array(z.unknown()).optional(),
  actions: z.array(z.unknown()).optional(),
};

export const workflowObjectSchema = z.object(workflowShape).strict();
