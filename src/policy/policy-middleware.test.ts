import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { systemClock } from "../clock/index.js";
import { composeMiddleware, type StepContext } from "../engine/index.js";
import { LocalAgentError } from "../errors/index.js";
import { EventBus } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import { shellStep, type ShellConfig } from "../steps/shell/index.js";
import type { StepDefinition, WorkflowDefinition } from "../workflow/index.js";
import { createPolicyMiddleware, type ApprovalRequest, type PolicyDecisionRecord, type PolicyMiddlewareOptions } from "./index.js";

const temp = makeTempDir("localagent-policy-");
afterAll(() => temp.cleanup());

function shellContext(command: string, scope: Record<string, unknown> = {}, type = "shell"): StepContext {
  const step: StepDefinition = { name: "sh", type, onFailure: { kind: "stop" }, env: {}, needs: [], cacheMode: "delta", config: {} };
  const workflow: WorkflowDefinition = {
    name: "wf",
    file: "wf.yaml",
    triggers: [],
    inputs: {},
    env: {},
    steps: [step],
    priority: 0,
    misfire: "once",
    enabled: true,
  };
  const config: ShellConfig = { command };
  return {
    runId: "run_1",
    workflow,
    step,
    path: "sh",
    stepKey: "run_1:sh",
    attempt: 1,
    interrupted: false,
    config: config as unknown as Record<string, unknown>,
    env: {},
    scope,
    signal: new AbortController().signal,
    abort: () => {},
    services: {
      clock: systemClock,
      logger: createSilentLogger(),
      events: new EventBus(),
      deliveries: { enqueue: () => undefined },
      settings: { maxOutputBytes: 1 << 20, notificationPlatforms: {}, workspaceDir: temp.dir },
    },
    runSubSteps: () => Promise.resolve(null),
    progress: () => {},
  };
}

function execute(context: StepContext, options: PolicyMiddlewareOptions = {}) {
  return composeMiddleware([createPolicyMiddleware(options)], (inner) => shellStep.run(inner as unknown as StepContext<ShellConfig>))(
    context,
  );
}

async function failure(promise: Promise<unknown>): Promise<LocalAgentError> {
  const error = await promise.then(
    () => expect.unreachable("the step should fail"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LocalAgentError);
  return error as LocalAgentError;
}

describe("policy middleware", () => {
  it("runs allowed commands", async () => {
    expect(await execute(shellContext("echo hello | tr a-z A-Z"))).toEqual({ output: "HELLO" });
  });

  it("fails a denied command without retry, naming the rule", async () => {
    const error = await failure(execute(shellContext("cat ~/.ssh/id_rsa")));
    expect(error.code).toBe("policy_denied");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("credentials.read");
  });

  it("checks the rendered command, and the runner runs exactly the string that was checked", async () => {
    // A value that changes each time it is read: a second rendering would run something else.
    let reads = 0;
    const scope = {
      get next() {
        reads += 1;
        return reads === 1 ? "echo checked" : "cat ~/.ssh/id_rsa";
      },
    };
    expect(await execute(shellContext("{{ next | raw }}", scope))).toEqual({ output: "checked" });
    expect(reads).toBe(1);
    const denied = await failure(execute(shellContext("{{ path | raw }}", { path: "rm -rf /" })));
    expect(denied.message).toContain("destroy.rm-root");
  });

  it("asks the approval gate; without one, ask fails with needs approval", async () => {
    const noGate = await failure(execute(shellContext("git push --force origin main")));
    expect(noGate.message).toMatch(/needs approval \(rule risky\.git-force-push\)/);
    const requests: ApprovalRequest[] = [];
    const approve = async (request: ApprovalRequest) => {
      requests.push(request);
      return "approve" as const;
    };
    expect(await execute(shellContext("mkdir -p x && rm -rf x && echo gone"), { approvalGate: approve })).toEqual({ output: "gone" });
    expect(requests[0]).toMatchObject({
      command: "mkdir -p x && rm -rf x && echo gone",
      check: { decision: "ask", rule: "risky.rm-recursive" },
    });
    const records: PolicyDecisionRecord[] = [];
    await execute(shellContext("echo audited"), { onDecision: (record) => records.push(record) });
    await execute(shellContext("git push -f"), { onDecision: (record) => records.push(record) }).catch(() => undefined);
    expect(records.map((record) => [record.check.decision, record.approval])).toEqual([
      ["allow", undefined],
      ["ask", "deny"],
    ]);
  });

  it("checks the command as the configured shell's -c argument", async () => {
    const context = shellContext('import os; os.system("rm -rf /")');
    (context.config as unknown as ShellConfig).shell = "python3";
    const error = await failure(execute(context));
    expect(error.message).toContain("destroy.rm-root");
    const sh = shellContext("echo 'it''s' fine");
    (sh.config as unknown as ShellConfig).shell = "/bin/sh";
    expect(await execute(sh)).toEqual({ output: "its fine" });
  });

  it("applies user rules from config and leaves other step types alone", async () => {
    const denied = await failure(execute(shellContext("echo hello"), { config: { deny: ["echo *"] } }));
    expect(denied.message).toContain("user.deny[0]");
    const other = composeMiddleware([createPolicyMiddleware()], async () => ({ output: "ran" }));
    expect(await other(shellContext("rm -rf /", {}, "set"))).toEqual({ output: "ran" });
    expect(() => createPolicyMiddleware({ config: { default: "sometimes" } })).toThrow(LocalAgentError);
  });
});
