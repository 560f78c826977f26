import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { AuditLog, readAuditEntries, verifyAuditLog } from "../audit/index.js";
import { systemClock } from "../clock/index.js";
import { composeMiddleware, type StepContext, type StepRunner } from "../engine/index.js";
import { LocalAgentError } from "../errors/index.js";
import { EventBus } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import { httpStep, shellStep } from "../steps/index.js";
import type { StepDefinition, WorkflowDefinition } from "../workflow/index.js";
import { createEgressControl, type EgressControl } from "./index.js";

const temp = makeTempDir("localagent-egress-mw-");
const auditFile = join(temp.dir, "audit.log");
const audit = new AuditLog({ file: auditFile, clock: systemClock, durability: "process" });
let control: EgressControl;
let allowed: Server;
let other: Server;
let allowedPort: number;
let otherPort: number;

async function serve(text: string): Promise<[Server, number]> {
  const server = createServer((request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ text, path: request.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return [server, (server.address() as AddressInfo).port];
}

beforeAll(async () => {
  [allowed, allowedPort] = await serve("allowed");
  [other, otherPort] = await serve("other");
  control = createEgressControl({
    socketDir: join(temp.dir, "egress"),
    lookup: async (host) => {
      if (host === "rebind.test") return [{ address: "127.0.0.1", family: 4 }];
      throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
    },
  });
});

afterAll(async () => {
  await control.close();
  allowed.close();
  other.close();
  audit.close();
  temp.cleanup();
});

function stepContext(runId: string, type: string, config: Record<string, unknown>, network?: boolean | string[]): StepContext {
  const step: StepDefinition = {
    name: "step",
    type,
    onFailure: { kind: "stop" },
    env: {},
    needs: [],
    cacheMode: "delta",
    config,
    ...(network === undefined ? {} : { network }),
  };
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
  return {
    runId,
    workflow,
    step,
    path: "step",
    stepKey: `${runId}:step`,
    attempt: 1,
    interrupted: false,
    config,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    scope: {},
    signal: new AbortController().signal,
    abort: () => {},
    services: {
      clock: systemClock,
      logger: createSilentLogger(),
      events: new EventBus(),
      deliveries: { enqueue: () => undefined },
      audit,
      settings: { maxOutputBytes: 1 << 20, notificationPlatforms: {}, workspaceDir: temp.dir },
    },
    runSubSteps: () => Promise.resolve(null),
    progress: () => {},
  };
}

function execute(context: StepContext, runner: StepRunner<never>) {
  return composeMiddleware([control.middleware], (inner) => runner.run(inner as never))(context);
}

function egressEntries(runId: string) {
  return readAuditEntries(auditFile).filter((entry) => entry.type === "egress-connection" && entry.actor.run === runId);
}

async function failure(promise: Promise<unknown>): Promise<LocalAgentError> {
  const error = await promise.then(
    () => expect.unreachable("the step should fail"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LocalAgentError);
  return error as LocalAgentError;
}

describe("egress middleware", () => {
  it("gives a shell step with network: [hosts] its own proxy: the listed host answers through curl, another is refused", async () => {
    const command = [
      `curl -fsS http://127.0.0.1:${allowedPort}/ok`,
      `echo`,
      `curl -sS http://127.0.0.1:${otherPort}/no`, // the 403 body ends with a newline
      `curl -fsS -o /dev/null http://127.0.0.1:${otherPort}/no || echo "refused $?"`,
      `test -S "$LOCALAGENT_EGRESS_SOCKET" && echo socket`,
    ].join("; ");
    const context = stepContext("run_shell", "shell", { command }, [`127.0.0.1:${allowedPort}`]);
    const result = await execute(context, shellStep);
    const lines = String(result.output).split("\n");
    expect(JSON.parse(lines[0] ?? "")).toEqual({ text: "allowed", path: "/ok" });
    expect(lines[1]).toContain(`127.0.0.1:${otherPort} is not in the step's network allow-list`);
    expect(lines[2]).toBe("refused 22");
    expect(lines[3]).toBe("socket");
    expect(context.env.HTTPS_PROXY).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(context.env.http_proxy).toBe(context.env.HTTP_PROXY);
    const entries = egressEntries("run_shell");
    expect(entries.map((entry) => [entry.details.decision, entry.details.port])).toEqual([
      ["allow", allowedPort],
      ["deny", otherPort],
      ["deny", otherPort],
    ]);
    expect(entries[0]?.details).toMatchObject({
      via: "http",
      status: 200,
      bytesDown: JSON.stringify({ text: "allowed", path: "/ok" }).length,
    });
  });

  it("leaves steps without a host list alone", async () => {
    const context = stepContext("run_plain", "shell", { command: 'echo "${HTTPS_PROXY:-none}"' }, true);
    expect((await execute(context, shellStep as StepRunner<never>)).output).toBe("none");
    expect(egressEntries("run_plain")).toEqual([]);
  });

  it("lets an http step reach a listed host and audits it with its status and bytes", async () => {
    const context = stepContext("run_http", "http", { url: `http://127.0.0.1:${allowedPort}/api` }, [`127.0.0.1:${allowedPort}`]);
    const result = await execute(context, httpStep);
    expect(result.output).toMatchObject({ status: 200, body: { text: "allowed", path: "/api" } });
    const [entry] = egressEntries("run_http");
    expect(entry?.details).toMatchObject({
      host: "127.0.0.1",
      port: allowedPort,
      via: "http-step",
      method: "GET",
      decision: "allow",
      status: 200,
      rule: `127.0.0.1:${allowedPort}`,
    });
    expect(entry?.details.bytesDown).toBeGreaterThan(0);
  });

  it("fails an http step whose host is not listed, without retry, with an audit entry", async () => {
    const context = stepContext("run_http_deny", "http", { url: `http://127.0.0.1:${otherPort}/api` }, [`127.0.0.1:${allowedPort}`]);
    const error = await failure(execute(context, httpStep));
    expect(error.code).toBe("policy_denied");
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `step "step": network access refused: 127.0.0.1:${otherPort} is not in the step's network allow-list (127.0.0.1:${allowedPort})`,
    );
    const [entry] = egressEntries("run_http_deny");
    expect(entry?.details).toMatchObject({ decision: "deny", port: otherPort, bytesUp: 0, bytesDown: 0 });
  });

  it("refuses every request of an http step with network: false", async () => {
    const context = stepContext("run_http_off", "http", { url: `http://127.0.0.1:${allowedPort}/` }, false);
    const error = await failure(execute(context, httpStep));
    expect(error.message).toBe(`step "step": network access refused: the step has network: false (127.0.0.1:${allowedPort})`);
    expect(egressEntries("run_http_off")[0]?.details).toMatchObject({ decision: "deny", port: allowedPort });
  });

  it("applies the DNS-rebinding guard to http steps", async () => {
    const context = stepContext("run_http_rebind", "http", { url: `http://rebind.test:${allowedPort}/` }, ["rebind.test"]);
    const error = await failure(execute(context, httpStep));
    expect(error.message).toContain("rebind.test resolves to 127.0.0.1");
    expect(egressEntries("run_http_rebind")[0]?.details).toMatchObject({ decision: "deny", address: "127.0.0.1" });
  });

  it("keeps the audit chain valid", () => {
    expect(verifyAuditLog(auditFile)).toMatchObject({ ok: true });
  });
});
