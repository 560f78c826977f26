export { loadBashParser } from "./bash-parser.js";
export { BUILTIN_RULES, type BuiltinRule, type RuleCategory } from "./builtin-rules.js";
export { CommandPolicy, createCommandPolicy, type CommandPolicyOptions, type PolicyCheck } from "./command-policy.js";
export { ScriptAnalyzer, type ScriptAnalysis } from "./script-analyzer.js";
export { compileUserRules, policyConfigSchema, type PolicyConfig } from "./user-rules.js";
export type { PolicyDecision, PolicyVerdict, ShellWord, SimpleCommand } from "./types.js";
export {
  createPolicyMiddleware,
  type ApprovalGate,
  type ApprovalRequest,
  type PolicyDecisionRecord,
  type PolicyMiddlewareOptions,
} from "./policy-middleware.js";
export {
  createInProcessChecker,
  createWorkerPolicyChecker,
  DEFAULT_POLICY_IDLE_MS,
  type PolicyChecker,
  type WorkerPolicyCheckerOptions,
} from "./policy-checker.js";
