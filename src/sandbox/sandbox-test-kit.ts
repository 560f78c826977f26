import { systemClock } from "../clock/index.js";
import { composeMiddleware, createTimeoutMiddleware, type StepContext, type StepResult } from "../engine/index.js";
import { EventBus, type LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import { shellCommandOf, shellStep, type ShellConfig } from "../steps/shell/index.js";
import type { StepDefinition, WorkflowDefinition } from "../workflow/index.js";
import { createSandboxMiddleware, type SandboxMiddlewareOptions } from "./sandbox-middleware.js";

/** An audit entry as the middleware writes it. */
export interface RecordedEntry {
  type: string;
  details?: Record<string, unknown>;
}

/**
 * Runs shell steps through the real sandbox middleware, the timeout middleware and the shell
 * runner, as the engine does (test helper, not exported from the component).
 */
export function createSandboxRunner(options: Omit<SandboxMiddlewareOptions, "commandOf">) {
  const audit: RecordedEntry[] = [];
  const warnings: string[] = [];
  const events: LocalAgentEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  const logger = createSilentLogger();
  logger.warn = (...args: unknown[]) => {
    warnings.push(String(args.find((arg) => typeof arg === "string") ?? ""));
  };
  const middleware = createSandboxMiddleware({ ...options, commandOf: shellCommandOf });
  const chain = composeMiddleware([middleware, createTimeoutMiddleware()], (context) =>
    shellStep.run(context as unknown as StepContext<ShellConfig>),
  );
  let counter = 0;
  /** `network` is a field of the step definition (as in a workflow file), the rest the shell step's config. */
  const run = (
    { network, ...config }: ShellConfig & { network?: boolean | string[] } & Record<string, unknown>,
    extra: { timeoutMs?: number; workflow?: string; scope?: Record<string, unknown>; env?: Record<string, string> } = {},
  ): Promise<StepResult> => {
    counter += 1;
    const step: StepDefinition = {
      name: "sh",
      type: "shell",
      onFailure: { kind: "stop" },
      env: {},
      needs: [],
      cacheMode: "delta",
      config: {},
      ...(extra.timeoutMs !== undefined ? { timeoutMs: extra.timeoutMs } : {}),
      ...(network !== undefined ? { network } : {}),
    };
    const workflow: WorkflowDefinition = {
      name: extra.workflow ?? "wf",
      file: "wf.yaml",
      triggers: [],
      inputs: {},
      env: {},
      steps: [step],
      priority: 0,
      misfire: "once",
      enabled: true,
    };
    const controller = new AbortController();
    const context: StepContext = {
      runId: `run_${counter}`,
      workflow,
      step,
      path: "sh",
      stepKey: `run_${counter}:sh`,
      attempt: 1,
      interrupted: false,
      config: config,
      env: extra.env ?? {},
      scope: extra.scope ?? {},
      signal: controller.signal,
      abort: (reason) => controller.abort(reason),
      services: {
        clock: systemClock,
        logger,
        events: bus,
        deliveries: { enqueue: () => undefined },
        audit: { record: (entry) => audit.push(entry) },
        settings: { maxOutputBytes: 1024 * 1024, notificationPlatforms: {}, workspaceDir: options.dataDir },
      },
      runSubSteps: () => Promise.resolve(null),
      progress: () => {},
    };
    return chain(context);
  };
  return { run, audit, warnings, events };
}
