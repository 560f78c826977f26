import { createRequire } from "node:module";
import type { Ajv, ValidateFunction } from "ajv/dist/ajv.js";
import type { ToolDefinition } from "../models/types.js";

let instance: Ajv | undefined;
const compiled = new WeakMap<Record<string, unknown>, ValidateFunction | string>();

/**
 * ajv, loaded on first use (it costs memory a daemon without tools need not pay). Lenient about
 * unknown keywords and formats: MCP servers write their schemas for many validators.
 */
function ajvInstance(): Ajv {
  if (instance) return instance;
  const require = createRequire(import.meta.url);
  const { Ajv: Constructor } = require("ajv/dist/ajv.js") as typeof import("ajv/dist/ajv.js");
  instance = new Constructor({ allErrors: true, strict: false, validateFormats: false, logger: false });
  return instance;
}

/** The problems of a call's arguments against the tool's JSON Schema, as one line; undefined when they are valid. */
export function validateToolArguments(definition: ToolDefinition, args: unknown): string | undefined {
  if (args === null || typeof args !== "object" || Array.isArray(args)) return "the arguments must be a JSON object";
  let validate: ValidateFunction | string | undefined = compiled.get(definition.parameters);
  if (validate === undefined) {
    try {
      validate = ajvInstance().compile(withoutDialect(definition.parameters));
    } catch (error) {
      validate = `the tool's own schema does not compile (${(error as Error).message})`;
    }
    compiled.set(definition.parameters, validate);
  }
  // A tool whose schema ajv cannot read is still callable: the tool checks what it gets.
  if (typeof validate === "string") return undefined;
  if (validate(args)) return undefined;
  return (validate.errors ?? [])
    .map((error) => {
      const where = error.instancePath === "" ? "arguments" : `arguments${error.instancePath.replace(/\//g, ".")}`;
      const extra = error.keyword === "additionalProperties" ? ` (${String(error.params.additionalProperty)})` : "";
      return `${where} ${error.message ?? "invalid"}${extra}`;
    })
    .join("; ");
}

/** `$schema` naming draft 2020-12 makes the draft-07 ajv refuse the schema; the keywords used by tools are the same. */
function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  if (!("$schema" in schema)) return schema;
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}
