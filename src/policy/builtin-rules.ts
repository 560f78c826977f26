import { ACCESS_RULES } from "./access-rules.js";
import { RISKY_RULES } from "./risky-rules.js";
import { SYSTEM_RULES } from "./system-rules.js";
import type { BuiltinRule } from "./types.js";

export type { BuiltinRule, RuleCategory } from "./types.js";

/** Built-in rules, strictest categories first; the first rule that matches a command names the decision. */
export const BUILTIN_RULES: readonly BuiltinRule[] = [...SYSTEM_RULES, ...ACCESS_RULES, ...RISKY_RULES];
