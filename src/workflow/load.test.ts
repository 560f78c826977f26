import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createDefaultRegistry } from "../steps/index.js";
import { ROOT } from "../../test/helpers/index.js";
import { formatIssue, loadWorkflowFile, loadWorkflowText, type LoadResult } from "./index.js";

const catalog = createDefaultRegistry();
const examples = join(ROOT, "examples", "workflows");

function load(lines: string[]): LoadResult {
  return loadWorkflowText("wf.yaml", lines.join("\n") + "\n", catalog);
}

/** The formatted issues of a file that must not load. */
function issues(lines: string[]): string[] {
  const result = load(lines);
  expect(result.workflows).toEqual([]);
  return result.issues.map(formatIssue);
}

/** A format-A workflow around the given step lines (each already indented by 4). */
function withSteps(stepLines: string[], header: string[] = []): string[] {
  return ["workflow:", "  name: wf", ...header, "  tasks:", ...stepLines];
}

describe("workflow loader: the seed formats", () => {
  it("loads format A (workflow: name, schedule, tasks) unchanged", () => {
    const { workflows, issues: problems } = loadWorkflowFile(join(examples, "daily_backup.yaml"), catalog);
    expect(problems).toEqual([]);
    expect(workflows).toHaveLength(1);
    const [workflow] = workflows;
    expect(workflow?.name).toBe("daily_backup");
    expect(workflow?.triggers).toEqual([{ kind: "cron", expression: "0 3 * * *" }]);
    expect(workflow?.position).toEqual({ file: join(examples, "daily_backup.yaml"), line: 3, column: 3 });
    expect(workflow?.steps.map((step) => [step.name, step.type])).toEqual([
      ["database_dump", "shell"],
      ["model_update", "ai"],
    ]);
    expect(workflow?.steps[0]?.config).toEqual({ command: "pg_dump -U user dbname > /backups/db_$(date +%F).sql" });
    expect(workflow?.steps[1]?.config).toEqual({ model: "code_gen", prompt: "检查备份脚本是否存在安全隐患,提出改进建议" });
    expect(workflow?.steps[1]?.position).toMatchObject({ line: 9, column: 7 });
    expect(workflow).toMatchObject({ priority: 0, misfire: "once", enabled: true, env: {}, inputs: {} });
  });

  it('loads format B (a list of {name, trigger: "cron …", actions}) unchanged', () => {
    const { workflows, issues: problems } = loadWorkflowFile(join(examples, "log_monitor.yaml"), catalog);
    expect(problems).toEqual([]);
    const [workflow] = workflows;
    expect(workflow?.name).toBe("log_monitor");
    expect(workflow?.triggers).toEqual([{ kind: "cron", expression: "* * * * *" }]);
    const [shell, notification] = workflow?.steps ?? [];
    expect(shell).toMatchObject({ name: "shell_1", type: "shell", cacheKey: "last_error_timestamp", cacheMode: "delta", needs: [] });
    expect(shell?.config).toEqual({ command: "tail -n 100 /var/log/app.log | grep -i error" });
    expect(notification).toMatchObject({ name: "notification_2", condition: "{{ output.length > 0 }}", onFailure: { kind: "stop" } });
    expect(notification?.config).toEqual({ platform: "telegram", message: "发现错误日志:\n{{ output }}" });
  });

  it("loads every example file", () => {
    for (const file of ["disk_report.yaml", "echo_webhook.yaml"]) {
      const result = loadWorkflowFile(join(examples, file), catalog);
      expect(result.issues, file).toEqual([]);
      expect(result.workflows, file).toHaveLength(1);
    }
  });

  it("resolves triggers, retry, needs, on_failure, inputs and nested foreach steps", () => {
    const { workflows, issues: problems } = load([
      "name: bare",
      "trigger: every 30s",
      "on: [event:deploy, network.online]",
      "timezone: Europe/Berlin",
      "schedule: '0 3 * * *'",
      "inputs:",
      "  who: { type: string, required: true, default: ada }",
      "steps:",
      "  - name: a",
      "    type: shell",
      "    command: ls",
      "    retry: { count: 2, backoff: 10ms, factor: 3, max_backoff: 1s }",
      "    on_failure: cleanup",
      "    timeout: 1m",
      "  - name: b",
      "    type: foreach",
      "    items: [1, 2]",
      "    needs: a",
      "    steps:",
      "      - { name: inner, type: set, value: '{{ item }}' }",
      "  - { name: cleanup, type: shell, command: 'echo {{ error.message }}', retry: 3 }",
    ]);
    expect(problems).toEqual([]);
    const workflow = workflows[0]!;
    expect(workflow.triggers).toEqual([
      { kind: "cron", expression: "0 3 * * *", timezone: "Europe/Berlin" },
      { kind: "every", intervalMs: 30_000 },
      { kind: "event", name: "deploy" },
      { kind: "event", name: "network.online" },
    ]);
    expect(workflow.inputs).toEqual({ who: { type: "string", required: true, default: "ada" } });
    const [a, b, cleanup] = workflow.steps;
    expect(a).toMatchObject({ timeoutMs: 60_000, onFailure: { kind: "step", step: "cleanup" } });
    expect(a?.retry).toEqual({ count: 2, backoffMs: 10, factor: 3, maxBackoffMs: 1000 });
    expect(cleanup?.retry).toEqual({ count: 3, backoffMs: 1000, factor: 2, maxBackoffMs: 300_000 });
    expect(b?.needs).toEqual(["a"]);
    expect(b?.config).toEqual({ items: [1, 2] });
    expect(b?.steps?.map((step) => step.name)).toEqual(["inner"]);
  });
});

describe("workflow loader: issues name file, line and column", () => {
  it("reports YAML syntax errors where they are", () => {
    expect(issues(["workflow:", "  name: a", "  tasks: [1, 2"])).toEqual([
      "wf.yaml:4:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
    expect(issues(["workflow:", "  name: a", "\tb: 2"])).toEqual(["wf.yaml:3:1: YAML syntax: Tabs are not allowed as indentation"]);
    expect(issues(["workflow:", "  name: a", "  name: b"])).toEqual(["wf.yaml:3:3: YAML syntax: Map keys must be unique"]);
  });

  it("reports an unknown step type at the type's value", () => {
    expect(issues(withSteps(["    - name: x", "      type: shel", "      command: ls"]))).toEqual([
      'wf.yaml:5:13: unknown step type "shel" (known: ai, approval, foreach, http, notification, set, shell)',
    ]);
  });

  it("reports a step without a type at the step", () => {
    expect(issues(withSteps(["    - name: x", "      command: ls"]))).toEqual([
      'wf.yaml:4:7: step has no "type" (one of: ai, approval, foreach, http, notification, set, shell)',
    ]);
  });

  it("reports an unknown field at its key, in steps, nested steps and the workflow", () => {
    expect(issues(withSteps(["    - name: x", "      type: shell", "      command: ls", "      comand: ls"]))).toEqual([
      'wf.yaml:7:7: unknown field "comand" in workflow.tasks[0]',
    ]);
    expect(issues(withSteps(["    - type: shell", "      command: ls"], ['  shedule: "* * * * *"']))).toEqual([
      'wf.yaml:3:3: unknown field "shedule" in workflow',
    ]);
    const nested = [
      "    - type: foreach",
      "      items: [1]",
      "      steps:",
      "        - type: set",
      "          value: 1",
      "          bogus: 2",
    ];
    expect(issues(withSteps(nested))).toEqual(['wf.yaml:9:11: unknown field "bogus" in workflow.tasks[0].steps[0]']);
    expect(issues([...withSteps(["    - { type: shell, command: ls }"]), "extra: 1"])).toEqual([
      'wf.yaml:5:1: unknown field "extra" beside "workflow"',
    ]);
  });

  it("reports a missing required field at the mapping that lacks it", () => {
    expect(issues(withSteps(["    - name: x", "      type: shell"]))).toEqual([
      'wf.yaml:4:7: missing required field "command" in workflow.tasks[0]',
    ]);
    expect(issues(["workflow:", "  tasks:", "    - { type: shell, command: ls }"])).toEqual([
      'wf.yaml:2:3: missing required field "name" in workflow',
    ]);
    expect(issues(["workflow:", "  name: a"])).toEqual(['wf.yaml:2:3: workflow "a" has no steps (use steps:, tasks: or actions:)']);
  });

  it("reports bad templates in fields, nested values, env and conditions", () => {
    const prefix = 'bad template: invalid expression "output.": Unexpected end of expression: output. ';
    expect(issues(withSteps(["    - type: shell", '      command: "echo {{ output. }}"']))).toEqual([`wf.yaml:5:16: ${prefix}`]);
    expect(issues(withSteps(["    - type: shell", "      command: ls", '      condition: "{{ output. }}"']))).toEqual([
      `wf.yaml:6:18: ${prefix}`,
    ]);
    expect(issues(withSteps(["    - type: set", "      values:", "        ok: fine", '        bad: "x {{ output. }}"']))).toEqual([
      `wf.yaml:7:14: ${prefix}`,
    ]);
    expect(issues(withSteps(["    - type: shell", "      command: ls", "      env:", '        A: "{{ output. }}"']))).toEqual([
      `wf.yaml:7:12: ${prefix}`,
    ]);
    expect(issues(withSteps(["    - type: shell", '      command: "{{ output"']))).toEqual([
      'wf.yaml:5:16: bad template: unclosed "{{" in template "{{ output"',
    ]);
  });

  it("reports duplicate step and workflow names at the second name", () => {
    expect(
      issues(withSteps(["    - { name: x, type: shell, command: ls }", "    - name: x", "      type: shell", "      command: ls"])),
    ).toEqual(['wf.yaml:5:13: duplicate step name "x"']);
    const twice = ["- name: a", "  actions: [{ type: shell, command: ls }]", "- name: a", "  actions: [{ type: shell, command: ls }]"];
    expect(issues(twice)).toEqual(['wf.yaml:3:9: duplicate workflow name "a" in this file']);
  });

  it("reports bad cron expressions in schedule: and trigger:", () => {
    const message = 'invalid cron expression "61 * * * *": CronPattern: Invalid value for minute: 61';
    expect(issues(withSteps(["    - { type: shell, command: ls }"], ['  schedule: "61 * * * *"']))).toEqual([`wf.yaml:3:13: ${message}`]);
    expect(issues(["- name: a", '  trigger: "cron 61 * * * *"', "  actions: [{ type: shell, command: ls }]"])).toEqual([
      `wf.yaml:2:12: ${message}`,
    ]);
    expect(issues(withSteps(["    - { type: shell, command: ls }"], ["  trigger: sometimes"]))).toEqual([
      'wf.yaml:3:12: unknown trigger "sometimes" (use "cron <expr>", "every 30s", "event:<name>", "file:<glob>", "chat:/<cmd>" or "manual")',
    ]);
  });

  it("reports needs naming an unknown step, a needs cycle and an unknown on_failure step", () => {
    expect(issues(withSteps(["    - name: x", "      type: shell", "      command: ls", "      needs: [nope]"]))).toEqual([
      'wf.yaml:7:14: step "x" needs unknown step "nope"',
    ]);
    const cycle = ["    - { name: x, type: shell, command: ls, needs: z }", "    - { name: y, type: shell, command: ls, needs: x }"];
    const third = ["    - { name: z, type: shell, command: ls, needs: y }"];
    expect(issues(withSteps([...cycle, ...third]))).toEqual(["wf.yaml:4:5: steps form a cycle through needs: x -> z -> y -> x"]);
    expect(issues(withSteps(["    - { name: x, type: shell, command: ls, on_failure: cleanup }"]))).toEqual([
      'wf.yaml:4:56: on_failure names unknown step "cleanup" (or use stop / continue)',
    ]);
  });

  it("reports needs naming an on_failure handler, which would never run in the normal flow", () => {
    const steps = [
      "    - { name: a, type: shell, command: ls, on_failure: cleanup }",
      "    - { name: b, type: shell, command: ls, needs: cleanup }",
      "    - { name: cleanup, type: shell, command: ls }",
    ];
    expect(issues(withSteps(steps))).toEqual([
      'wf.yaml:5:51: step "b" needs "cleanup", which is an on_failure handler and only runs after a failure',
    ]);
  });

  it("reports bad durations in timeout, retry and every", () => {
    const example = "is not a duration (examples: 500ms, 30s, 5m, 1h30m)";
    expect(issues(withSteps(["    - type: shell", "      command: ls", "      timeout: 5 parsecs"]))).toEqual([
      `wf.yaml:6:16: "5 parsecs" ${example}`,
    ]);
    expect(issues(withSteps(["    - type: shell", "      command: ls", "      retry: { count: 2, backoff: soon }"]))).toEqual([
      `wf.yaml:6:35: "soon" ${example}`,
    ]);
    expect(issues(withSteps(["    - { type: shell, command: ls }"], ["  every: fortnight"]))).toEqual([
      `wf.yaml:3:10: "fortnight" ${example}`,
    ]);
  });

  it("reports wrong types at the value", () => {
    expect(issues(withSteps(["    - type: shell", "      command: 42", '      max_output: "big"']))).toEqual([
      "wf.yaml:5:16: workflow.tasks[0].command: Invalid input: expected string, received number",
      "wf.yaml:6:19: workflow.tasks[0].max_output: Invalid input: expected number, received string",
    ]);
    expect(issues(["workflow:", "  name: a", "  tasks: ls"])).toEqual([
      "wf.yaml:3:10: workflow.tasks: Invalid input: expected array, received string",
    ]);
    expect(issues(withSteps(["    - { type: shell, command: ls }"], ["  inputs:", "    x: { type: strin }"]))).toEqual([
      'wf.yaml:4:16: workflow.inputs.x.type: Invalid option: expected one of "string"|"number"|"boolean"|"object"|"array"|"any"',
    ]);
    expect(issues(["workflow:", '  name: "a b"', "  tasks: [{ type: shell, command: ls }]"])).toEqual([
      "wf.yaml:2:9: workflow.name: use letters, digits, _ . -",
    ]);
  });

  it("reports an unknown time zone", () => {
    expect(issues(withSteps(["    - { type: shell, command: ls }"], ['  schedule: "0 3 * * *"', "  timezone: Mars/Olympus"]))).toEqual([
      'wf.yaml:4:13: unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Berlin)',
    ]);
  });

  it("loads no workflow from a file with any issue, and reports every issue", () => {
    const result = load([
      "- name: good",
      "  actions: [{ type: shell, command: ls }]",
      "- name: bad",
      "  actions:",
      "    - { type: shell, command: ls, timeout: forever }",
      "    - { type: nope }",
    ]);
    expect(result.workflows).toEqual([]);
    expect(result.issues.map(formatIssue)).toEqual([
      'wf.yaml:5:44: "forever" is not a duration (examples: 500ms, 30s, 5m, 1h30m)',
      'wf.yaml:6:15: unknown step type "nope" (known: ai, approval, foreach, http, notification, set, shell)',
    ]);
  });

  it("reports empty files, scalars and unreadable files at 1:1", () => {
    expect(issues([""])).toEqual(["wf.yaml:1:1: file is empty: expected a workflow"]);
    expect(issues(["hello"])).toEqual(["wf.yaml:1:1: expected a workflow (a mapping with name and steps) or a list of workflows"]);
    const missing = loadWorkflowFile("/nonexistent/wf.yaml", catalog);
    expect(missing.workflows).toEqual([]);
    expect(missing.issues[0]).toMatchObject({ file: "/nonexistent/wf.yaml", line: 1, column: 1 });
    expect(missing.issues[0]?.message).toMatch(/^cannot read file: .*ENOENT/);
  });
});
