import { createRequire } from "node:module";
import type { Ajv2020, ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { errorMessage } from "../errors/index.js";

/** A JSON Schema (draft 2020-12) that an event's payload must satisfy, as written in the workflow. */
export type PayloadSchema = Record<string, unknown>;

/** One reason a payload was refused: ajv's error object, as the HTTP API returns it. */
export interface PayloadError {
  /** JSON Pointer into the payload (`/version`), empty for the payload itself. */
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message: string;
}

/** A problem in a schema itself, at a JSON Pointer into the schema. */
export interface SchemaProblem {
  /** Path segments into the schema (empty: the schema as a whole). */
  path: Array<string | number>;
  message: string;
}

let instance: Ajv2020 | undefined;

/**
 * ajv, loaded on first use: most daemons have no payload schema, and ajv costs ~9 MB of memory
 * (the idle footprint target is 80 MB). `strictSchema` makes a misspelt keyword (`requird:`) a
 * load-time error instead of a schema that silently accepts everything; the type checks stay
 * lenient for hand-written YAML.
 */
function ajvInstance(): Ajv2020 {
  if (instance) return instance;
  const require = createRequire(import.meta.url);
  const { Ajv2020: Constructor } = require("ajv/dist/2020.js") as typeof import("ajv/dist/2020.js");
  const addFormats = require("ajv-formats") as typeof import("ajv-formats").default;
  instance = new Constructor({
    allErrors: true,
    strictSchema: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    logger: false,
  });
  addFormats(instance);
  return instance;
}

const compiled = new WeakMap<PayloadSchema, ValidateFunction>();

/** The problems of a schema (empty when it compiles): meta-schema violations carry their path. */
export function checkPayloadSchema(schema: PayloadSchema): SchemaProblem[] {
  const ajv = ajvInstance();
  if (!ajv.validateSchema(schema)) {
    // With allErrors the meta-schema reports each bad spot several times (enum, type, anyOf); the first says it best.
    const seen = new Set<string>();
    const problems: SchemaProblem[] = [];
    for (const error of ajv.errors ?? []) {
      if (seen.has(error.instancePath)) continue;
      seen.add(error.instancePath);
      problems.push({ path: pointerSegments(error.instancePath), message: describeError(error) });
    }
    return problems;
  }
  try {
    validatorFor(schema);
    return [];
  } catch (error) {
    return [{ path: [], message: errorMessage(error) }];
  }
}

/** Validates a payload; an empty list means it is accepted. The schema must have passed `checkPayloadSchema`. */
export function validatePayload(schema: PayloadSchema, payload: unknown): PayloadError[] {
  const validate = validatorFor(schema);
  if (validate(payload)) return [];
  return (validate.errors ?? []).map((error) => ({
    instancePath: error.instancePath,
    schemaPath: error.schemaPath,
    keyword: error.keyword,
    params: error.params as Record<string, unknown>,
    message: error.message ?? "is invalid",
  }));
}

/** `payload/version must be string; payload must have required property 'version'`. */
export function formatPayloadErrors(errors: readonly PayloadError[]): string {
  return errors.map((error) => `payload${error.instancePath} ${error.message}`).join("; ");
}

function validatorFor(schema: PayloadSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    const ajv = ajvInstance();
    validate = ajv.compile(schema);
    // ajv keeps every compiled schema (and refuses a second one with the same $id): each reload
    // brings new schema objects, so they are cached here, weakly, and dropped from ajv at once.
    ajv.removeSchema(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

function describeError(error: ErrorObject): string {
  const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
  return allowed ? `${error.message ?? "is invalid"} (${allowed.map(String).join(", ")})` : (error.message ?? "is invalid");
}

function pointerSegments(pointer: string): Array<string | number> {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}
