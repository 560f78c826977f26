import { z } from "zod";
import type { StepTypeCatalog } from "./load.js";
import { baseStepShape, workflowObjectSchema } from "./schema.js";

type JsonObject = Record<string, unknown>;

/**
 * Builds the JSON Schema of workflow files from the same zod schemas the loader uses,
 * so the editor's view (yaml-language-server) and the daemon's can never disagree.
 */
export function buildWorkflowJsonSchema(catalog: StepTypeCatalog): JsonObject {
  const stepVariants = catalog.types().map((type) => {
    const shape = { ...baseStepShape, type: z.literal(type), ...(catalog.shapeOf(type) ?? {}) };
    const schema = toJson(z.object(shape).strict());
    const subField = catalog.subStepsFieldOf(type);
    const properties = schema.properties as JsonObject | undefined;
    if (subField && properties) properties[subField] = { type: "array", items: { $ref: "#/$defs/step" } };
    return { ...schema, title: `${type} step` };
  });
  const workflow = toJson(workflowObjectSchema);
  const properties = workflow.properties as JsonObject;
  for (const key of ["steps", "tasks", "actions"]) properties[key] = { type: "array", items: { $ref: "#/$defs/step" } };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://localagent.dev/schema/workflow.schema.json",
    title: "LocalAgent workflow file",
    description: "A workflow (format A: `workflow:`), a list of workflows (format B), or a bare workflow mapping.",
    anyOf: [
      { type: "object", properties: { workflow: { $ref: "#/$defs/workflow" } }, required: ["workflow"], additionalProperties: false },
      { type: "array", items: { $ref: "#/$defs/workflow" } },
      { $ref: "#/$defs/workflow" },
    ],
    $defs: { workflow, step: { oneOf: stepVariants } },
  };
}

function toJson(schema: z.ZodType): JsonObject {
  const json = z.toJSONSchema(schema, { unrepresentable: "any", io: "input" }) as JsonObject;
  delete json.$schema;
  return json;
}
