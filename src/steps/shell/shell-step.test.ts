import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir, waitFor } from "../../../test/helpers/index.js";
import { systemClock } from "../../clock/index.js";
import type { StepContext } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { EventBus } from "../../events/index.js";
import { createSilentLogger } from "../../logger/index.js";
import type { StepDefinition, WorkflowDefinition } from "../../workflow/index.js";
import { findLeftoverGroups } from "./leftovers.js";
import { shellStep, type ShellConfig } from "./shell-step.js";

const temp = makeTempDir("localagent-shell-");
afterAll(() => temp.cleanup());

function context(
  config: ShellConfig,
  options: {
    signal?: AbortSignal;
    maxOutputBytes?: number;
    env?: Record<string, string>;
    interrupted?: boolean;
    scope?: Record<string, unknown>;
  } = {},
) {
  const step: StepDefinition = {
    name: "sh",
    type: "shell",
    onFailure: { kind: "stop" },
    env: {},
    needs: [],
    cacheMode: "delta",
    config: {},
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
  const progress: Array<[string, string]> = [];
  const value: StepContext<ShellConfig> = {
    runId: "run_1",
    workflow,
    step,
    path: "sh",
    stepKey: "run_1:sh",
    attempt: 1,
    interrupted: options.interrupted ?? false,
    config,
    env: options.env ?? {},
    scope: options.scope ?? {},
    signal: options.signal ?? new AbortController().signal,
    abort: () => {},
    services: {
      clock: systemClock,
      logger: createSilentLogger(),
      events: new EventBus(),
      deliveries: { enqueue: () => undefined },
      settings: { maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024, notificationPlatforms: {}, workspaceDir: temp.dir },
    },
    runSubSteps: () => Promise.resolve(null),
    progress: (stream, text) => progress.push([stream, text]),
  };
  return { value, progress };
}

async function run(config: ShellConfig, options?: Parameters<typeof context>[1]): Promise<unknown> {
  return (await shellStep.run(context(config, options).value)).output;
}

async function failure(config: ShellConfig, options?: Parameters<typeof context>[1]): Promise<LocalAgentError> {
  const error: unknown = await shellStep.run(context(config, options).value).then(
    () => expect.unreachable("the command should fail"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LocalAgentError);
  return error as LocalAgentError;
}

describe("shell step", () => {
  it("captures stdout without the final newline and streams output as progress", async () => {
    const { value, progress } = context({ command: "printf 'a\\nb\\n'; echo warn >&2" });
    expect((await shellStep.run(value)).output).toBe("a\nb");
    // Output may arrive in several chunks; together they are the whole stream.
    const joined = (stream: string) =>
      progress
        .filter(([name]) => name === stream)
        .map(([, text]) => text)
        .join("");
    expect(joined("stdout")).toBe("a\nb\n");
    expect(joined("stderr")).toBe("warn\n");
  });

  it("runs in the workspace with the step's env and the step key", async () => {
    const output = await run(
      { command: 'echo "$(pwd)|$GREETING|$LOCALAGENT_STEP_KEY|$LOCALAGENT_RUN_ID|$LOCALAGENT_WORKFLOW"' },
      { env: { GREETING: "hi" } },
    );
    expect(output).toBe(`${realpathSync(temp.dir)}|hi|run_1:sh|run_1|wf`);
    expect(await run({ command: "pwd", cwd: "/" })).toBe("/");
    expect(await run({ command: 'echo "$0"', shell: "/bin/sh" })).toBe("/bin/sh");
  });

  it("caps output at max_output and says how much was dropped", async () => {
    expect(await run({ command: "printf '%.0s0123456789' $(seq 100)", max_output: 25 })).toBe(
      "0123456789012345678901234\n[output truncated: 975 more bytes]",
    );
    expect(await run({ command: "printf '%.0sx' $(seq 10)" }, { maxOutputBytes: 4 })).toBe("xxxx\n[output truncated: 6 more bytes]");
    expect(await run({ command: "printf 12345", max_output: 5 })).toBe("12345");
  });

  it("treats exit status 1 with no output as an empty result (grep found nothing)", async () => {
    expect(await run({ command: "printf 'ok\\n' | grep -i error" })).toBe("");
    expect(await run({ command: "exit 1" })).toBe("");
  });

  it("strict_exit: true makes exit status 1 a failure", async () => {
    const error = await failure({ command: "printf 'ok\\n' | grep -i error", strict_exit: true });
    expect(error.message).toBe("command failed (exit status 1)");
    expect(error.details).toMatchObject({ exitCode: 1, stderr: "" });
  });

  it("exit status 1 with output or stderr is still a failure", async () => {
    expect((await failure({ command: "echo partial; exit 1" })).message).toBe("command failed (exit status 1)");
    expect((await failure({ command: "echo bad >&2; exit 1" })).message).toBe("command failed (exit status 1): bad");
  });

  it("a non-zero exit names the status and the tail of stderr, and is retryable", async () => {
    const error = await failure({ command: "for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; echo out; exit 42" });
    expect(error.message).toBe("command failed (exit status 42): line3\nline4\nline5\nline6\nline7");
    expect(error.code).toBe("step_failed");
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ exitCode: 42, stdout: "out" });
  });

  it("names the signal that killed the command", async () => {
    expect((await failure({ command: "kill -TERM $$" })).message).toBe("command failed (killed by SIGTERM)");
  });

  it("fails clearly when the shell cannot start", async () => {
    const error = await failure({ command: "true", shell: "/nonexistent/shell" });
    expect(error.message).toMatch(/^cannot start shell: spawn \/nonexistent\/shell ENOENT/);
  });

  it("rejects with the abort reason, before or during the command", async () => {
    const controller = new AbortController();
    const reason = new LocalAgentError("step_cancelled", "run cancelled");
    controller.abort(reason);
    await expect(shellStep.run(context({ command: "touch never" }, { signal: controller.signal }).value)).rejects.toBe(reason);
    expect(existsSync(join(temp.dir, "never"))).toBe(false);
    const running = new AbortController();
    const started = Date.now();
    const pending = shellStep.run(context({ command: "sleep 30" }, { signal: running.signal }).value);
    setTimeout(() => running.abort(reason), 100);
    await expect(pending).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("shell step after a crash", () => {
  it("kills what an interrupted attempt left running before it starts again", async () => {
    // Stands in for the shell a killed daemon left behind: own process group, same step key.
    const orphan = spawn("/bin/sh", ["-c", "sleep 30 & sleep 30"], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, LOCALAGENT_STEP_KEY: "run_1:sh" },
    });
    const group = orphan.pid ?? 0;
    await waitFor(() => findLeftoverGroups("run_1:sh").includes(group));
    const bystander = spawn("/bin/sh", ["-c", "sleep 30"], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, LOCALAGENT_STEP_KEY: "run_1:other" },
    });
    try {
      await expect(run({ command: "echo again" }, { interrupted: true })).resolves.toBe("again");
      expect(findLeftoverGroups("run_1:sh")).toEqual([]);
      expect(findLeftoverGroups("run_1:other")).toEqual([bystander.pid]);
    } finally {
      for (const pid of [group, bystander.pid ?? 0]) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  });

  it("leaves other processes alone when the step was not interrupted", async () => {
    const orphan = spawn("/bin/sh", ["-c", "sleep 30"], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, LOCALAGENT_STEP_KEY: "run_1:sh" },
    });
    try {
      await waitFor(() => findLeftoverGroups("run_1:sh").length === 1);
      await expect(run({ command: "echo first" })).resolves.toBe("first");
      expect(findLeftoverGroups("run_1:sh")).toEqual([orphan.pid]);
    } finally {
      process.kill(-(orphan.pid ?? 0), "SIGKILL");
    }
  });
});

describe("shell step templates", () => {
  it("quotes every interpolated value, so data never becomes shell syntax", async () => {
    const hostile = "x'; touch pwned; echo '$(touch pwned2)`touch pwned3`";
    const output = await run({ command: "echo {{ inputs.name }} | cat" }, { scope: { inputs: { name: hostile } } });
    expect(output).toBe(hostile);
    for (const name of ["pwned", "pwned2", "pwned3"]) expect(existsSync(join(temp.dir, name))).toBe(false);
  });

  it("passes a trusted fragment through with | raw", async () => {
    const output = await run({ command: "echo {{ inputs.words | raw }}" }, { scope: { inputs: { words: "a   b" } } });
    expect(output).toBe("a b");
  });
});
