import { z } from "zod";
import type { ApprovalQuestion, StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { stringify } from "../../expression/index.js";

export interface ApprovalConfig {
  message: unknown;
}

/**
 * `approval`: waits for a human yes/no (CLI, API, dashboard, later chat). The request is durable and
 * keyed by the step key, so after a restart the re-run step finds the same request and its answer.
 * `timeout:` is how long to wait (default `approvals.timeout`); no answer in time is a deny.
 * Output: `{ approved: true, by, id }`; a deny or an expiry fails the step (not retried).
 */
export const approvalStep: StepRunner<ApprovalConfig> = {
  type: "approval",
  // The deadline is stored with the request (it survives a restart), and running out of it is a deny.
  ownsTimeout: true,
  configShape: {
    message: z.unknown().describe("What the human is asked; may use templates"),
  },
  async run(context) {
    const approvals = context.services.approvals;
    if (!approvals) {
      throw new LocalAgentError(
        "step_failed",
        `approval step "${context.path}" needs the daemon's approvals service; run it under localagent start`,
      );
    }
    const question: ApprovalQuestion = {
      stepKey: context.stepKey,
      runId: context.runId,
      workflow: context.workflow.name,
      step: context.path,
      command: stringify(context.config.message),
      reason: "approval step",
      ...(context.step.timeoutMs !== undefined ? { timeoutMs: context.step.timeoutMs } : {}),
    };
    const answer = await approvals.ask(question, context.signal);
    if (answer.decision === "approve") return { output: { approved: true, by: answer.by, id: answer.id } };
    throw new LocalAgentError(
      "approval_denied",
      answer.outcome === "expired" ? `approval ${answer.id} expired without an answer` : `approval ${answer.id} denied by ${answer.by}`,
      { details: { approvalId: answer.id, outcome: answer.outcome } },
    );
  },
};
