import type { StepContext, StepMiddleware } from "../engine/index.js";
import { LocalAgentError } from "../errors/index.js";
import { shellCommandOf } from "../steps/shell/index.js";
import type { CommandPolicy, PolicyCheck } from "./command-policy.js";
import { createInProcessChecker, createWorkerPolicyChecker } from "./policy-checker.js";
import { compileUserRules } from "./user-rules.js";

/** What a human is asked to approve when the policy says `ask`. */
export interface ApprovalRequest {
  runId: string;
  workflow: string;
  /** The step's path in the run. */
  step: string;
  /** The exact command line that will run if approved. */
  command: string;
  check: PolicyCheck;
}

/** Answers `ask` decisions (chat channel, dashboard); the approvals component plugs in here. */
export type ApprovalGate = (request: ApprovalRequest) => Promise<"approve" | "deny">;

export interface PolicyMiddlewareOptions {
  /** A ready policy; without one, it is built from `config` on first use (the grammar loads lazily). */
  policy?: CommandPolicy | Promise<CommandPolicy>;
  /** The `policy:` section of config.yaml; validated now, so a bad section fails at start-up. */
  config?: unknown;
  /**
   * Who answers an `ask`. Default: the step services' durable approvals (a request a human
   * answers with `localagent approvals approve ID`), or, where there are none, a deny.
   */
  approvalGate?: ApprovalGate;
  /** Without `policy`: how long the parser's child process stays up after the last check (default 15 s). */
  idleMs?: number;
  /** Sees every decision, allow included (besides the audit entry written through the step services). */
  onDecision?: (decision: PolicyDecisionRecord) => void;
}

/** One checked command, for the audit log. */
export interface PolicyDecisionRecord {
  runId: string;
  workflow: string;
  step: string;
  check: PolicyCheck;
  /** For `ask`: what the approval gate answered. */
  approval?: "approve" | "deny";
}

const noApprovals: ApprovalGate = async () => "deny";

/**
 * Checks the command of every `shell` step before it runs. `deny` fails the step (not retried),
 * `ask` waits for the approval gate. The command checked is the one the runner spawns:
 * both take it from `shellCommandOf(context)`.
 */
export function createPolicyMiddleware(options: PolicyMiddlewareOptions = {}): StepMiddleware {
  if (options.policy === undefined) compileUserRules(options.config);
  // Without a given policy, the parser lives in a child process that is ended when idle (its WASM
  // memory goes back to the OS); see policy-checker.ts.
  const checker =
    options.policy === undefined
      ? createWorkerPolicyChecker({ config: options.config, ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }) })
      : createInProcessChecker(options.policy);
  return async (context, next) => {
    if (context.step.type !== "shell") return next();
    const command = shellCommandOf(context as StepContext<{ command: string }>);
    const check = await checker.check(asInvoked(command, context.config.shell));
    const record: PolicyDecisionRecord = { runId: context.runId, workflow: context.workflow.name, step: context.path, check };
    const audit = (approval?: "approve" | "deny"): void => {
      context.services.audit?.record({
        type: "policy-decision",
        actor: { workflow: context.workflow.name, run: context.runId, step: context.path },
        details: { command, decision: check.decision, rule: check.rule, reason: check.reason, ...(approval ? { approval } : {}) },
      });
      options.onDecision?.(approval ? { ...record, approval } : record);
    };
    if (check.decision !== "ask") audit();
    if (check.decision === "allow") return next();
    const details = { command, decision: check.decision, rule: check.rule, reason: check.reason };
    context.services.logger.warn({ step: context.path, runId: context.runId, ...details }, `command policy: ${check.decision}`);
    if (check.decision === "deny") {
      throw new LocalAgentError("policy_denied", `step "${context.path}": command denied by policy (rule ${check.rule}): ${check.reason}`, {
        details,
      });
    }
    const request: ApprovalRequest = { runId: context.runId, workflow: context.workflow.name, step: context.path, command, check };
    const approvals = context.services.approvals;
    const answer = options.approvalGate
      ? await options.approvalGate(request)
      : approvals
        ? (
            await approvals.ask(
              {
                stepKey: context.stepKey,
                runId: context.runId,
                workflow: context.workflow.name,
                step: context.path,
                command,
                rule: check.rule,
                reason: check.reason,
              },
              context.signal,
            )
          ).decision
        : await noApprovals(request);
    audit(answer);
    if (answer === "approve") return next();
    throw new LocalAgentError(
      "policy_denied",
      `step "${context.path}": command needs approval (rule ${check.rule}): ${check.reason}; it was not approved`,
      { details },
    );
  };
}

/**
 * The step runs `SHELL -c COMMAND`: with a `shell:` other than bash the command is checked as
 * that program's `-c` argument (`python3 -c '…'` gets the inline-code checks), so a step cannot
 * slip code past the bash parser by naming another interpreter.
 */
function asInvoked(command: string, shell: unknown): string {
  if (typeof shell !== "string" || shell === "" || /^(\/usr)?\/bin\/bash$|^bash$/.test(shell)) return command;
  const quote = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
  return `${quote(shell)} -c ${quote(command)}`;
}
