import { readFileSync } from "node:fs";
import { Cron } from "croner";
import { z } from "zod";
import { parseDuration } from "../duration/index.js";
import { errorMessage } from "../errors/index.js";
import { checkCondition, checkTemplate, isTemplate } from "../expression/index.js";
import { EventTriggerParser } from "./event-triggers.js";
import { baseStepShape, retrySchema, workflowObjectSchema } from "./schema.js";
import type {
  EventTriggerDefinition,
  FailurePolicy,
  InputDefinition,
  RetryPolicy,
  StepDefinition,
  TriggerDefinition,
  WorkflowDefinition,
  WorkflowIssue,
} from "./types.js";
import { YamlSource, type PathSegment } from "./yaml-source.js";

/** What the loader needs to know about step types; the engine's registry provides it. */
export interface StepTypeCatalog {
  types(): string[];
  /** zod shape of the type-specific fields, or undefined for an unknown type. */
  shapeOf(type: string): z.ZodRawShape | undefined;
  /** The field that holds nested steps (foreach), if any. */
  subStepsFieldOf(type: string): string | undefined;
}

export interface LoadResult {
  workflows: WorkflowDefinition[];
  issues: WorkflowIssue[];
}

const STEP_BASE_FIELDS = new Set([
  "name",
  "type",
  "description",
  "condition",
  "timeout",
  "retry",
  "on_failure",
  "env",
  "needs",
  "cache_key",
  "cache_mode",
  "network",
]);

/** Loads one workflow file from disk. Never throws: problems come back as issues. */
export function loadWorkflowFile(file: string, catalog: StepTypeCatalog): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { workflows: [], issues: [{ file, line: 1, column: 1, message: `cannot read file: ${errorMessage(error)}` }] };
  }
  return loadWorkflowText(file, text, catalog);
}

/** Parses and validates workflow YAML in either seed format (A: `workflow:`; B: a list) or a bare workflow object. */
export function loadWorkflowText(file: string, text: string, catalog: StepTypeCatalog): LoadResult {
  const source = new YamlSource(file, text);
  if (source.syntaxIssues.length > 0) return { workflows: [], issues: source.syntaxIssues };
  const data = source.toJS();
  const issues: WorkflowIssue[] = [];
  const candidates: Array<{ value: unknown; path: PathSegment[] }> = [];
  if (Array.isArray(data)) data.forEach((value, index) => candidates.push({ value, path: [index] }));
  else if (isRecord(data) && "workflow" in data) {
    const extra = Object.keys(data).filter((key) => key !== "workflow");
    for (const key of extra) issues.push(source.issue([], `unknown field "${key}" beside "workflow"`, key));
    candidates.push({ value: data.workflow, path: ["workflow"] });
  } else if (isRecord(data)) candidates.push({ value: data, path: [] });
  else if (data === null || data === undefined) issues.push({ file, line: 1, column: 1, message: "file is empty: expected a workflow" });
  else issues.push(source.issue([], "expected a workflow (a mapping with name and steps) or a list of workflows"));

  const workflows: WorkflowDefinition[] = [];
  const names = new Map<string, PathSegment[]>();
  for (const candidate of candidates) {
    const workflow = new WorkflowBuilder(source, catalog, issues).build(candidate.value, candidate.path);
    if (!workflow) continue;
    if (names.has(workflow.name)) {
      issues.push(source.issue([...candidate.path, "name"], `duplicate workflow name "${workflow.name}" in this file`));
      continue;
    }
    names.set(workflow.name, candidate.path);
    workflows.push(workflow);
  }
  // A file with any problem loads nothing: half a workflow is worse than none.
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  return { workflows: issues.length > 0 ? [] : workflows, issues };
}

class WorkflowBuilder {
  constructor(
    private readonly source: YamlSource,
    private readonly catalog: StepTypeCatalog,
    private readonly issues: WorkflowIssue[],
  ) {}

  build(value: unknown, path: PathSegment[]): WorkflowDefinition | undefined {
    if (!isRecord(value)) {
      this.issues.push(this.source.issue(path, "expected a workflow mapping"));
      return undefined;
    }
    const parsed = workflowObjectSchema.safeParse(value);
    if (!parsed.success) {
      this.reportZod(parsed.error, path);
      // The steps are still checked, so one pass lists every problem of the file.
      for (const key of ["steps", "tasks", "actions"] as const) {
        const list = value[key];
        if (Array.isArray(list)) this.steps(list, [...path, key]);
      }
      return undefined;
    }
    const raw = parsed.data;
    const stepLists = (["steps", "tasks", "actions"] as const).filter((key) => raw[key] !== undefined);
    if (stepLists.length === 0) {
      this.issues.push(this.source.issue(path, `workflow "${raw.name}" has no steps (use steps:, tasks: or actions:)`));
      return undefined;
    }
    if (stepLists.length > 1) {
      this.issues.push(this.source.issue(path, `use only one of ${stepLists.join(", ")}`, stepLists[1]));
      return undefined;
    }
    const listKey = stepLists[0] ?? "steps";
    const triggers = this.triggers(raw, path);
    const steps = this.steps(raw[listKey] ?? [], [...path, listKey]);
    const position = this.source.position(path);
    const definition: WorkflowDefinition = {
      name: raw.name,
      file: this.source.file,
      position: { file: this.source.file, ...position },
      triggers,
      inputs: this.inputs(raw.inputs),
      env: stringRecord(raw.env),
      steps,
      priority: raw.priority ?? 0,
      misfire: raw.misfire ?? "once",
      enabled: raw.enabled ?? true,
    };
    if (raw.description !== undefined) definition.description = raw.description;
    if (raw.timezone !== undefined) definition.timezone = raw.timezone;
    if (raw.concurrency !== undefined) definition.concurrency = raw.concurrency;
    if (raw.overlap !== undefined) definition.overlap = raw.overlap;
    if (raw.timeout !== undefined) definition.timeoutMs = this.duration(raw.timeout, [...path, "timeout"]);
    return definition;
  }

  private triggers(raw: z.infer<typeof workflowObjectSchema>, path: PathSegment[]): TriggerDefinition[] {
    const triggers: TriggerDefinition[] = [];
    if (raw.timezone !== undefined && !isTimeZone(raw.timezone)) {
      this.issues.push(
        this.source.issue([...path, "timezone"], `unknown time zone "${raw.timezone}" (use an IANA name such as Europe/Berlin)`),
      );
    }
    const events = new EventTriggerParser(this.source, this.issues);
    const eventTrigger = (trigger: EventTriggerDefinition | undefined): void => {
      if (trigger) triggers.push(trigger);
    };
    const cron = (expression: string, at: PathSegment[]): void => {
      const problem = cronProblem(expression, raw.timezone);
      if (problem) this.issues.push(this.source.issue(at, `invalid cron expression "${expression}": ${problem}`));
      else triggers.push(raw.timezone ? { kind: "cron", expression, timezone: raw.timezone } : { kind: "cron", expression });
    };
    if (raw.schedule !== undefined) cron(raw.schedule.trim(), [...path, "schedule"]);
    if (raw.every !== undefined) triggers.push({ kind: "every", intervalMs: this.duration(raw.every, [...path, "every"]) });
    if (raw.trigger !== undefined) {
      const text = raw.trigger.trim();
      const at = [...path, "trigger"];
      const match = /^(cron|every|event|on)[\s:]+(.+)$/i.exec(text);
      if (text === "manual") triggers.push({ kind: "manual" });
      else if (match?.[1]?.toLowerCase() === "cron") cron((match[2] ?? "").trim(), at);
      else if (match?.[1]?.toLowerCase() === "every")
        triggers.push({ kind: "every", intervalMs: this.duration((match[2] ?? "").trim(), at) });
      else if (match) eventTrigger(events.text(match[2] ?? "", at));
      else if (/^(file|chat):/i.test(text)) eventTrigger(events.text(text, at));
      else if (text.split(/\s+/).length >= 5) cron(text, at);
      else
        this.issues.push(
          this.source.issue(
            at,
            `unknown trigger "${text}" (use "cron <expr>", "every 30s", "event:<name>", "file:<glob>", "chat:/<cmd>" or "manual")`,
          ),
        );
    }
    const on = raw.on === undefined ? [] : Array.isArray(raw.on) ? raw.on : [raw.on];
    on.forEach((entry, index) => eventTrigger(events.entry(entry, [...path, "on", ...(Array.isArray(raw.on) ? [index] : [])])));
    return triggers;
  }

  private inputs(
    raw: Record<string, { type?: InputDefinition["type"]; required?: boolean; default?: unknown; description?: string }> | undefined,
  ): Record<string, InputDefinition> {
    const inputs: Record<string, InputDefinition> = {};
    for (const [name, spec] of Object.entries(raw ?? {})) {
      const input: InputDefinition = { type: spec.type ?? "any", required: spec.required ?? false };
      if (spec.default !== undefined) input.default = spec.default;
      if (spec.description !== undefined) input.description = spec.description;
      inputs[name] = input;
    }
    return inputs;
  }

  private steps(list: unknown[], path: PathSegment[]): StepDefinition[] {
    const steps: StepDefinition[] = [];
    const paths = new Map<string, PathSegment[]>();
    list.forEach((value, index) => {
      const step = this.step(value, [...path, index], index);
      if (!step) return;
      if (paths.has(step.name)) {
        this.issues.push(this.source.issue([...path, index, "name"], `duplicate step name "${step.name}"`));
        return;
      }
      paths.set(step.name, [...path, index]);
      steps.push(step);
    });
    this.checkReferences(steps, path, paths);
    return steps;
  }

  private step(value: unknown, path: PathSegment[], index: number): StepDefinition | undefined {
    if (!isRecord(value)) {
      this.issues.push(this.source.issue(path, "expected a step mapping with a type"));
      return undefined;
    }
    const type = value.type;
    if (typeof type !== "string") {
      this.issues.push(this.source.issue(path, `step has no "type" (one of: ${this.catalog.types().join(", ")})`));
      return undefined;
    }
    const shape = this.catalog.shapeOf(type);
    if (!shape) {
      this.issues.push(this.source.issue([...path, "type"], `unknown step type "${type}" (known: ${this.catalog.types().join(", ")})`));
      return undefined;
    }
    const subField = this.catalog.subStepsFieldOf(type);
    const schema = z.object({ ...baseStepShape, ...shape }).strict();
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      this.reportZod(parsed.error, path);
      return undefined;
    }
    const raw = value;
    const name = typeof raw.name === "string" ? raw.name : `${type}_${index + 1}`;
    const config: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(raw)) if (!STEP_BASE_FIELDS.has(key) && key !== subField) config[key] = field;
    this.checkTemplates(config, path);
    // Step env values are rendered like the config, so they are checked the same way.
    this.checkTemplates(raw.env, [...path, "env"]);
    const step: StepDefinition = {
      name,
      type,
      onFailure: failurePolicy(raw.on_failure),
      env: stringRecord(raw.env as Record<string, unknown> | undefined),
      needs: raw.needs === undefined ? [] : Array.isArray(raw.needs) ? raw.needs.map(String) : [String(raw.needs)],
      ...(raw.needs === undefined ? {} : { needsGiven: true }),
      cacheMode: raw.cache_mode === "value" ? "value" : "delta",
      config,
      position: { file: this.source.file, ...this.source.position(path) },
    };
    if (raw.condition !== undefined) {
      const condition = String(raw.condition);
      try {
        checkCondition(condition);
        step.condition = condition;
      } catch (error) {
        this.issues.push(this.source.issue([...path, "condition"], `bad template: ${errorMessage(error)}`));
      }
    }
    if (raw.timeout !== undefined) step.timeoutMs = this.duration(raw.timeout as string | number, [...path, "timeout"]);
    if (raw.retry !== undefined) step.retry = this.retry(raw.retry, [...path, "retry"]);
    if (typeof raw.cache_key === "string") step.cacheKey = raw.cache_key;
    if (raw.network !== undefined) step.network = raw.network as boolean | string[];
    if (subField) step.steps = this.steps(Array.isArray(raw[subField]) ? (raw[subField] as unknown[]) : [], [...path, subField]);
    return step;
  }

  private checkReferences(steps: StepDefinition[], path: PathSegment[], paths: Map<string, PathSegment[]>): void {
    const byName = new Map(steps.map((step) => [step.name, step]));
    // on_failure handlers leave the normal flow (they run only after a failure), so nothing can wait for them.
    const handlers = new Set(steps.flatMap((step) => (step.onFailure.kind === "step" ? [step.onFailure.step] : [])));
    for (const step of steps) {
      const stepPath = paths.get(step.name) ?? path;
      for (const need of step.needs) {
        if (!byName.has(need))
          this.issues.push(this.source.issue([...stepPath, "needs"], `step "${step.name}" needs unknown step "${need}"`));
        else if (handlers.has(need))
          this.issues.push(
            this.source.issue(
              [...stepPath, "needs"],
              `step "${step.name}" needs "${need}", which is an on_failure handler and only runs after a failure`,
            ),
          );
      }
      if (step.onFailure.kind === "step" && !byName.has(step.onFailure.step)) {
        this.issues.push(
          this.source.issue([...stepPath, "on_failure"], `on_failure names unknown step "${step.onFailure.step}" (or use stop / continue)`),
        );
      }
    }
    const cycle = findCycle(steps);
    if (cycle) this.issues.push(this.source.issue(path, `steps form a cycle through needs: ${cycle.join(" -> ")}`));
  }

  private checkTemplates(value: unknown, path: PathSegment[]): void {
    if (typeof value === "string") {
      if (!isTemplate(value)) return;
      try {
        checkTemplate(value);
      } catch (error) {
        this.issues.push(this.source.issue(path, `bad template: ${errorMessage(error)}`));
      }
    } else if (Array.isArray(value)) value.forEach((item, index) => this.checkTemplates(item, [...path, index]));
    else if (isRecord(value)) for (const [key, item] of Object.entries(value)) this.checkTemplates(item, [...path, key]);
  }

  private retry(value: unknown, path: PathSegment[]): RetryPolicy {
    const parsed = retrySchema.parse(value);
    if (typeof parsed === "number") return { count: parsed, backoffMs: 1000, factor: 2, maxBackoffMs: 300_000 };
    return {
      count: parsed.count,
      backoffMs: parsed.backoff === undefined ? 1000 : this.duration(parsed.backoff, [...path, "backoff"]),
      factor: parsed.factor ?? 2,
      maxBackoffMs: parsed.max_backoff === undefined ? 300_000 : this.duration(parsed.max_backoff, [...path, "max_backoff"]),
    };
  }

  private duration(value: string | number, path: PathSegment[]): number {
    try {
      return parseDuration(value);
    } catch (error) {
      this.issues.push(this.source.issue(path, errorMessage(error)));
      return 0;
    }
  }

  private reportZod(error: z.ZodError, base: PathSegment[]): void {
    this.reportZodIssues(error.issues, base);
  }

  private reportZodIssues(issues: readonly z.core.$ZodIssue[], base: PathSegment[]): void {
    for (const issue of issues) {
      const path = [...base, ...issue.path.map((segment) => (typeof segment === "number" ? segment : String(segment)))];
      const field = describePath(path);
      if (issue.code === "invalid_union") this.reportUnion(issue, path);
      else if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys)
          this.issues.push(this.source.issue(path, `unknown field "${key}"${field ? ` in ${field}` : ""}`, key));
      } else if (issue.code === "invalid_type" && getIn(this.source.toJS(), path) === undefined) {
        const name = path[path.length - 1];
        this.issues.push(
          this.source.issue(
            path.slice(0, -1),
            `missing required field "${String(name)}" in ${describePath(path.slice(0, -1)) || "workflow"}`,
          ),
        );
      } else {
        this.issues.push(this.source.issue(path, `${field || "workflow"}: ${issue.message}`));
      }
    }
  }

  /** zod says only "Invalid input" for a union: the branch that got furthest explains the mistake, else the accepted types do. */
  private reportUnion(issue: z.core.$ZodIssueInvalidUnion, path: PathSegment[]): void {
    let best: z.core.$ZodIssue[] | undefined;
    let bestDepth = 0;
    for (const branch of issue.errors) {
      const depth = issuesDepth(branch);
      if (depth > bestDepth) [best, bestDepth] = [branch, depth];
    }
    if (best) return this.reportZodIssues(best, path);
    const expected = [...new Set(expectedTypes(issue))];
    const message = expected.length > 0 ? `expected ${expected.join(" or ")}` : issue.message;
    this.issues.push(this.source.issue(path, `${describePath(path) || "workflow"}: ${message}`));
  }
}

/** How far into the value a list of zod issues got (a nested union counts its furthest branch). */
function issuesDepth(issues: readonly z.core.$ZodIssue[]): number {
  return Math.max(
    0,
    ...issues.map((item) => item.path.length + (item.code === "invalid_union" ? Math.max(0, ...item.errors.map(issuesDepth)) : 0)),
  );
}

/** The types a union (and the unions nested in it at the same spot) would have accepted. */
function expectedTypes(issue: z.core.$ZodIssueInvalidUnion): string[] {
  return issue.errors
    .flat()
    .flatMap((item) =>
      item.code === "invalid_type" ? [item.expected] : item.code === "invalid_union" && item.path.length === 0 ? expectedTypes(item) : [],
    );
}

function failurePolicy(value: unknown): FailurePolicy {
  if (value === undefined || value === "stop") return { kind: "stop" };
  if (value === "continue") return { kind: "continue" };
  return { kind: "step", step: String(value) };
}

function findCycle(steps: StepDefinition[]): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const byName = new Map(steps.map((step) => [step.name, step]));
  const visit = (name: string, trail: string[]): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") return [...trail.slice(trail.indexOf(name)), name];
    state.set(name, "visiting");
    for (const need of byName.get(name)?.needs ?? []) {
      const cycle = visit(need, [...trail, name]);
      if (cycle) return cycle;
    }
    state.set(name, "done");
    return undefined;
  };
  for (const step of steps) {
    const cycle = visit(step.name, []);
    if (cycle) return cycle;
  }
  return undefined;
}

function cronProblem(expression: string, timezone: string | undefined): string | undefined {
  try {
    const job = new Cron(expression, { paused: true, ...(timezone && isTimeZone(timezone) ? { timezone } : {}) });
    job.stop();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function describePath(path: PathSegment[]): string {
  return path.map((segment, index) => (typeof segment === "number" ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join("");
}

function stringRecord(value: Record<string, unknown> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value ?? {})) result[key] = String(item);
  return result;
}

function getIn(value: unknown, path: PathSegment[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
