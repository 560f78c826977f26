/** A policy outcome; the strictest over all simple commands of a script wins. */
export type PolicyDecision = "allow" | "ask" | "deny";

/** Why a command got its decision: the rule that decided and a human reason. */
export interface PolicyVerdict {
  decision: PolicyDecision;
  /** Built-in rule id (`destroy.rm-root`), `user.deny[0]`, or `default`. */
  rule: string;
  reason: string;
}

/** One word of a command after quote removal and variable substitution. */
export interface ShellWord {
  value: string;
  /** Part of the value is only known at run time (`$(…)`, an unknown `$VAR`, a glob). */
  dynamic: boolean;
  /** Commands whose output becomes part of this word (`$(…)`, backticks, `<(…)`). */
  substitutions: SimpleCommand[];
}

export interface ShellRedirect {
  /** `>`, `>>`, `<`, `&>`, `>&`, `<>`, … */
  operator: string;
  target: string;
}

/** One program invocation the script can run, with wrappers (sudo, env, timeout, …) peeled off. */
export interface SimpleCommand {
  /** Normalised program name: basename, no quotes or backslashes (`/usr/bin/../bin/rm` → `rm`). */
  program: string;
  /** The program as written (resolved), e.g. `/bin/rm`. */
  path: string;
  args: ShellWord[];
  redirects: ShellRedirect[];
  /** `NAME=value` prefixes (`LD_PRELOAD=… cmd`). */
  assignments: Record<string, string>;
  /** Earlier stages of the pipeline this command reads from. */
  upstream: SimpleCommand[];
  /** Heredoc or here-string text fed to stdin. */
  stdinText?: string;
  /** The directory an earlier literal `cd` moved to, when known. */
  cwd?: string;
  /** Wrappers that were peeled off, outermost first (`sudo`, `timeout`, `ssh`). */
  wrappers: string[];
}

/** A finding made while reading the script itself (unparseable, unresolvable name, fork bomb). */
export interface ScriptFinding extends PolicyVerdict {
  /** Source text it refers to. */
  text: string;
}

/** Where nested scripts and findings go while a script is read (the analyzer; wrappers and inline code feed it). */
export interface ScriptSink {
  /** Parses and walks a nested script (`bash -c`, `eval`, …); returns its top-level commands. */
  script(source: string, depth: number, vars: Map<string, string | undefined>): SimpleCommand[];
  finding(decision: PolicyDecision, rule: string, reason: string, text: string): void;
}

/** A built-in rule: checked against every simple command of a script. */
export interface BuiltinRule {
  id: string;
  category: RuleCategory;
  decision: PolicyDecision;
  reason: string;
  matches(command: SimpleCommand): boolean;
}

export type RuleCategory =
  | "destroy"
  | "remote-code"
  | "reverse-shell"
  | "exfiltration"
  | "credentials"
  | "privilege"
  | "persistence"
  | "miner"
  | "log-wiping"
  | "risky";
