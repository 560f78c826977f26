import type { ApprovalRequester } from "../engine/index.js";
import type { CommandPolicy } from "../policy/index.js";
import type { BeforeToolCall, ToolApprover } from "./types.js";

/**
 * The command policy as a `beforeToolCall` hook: a tool that runs a command (the shell tool: its
 * `commandOf`) gets the decision the policy gives a shell step with that command line; other
 * tools pass. Used where tools run outside a workflow step (chat conversations); inside an `ai`
 * step the shell tool runs as a nested shell step, so the engine's policy middleware checks it.
 */
export function createPolicyToolHook(policy: CommandPolicy | Promise<CommandPolicy>): BeforeToolCall {
  return async (call, { tool }) => {
    const command = tool.commandOf?.(call.arguments);
    if (command === undefined) return { decision: "allow" };
    const check = (await policy).check(command);
    if (check.decision === "deny") return { decision: "deny", reason: check.reason, rule: check.rule };
    if (check.decision === "ask") return { decision: "ask", reason: check.reason, rule: check.rule };
    return { decision: "allow", rule: check.rule, reason: check.reason };
  };
}

/** Answers `ask` through the durable approvals (a human runs `localagent approvals approve ID`), keyed by `keyPrefix` and the call. */
export function createApprovalToolApprover(
  approvals: ApprovalRequester,
  where: { keyPrefix: string; runId: string; workflow: string; step: string },
): ToolApprover {
  return async (call, decision, context) => {
    const answer = await approvals.ask(
      {
        stepKey: `${where.keyPrefix}:tool-${context.turn}-${context.index}`,
        runId: where.runId,
        workflow: where.workflow,
        step: where.step,
        command: context.tool.commandOf?.(call.arguments) ?? `${call.name} ${JSON.stringify(call.arguments)}`,
        ...(decision.rule ? { rule: decision.rule } : {}),
        ...(decision.reason ? { reason: decision.reason } : {}),
      },
      context.signal,
    );
    return answer.decision;
  };
}
