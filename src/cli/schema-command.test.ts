import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../../test/helpers/index.js";
import { buildSchemas } from "./schema-command.js";

const schemaDir = join(ROOT, "schema");
const workflowsDir = join(ROOT, "examples", "workflows");

interface Validator {
  (data: unknown): boolean;
  errors?: unknown[] | null;
}
interface JsonSchemaValidator {
  compile(schema: unknown): Validator;
}

/**
 * ajv 8 is not a dependency of ours: it comes with fastify. Loaded by a computed specifier so the
 * type check does not depend on it; when it is missing the validation tests are skipped.
 */
async function loadAjv(): Promise<JsonSchemaValidator | undefined> {
  const ajvSpecifier = "ajv/dist/2020.js";
  const formatsSpecifier = "ajv-formats";
  try {
    const { default: Ajv2020 } = await import(ajvSpecifier);
    const { default: addFormats } = await import(formatsSpecifier);
    const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats(ajv);
    return ajv as JsonSchemaValidator;
  } catch {
    return undefined;
  }
}

const ajv = await loadAjv();

function committed(name: string): unknown {
  return JSON.parse(readFileSync(join(schemaDir, name), "utf8"));
}

describe("published JSON Schemas", () => {
  it("schema/*.json are exactly what buildSchemas() generates (regenerate with npm run schema)", () => {
    const generated = buildSchemas();
    expect(Object.keys(generated).sort()).toEqual(readdirSync(schemaDir).sort());
    for (const [name, schema] of Object.entries(generated)) {
      expect(readFileSync(join(schemaDir, name), "utf8"), name).toBe(`${JSON.stringify(schema, null, 2)}\n`);
    }
  });

  it("describes every step type of the default registry", () => {
    const schema = committed("workflow.schema.json") as { $defs: { step: { oneOf: Array<{ title: string }> } } };
    expect(schema.$defs.step.oneOf.map((variant) => variant.title)).toEqual([
      "ai step",
      "approval step",
      "foreach step",
      "http step",
      "notification step",
      "set step",
      "shell step",
    ]);
  });

  describe.skipIf(!ajv)("validated with ajv (draft 2020-12)", () => {
    // ajv refuses to compile two schemas with the same $id, so each is compiled once.
    let workflowValidator: Validator | undefined;
    const validateWorkflow = (): Validator => (workflowValidator ??= ajv!.compile(committed("workflow.schema.json")));

    it.each(readdirSync(workflowsDir).filter((file) => file.endsWith(".yaml")))("accepts examples/workflows/%s", (file) => {
      const validate = validateWorkflow();
      const data: unknown = parse(readFileSync(join(workflowsDir, file), "utf8"));
      expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    });

    it("accepts examples/config.yaml", () => {
      const validate = ajv!.compile(committed("config.schema.json"));
      const data: unknown = parse(readFileSync(join(ROOT, "examples", "config.yaml"), "utf8"));
      expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    });

    it("rejects what the loader rejects: unknown fields, unknown types, missing fields, wrong types", () => {
      const validate = validateWorkflow();
      const workflow = (tasks: unknown[], extra: Record<string, unknown> = {}): unknown => ({ workflow: { name: "w", tasks, ...extra } });
      expect(validate(workflow([{ type: "shell", command: "ls" }]))).toBe(true);
      expect(validate(workflow([{ type: "shell", comand: "ls" }]))).toBe(false);
      expect(validate(workflow([{ type: "nope" }]))).toBe(false);
      expect(validate(workflow([{ type: "shell" }]))).toBe(false);
      expect(validate(workflow([{ type: "shell", command: 42 }]))).toBe(false);
      expect(validate(workflow([{ type: "shell", command: "ls" }], { shedule: "* * * * *" }))).toBe(false);
      expect(validate([{ name: "b", trigger: "cron * * * * *", actions: [{ type: "set", value: 1 }] }])).toBe(true);
      expect(validate(workflow([{ type: "foreach", items: [1], steps: [{ type: "set", bogus: 1 }] }]))).toBe(false);
    });
  });
});
