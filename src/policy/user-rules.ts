import { z } from "zod";
import { LocalAgentError } from "../errors/index.js";
import type { PolicyDecision, SimpleCommand } from "./types.js";

const entrySchema = z.union([
  z.string().min(1).describe("a glob on the whole command or on one simple command (`rm -rf *`), or /regex/flags"),
  z
    .object({
      program: z.string().optional().describe("glob on the program name (basename: `rm`, not `/bin/rm`)"),
      args: z.string().optional().describe("glob on the arguments joined by spaces (default: anything)"),
      rule: z.string().optional().describe("allow only: the built-in rule id this entry overrides, even a deny"),
    })
    .strict(),
]);

/** `policy:` in config.yaml. */
export const policyConfigSchema = z
  .object({
    default: z.enum(["allow", "ask", "deny"]).optional().describe("decision for commands no rule matches (default allow)"),
    deny: z.array(entrySchema).optional(),
    ask: z.array(entrySchema).optional(),
    allow: z.array(entrySchema).optional(),
  })
  .strict();

export type PolicyConfig = z.infer<typeof policyConfigSchema>;

/** One compiled user rule. */
export interface UserRule {
  id: string;
  decision: PolicyDecision;
  source: string;
  /** Built-in rule this allow entry overrides (deny included). */
  overrides?: string;
  matchesScript(text: string): boolean;
  matchesCommand(command: SimpleCommand): boolean;
}

export interface UserRules {
  defaultDecision: PolicyDecision;
  deny: UserRule[];
  ask: UserRule[];
  allow: UserRule[];
}

/** Validates `policy:` once and compiles its patterns; errors name the field (`policy.deny[2]: …`). */
export function compileUserRules(raw: unknown): UserRules {
  const parsed = policyConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `policy.${issue.path.join(".")}: ${issue.message}`);
    throw new LocalAgentError("config_invalid", `invalid policy section: ${problems.join("; ")}`, { details: { problems } });
  }
  const config = parsed.data;
  const compile = (decision: PolicyDecision) =>
    (config[decision] ?? []).map((entry, index) => compileEntry(entry, decision, `user.${decision}[${index}]`));
  return { defaultDecision: config.default ?? "allow", deny: compile("deny"), ask: compile("ask"), allow: compile("allow") };
}

function compileEntry(entry: z.infer<typeof entrySchema>, decision: PolicyDecision, id: string): UserRule {
  if (typeof entry === "string") {
    const pattern = toPattern(entry, id);
    return {
      id,
      decision,
      source: JSON.stringify(entry),
      // An allow glob sees one simple command at a time, so `ls*` never allows `ls; curl …`.
      matchesScript: (text) => decision !== "allow" && pattern.test(text.trim()),
      matchesCommand: (command) => pattern.test(commandText(command)),
    };
  }
  const programPattern = entry.program === undefined ? undefined : toPattern(entry.program, `${id}.program`);
  const argsPattern = entry.args === undefined ? undefined : toPattern(entry.args, `${id}.args`);
  const onlyRule = programPattern === undefined && argsPattern === undefined;
  return {
    id,
    decision,
    source: JSON.stringify(entry),
    ...(entry.rule === undefined ? {} : { overrides: entry.rule }),
    matchesScript: () => onlyRule,
    matchesCommand: (command) =>
      onlyRule ||
      ((programPattern?.test(command.program) ?? true) && (argsPattern?.test(command.args.map((arg) => arg.value).join(" ")) ?? true)),
  };
}

/** `program arg1 arg2`, the text a per-command pattern sees. */
export function commandText(command: SimpleCommand): string {
  return [command.program, ...command.args.map((arg) => arg.value)].join(" ");
}

/** `/…/flags` is a regular expression (searched); anything else is a glob on the whole text (`*`, `?`). */
function toPattern(text: string, id: string): RegExp {
  const regex = /^\/(.*)\/([a-z]*)$/s.exec(text);
  try {
    if (regex) return new RegExp(regex[1] ?? "", (regex[2] ?? "").replace("g", ""));
    const escaped = text
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".");
    return new RegExp(`^${escaped}$`, "s");
  } catch (error) {
    throw new LocalAgentError("config_invalid", `${id}: not a valid pattern: ${text}`, { cause: error });
  }
}
