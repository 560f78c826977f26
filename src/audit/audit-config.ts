import { z } from "zod";
import { LocalAgentError } from "../errors/index.js";

const matchValueSchema = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))]);

/** The `audit:` section of config.yaml. */
export const auditConfigSchema = z
  .object({
    enabled: z.boolean().optional().describe("Write DATA_DIR/audit.log (default true)"),
    durability: z.enum(["process", "power"]).optional().describe("power: fsync after every entry (default: the top-level durability)"),
    alerts: z
      .array(
        z
          .object({
            match: z
              .record(z.string(), matchValueSchema)
              .describe(
                "type: the entry type; any other key is looked up in the entry's details, then its actor; a list matches any of its values",
              ),
            notify: z.string().min(1).describe("A platform from notifications: (or log)"),
            message: z.string().optional().describe("Template with {{ type }}, {{ seq }}, {{ details.x }}, {{ actor.workflow }}, …"),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

export type AuditConfigFile = z.infer<typeof auditConfigSchema>;

/** One alert rule, resolved. */
export interface AuditAlertRule {
  match: Record<string, unknown>;
  notify: string;
  message: string | undefined;
}

export interface ResolvedAuditConfig {
  enabled: boolean;
  durability: "process" | "power" | undefined;
  alerts: AuditAlertRule[];
}

/** Validates `audit:` (passed through config `extensions`); errors name the field. */
export function resolveAuditConfig(section: unknown, where = "config.yaml"): ResolvedAuditConfig {
  const parsed = auditConfigSchema.safeParse(section ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${where}: audit.${issue.path.join(".")}: ${issue.message}`);
    throw new LocalAgentError("config_invalid", problems.join("\n"), { details: { problems } });
  }
  const audit = parsed.data;
  return {
    enabled: audit.enabled ?? true,
    durability: audit.durability,
    alerts: (audit.alerts ?? []).map((rule) => ({ match: rule.match, notify: rule.notify, message: rule.message })),
  };
}
