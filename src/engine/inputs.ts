import { LocalAgentError } from "../errors/index.js";
import type { WorkflowDefinition } from "../workflow/index.js";

/** Applies defaults and checks required inputs and their types; unknown inputs pass through. */
export function resolveInputs(workflow: WorkflowDefinition, given: Record<string, unknown>): Record<string, unknown> {
  const inputs: Record<string, unknown> = { ...given };
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(workflow.inputs)) {
    if (inputs[name] === undefined && spec.default !== undefined) inputs[name] = spec.default;
    const value = inputs[name];
    if (value === undefined) {
      if (spec.required) problems.push(`input "${name}" is required`);
      continue;
    }
    const actual = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
    if (spec.type !== "any" && actual !== spec.type) problems.push(`input "${name}" must be ${spec.type}, got ${actual}`);
  }
  if (problems.length > 0) {
    throw new LocalAgentError("bad_request", `workflow "${workflow.name}": ${problems.join("; ")}`, { details: { problems } });
  }
  return inputs;
}
