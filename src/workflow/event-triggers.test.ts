import { homedir } from "node:os";
import { describe, expect, it } from "vitest";
import { createDefaultRegistry } from "../steps/index.js";
import { formatIssue, loadWorkflowText, validatePayload, type LoadResult, type WorkflowDefinition } from "./index.js";

const catalog = createDefaultRegistry();

function load(header: string[], file = "/etc/localagent/workflows/wf.yaml"): LoadResult {
  return loadWorkflowText(
    file,
    ["workflow:", "  name: wf", ...header, "  tasks:", "    - { type: set, value: 1 }", ""].join("\n"),
    catalog,
  );
}

function workflow(header: string[], file?: string): WorkflowDefinition {
  const result = load(header, file);
  expect(result.issues.map(formatIssue)).toEqual([]);
  return result.workflows[0]!;
}

function issues(header: string[]): string[] {
  const result = load(header);
  expect(result.workflows).toEqual([]);
  return result.issues.map((issue) => formatIssue(issue).replace("/etc/localagent/workflows/", ""));
}

const allEvents = ["add", "change", "unlink"];

describe("event triggers: the string forms", () => {
  it("keeps event:NAME, bare names, network, workflow.finished and daemon.start", () => {
    expect(workflow(["  on: [event:deploy, deploy2, network.online, 'workflow.finished:backup', daemon.start]"]).triggers).toEqual([
      { kind: "event", name: "deploy" },
      { kind: "event", name: "deploy2" },
      { kind: "event", name: "network.online" },
      { kind: "event", name: "workflow.finished:backup" },
      { kind: "event", name: "daemon.start" },
    ]);
  });

  it("reads file:GLOB, resolving a relative glob against the workflow file's folder and ~ against home", () => {
    expect(workflow(["  on: file:/var/log/*.log"]).triggers).toEqual([
      { kind: "event", name: "file:/var/log/*.log", file: { glob: "/var/log/*.log", events: allEvents, debounceMs: 200 } },
    ]);
    expect(workflow(["  on: 'event:file:inbox/**/*.csv'"]).triggers[0]).toMatchObject({
      name: "file:/etc/localagent/workflows/inbox/**/*.csv",
      file: { glob: "/etc/localagent/workflows/inbox/**/*.csv" },
    });
    expect(workflow(["  on: file:~/notes/*.md"]).triggers[0]).toMatchObject({ file: { glob: `${homedir()}/notes/*.md` } });
  });

  it("reads chat:/CMD (the slash is optional) and accepts file: and chat: in trigger:", () => {
    expect(workflow(["  on: [chat:/deploy, 'chat:status']"]).triggers).toEqual([
      { kind: "event", name: "chat:/deploy" },
      { kind: "event", name: "chat:/status" },
    ]);
    expect(workflow(["  trigger: chat:/deploy"]).triggers).toEqual([{ kind: "event", name: "chat:/deploy" }]);
    expect(workflow(["  trigger: file:/tmp/x"]).triggers[0]).toMatchObject({ name: "file:/tmp/x" });
    expect(workflow(["  trigger: event:file:/tmp/x"]).triggers[0]).toMatchObject({ name: "file:/tmp/x" });
  });
});

describe("event triggers: the object form", () => {
  it("carries a payload schema, file events and debounce", () => {
    const schema = { type: "object", required: ["version"], properties: { version: { type: "string" } } };
    const triggers = workflow([
      "  on:",
      "    - event: deploy",
      "      schema: { type: object, required: [version], properties: { version: { type: string } } }",
      "    - file: /srv/in/*.json",
      "      events: [add, change]",
      "      debounce: 1s",
      "    - chat: /restart",
      "      schema: { type: object }",
      "    - network.offline",
    ]).triggers;
    expect(triggers).toEqual([
      { kind: "event", name: "deploy", schema },
      { kind: "event", name: "file:/srv/in/*.json", file: { glob: "/srv/in/*.json", events: ["add", "change"], debounceMs: 1000 } },
      { kind: "event", name: "chat:/restart", schema: { type: "object" } },
      { kind: "event", name: "network.offline" },
    ]);
    const deploy = triggers[0] as { schema: Record<string, unknown> };
    expect(validatePayload(deploy.schema, { version: "1.2" })).toEqual([]);
    expect(validatePayload(deploy.schema, { version: 3 })).toEqual([
      expect.objectContaining({ instancePath: "/version", keyword: "type", message: "must be string" }),
    ]);
  });

  it("accepts a single object as on:", () => {
    expect(workflow(["  on: { event: 'file:/tmp/*.txt', events: [unlink] }"]).triggers).toEqual([
      { kind: "event", name: "file:/tmp/*.txt", file: { glob: "/tmp/*.txt", events: ["unlink"], debounceMs: 200 } },
    ]);
  });

  it("reports invalid payload schemas at the offending spot", () => {
    expect(issues(["  on:", "    - event: deploy", "      schema:", "        type: objekt"])).toEqual([
      "wf.yaml:6:15: invalid payload schema at type: must be equal to one of the allowed values (array, boolean, integer, null, number, object, string)",
    ]);
    expect(issues(["  on:", "    - event: deploy", "      schema: { properties: { v: { minLength: -1 } } }"])).toEqual([
      "wf.yaml:5:47: invalid payload schema at properties.v.minLength: must be >= 0",
    ]);
    expect(issues(["  on:", "    - event: deploy", "      schema: { type: object, requird: [v] }"])).toEqual([
      'wf.yaml:5:15: invalid payload schema: strict mode: unknown keyword: "requird"',
    ]);
    expect(issues(["  on:", "    - event: deploy", "      schema: { $ref: 'https://example.com/s.json' }"])).toEqual([
      expect.stringMatching(/^wf\.yaml:5:15: invalid payload schema: can't resolve reference https:\/\/example\.com\/s\.json/),
    ]);
    expect(issues(["  on: [{ event: deploy, schema: 3 }]"])).toEqual([
      "wf.yaml:3:33: workflow.on[0].schema: Invalid input: expected record, received number",
    ]);
  });

  it("reports entries that are not one trigger, options that do not apply, bad values and unknown fields", () => {
    expect(issues(["  on: [{ schema: { type: object } }]"])).toEqual(["wf.yaml:3:8: give one of event:, file: or chat:"]);
    expect(issues(["  on: [{ event: a, chat: /b }]"])).toEqual([
      "wf.yaml:3:20: give only one of event:, file: or chat: (found event, chat)",
    ]);
    expect(issues(["  on: [{ event: deploy, debounce: 1s }]"])).toEqual(["wf.yaml:3:25: debounce: applies to file triggers only"]);
    expect(issues(["  on: [{ file: /tmp/x, debounce: soon }]"])).toEqual([
      'wf.yaml:3:34: "soon" is not a duration (examples: 500ms, 30s, 5m, 1h30m)',
    ]);
    expect(issues(["  on: [{ file: /tmp/x, events: [moved] }]"])).toEqual([
      'wf.yaml:3:33: workflow.on[0].events[0]: Invalid option: expected one of "add"|"change"|"unlink"',
    ]);
    expect(issues(["  on: [{ evnt: deploy }]"])).toEqual(['wf.yaml:3:10: unknown field "evnt" in workflow.on[0]']);
    expect(issues(["  on: [chat:/two words]"])).toEqual(['wf.yaml:3:8: chat command "/two words" must be one word such as /deploy']);
    expect(issues(["  on: ['file:']"])).toEqual(["wf.yaml:3:8: file trigger without a path: write file:/var/log/*.log"]);
    expect(issues(["  on: 5"])).toEqual(["wf.yaml:3:7: workflow.on: expected string or object or array"]);
    expect(issues(["  on: ['event:']"])).toEqual(["wf.yaml:3:8: empty event name"]);
  });
});

describe("overlap", () => {
  it("is absent by default and takes queue, skip or replace", () => {
    expect(workflow([]).overlap).toBeUndefined();
    expect(workflow(["  concurrency: 1", "  overlap: skip"])).toMatchObject({ concurrency: 1, overlap: "skip" });
    expect(workflow(["  overlap: replace"]).overlap).toBe("replace");
    expect(issues(["  overlap: drop"])).toEqual([
      'wf.yaml:3:12: workflow.overlap: Invalid option: expected one of "queue"|"skip"|"replace"',
    ]);
  });
});
