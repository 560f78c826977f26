import type { Parser } from "web-tree-sitter";
import { loadBashParser } from "./bash-parser.js";
import { BUILTIN_RULES } from "./builtin-rules.js";
import { ScriptAnalyzer } from "./script-analyzer.js";
import type { PolicyDecision, PolicyVerdict, SimpleCommand } from "./types.js";
import { compileUserRules, type UserRule, type UserRules } from "./user-rules.js";

const STRICTNESS: Record<PolicyDecision, number> = { allow: 0, ask: 1, deny: 2 };

/** Checks against the whole command text, for what hides outside a simple command (`export LD_PRELOAD=…`). */
const TEXT_RULES: readonly (PolicyVerdict & { pattern: RegExp })[] = [
  {
    decision: "deny",
    rule: "logs.history",
    reason: "clears or disables shell history",
    pattern: /\bunset\s+HISTFILE\b|\bHISTFILE=\/dev\/null|\bHIST(FILE)?SIZE=0\b|\bset\s+\+o\s+history\b/,
  },
  { decision: "deny", rule: "persistence.preload", reason: "injects a library into programs with LD_PRELOAD", pattern: /\bLD_PRELOAD=/ },
  { decision: "deny", rule: "miner.known", reason: "runs a cryptocurrency miner", pattern: /stratum\+(tcp|ssl|tls):\/\//i },
];

export interface CommandPolicyOptions {
  /** The `policy:` section of config.yaml, as written (validated here). */
  config?: unknown;
}

/** The decision for one command line. */
export interface PolicyCheck extends PolicyVerdict {
  command: string;
}

/** Loads the bash grammar (once) and compiles the user's rules. */
export async function createCommandPolicy(options: CommandPolicyOptions = {}): Promise<CommandPolicy> {
  return new CommandPolicy(await loadBashParser(), compileUserRules(options.config));
}

/**
 * The command policy: parses a command line as bash, finds every simple command it can run,
 * checks each against the user's rules and the built-in rules; the strictest decision wins.
 */
export class CommandPolicy {
  constructor(
    private readonly parser: Parser,
    private readonly user: UserRules,
  ) {}

  check(command: string): PolicyCheck {
    const verdict = this.decide(command);
    return { command, ...verdict };
  }

  private decide(source: string): PolicyVerdict {
    const analysis = new ScriptAnalyzer(this.parser).analyze(source);
    const denied = this.user.deny.find(
      (rule) => rule.matchesScript(source) || analysis.commands.some((command) => rule.matchesCommand(command)),
    );
    if (denied) return userVerdict(denied);
    const scriptAllows = this.user.allow.filter((rule) => rule.matchesScript(source));
    const verdicts: PolicyVerdict[] = [];
    for (const finding of analysis.findings) if (!overridden(finding, scriptAllows)) verdicts.push(finding);
    for (const rule of TEXT_RULES) if (rule.pattern.test(source) && !overridden(rule, scriptAllows)) verdicts.push(rule);
    for (const command of analysis.commands) verdicts.push(this.decideCommand(source, command, scriptAllows));
    if (analysis.commands.length === 0 && verdicts.length === 0) verdicts.push(this.fallback(source, undefined));
    return strictest(verdicts);
  }

  private decideCommand(source: string, command: SimpleCommand, scriptAllows: UserRule[]): PolicyVerdict {
    const allows = [...scriptAllows, ...this.user.allow.filter((rule) => !scriptAllows.includes(rule) && rule.matchesCommand(command))];
    for (const rule of BUILTIN_RULES) {
      if (!rule.matches(command)) continue;
      const verdict = { decision: rule.decision, rule: rule.id, reason: rule.reason };
      if (!overridden(verdict, allows)) return verdict;
    }
    return this.fallback(source, command);
  }

  private fallback(source: string, command: SimpleCommand | undefined): PolicyVerdict {
    const matches = (rule: UserRule) => rule.matchesScript(source) || (command !== undefined && rule.matchesCommand(command));
    const ask = this.user.ask.find(matches);
    if (ask) return userVerdict(ask);
    const allow = this.user.allow.find((rule) => rule.overrides === undefined && matches(rule));
    if (allow) return userVerdict(allow);
    return { decision: this.user.defaultDecision, rule: "default", reason: "no rule matched" };
  }
}

/** A user allow lifts a built-in ask; a built-in deny only when the allow names its rule id. */
function overridden(verdict: PolicyVerdict, allows: UserRule[]): boolean {
  return allows.some((rule) => rule.overrides === verdict.rule || (rule.overrides === undefined && verdict.decision === "ask"));
}

function userVerdict(rule: UserRule): PolicyVerdict {
  return { decision: rule.decision, rule: rule.id, reason: `matches your ${rule.decision} rule ${rule.source}` };
}

function strictest(verdicts: PolicyVerdict[]): PolicyVerdict {
  let best = verdicts[0] ?? { decision: "allow" as const, rule: "default", reason: "no rule matched" };
  for (const verdict of verdicts) if (STRICTNESS[verdict.decision] > STRICTNESS[best.decision]) best = verdict;
  return best;
}
