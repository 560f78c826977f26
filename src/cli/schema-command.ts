import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { configFileSchema } from "../config/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import { buildWorkflowJsonSchema } from "../workflow/index.js";
import type { Io } from "./context.js";

/** The JSON Schemas published in schema/: workflow files and config.yaml, generated from the zod schemas. */
export function buildSchemas(): Record<string, unknown> {
  const config = z.toJSONSchema(configFileSchema, { unrepresentable: "any", io: "input" }) as Record<string, unknown>;
  return {
    "workflow.schema.json": buildWorkflowJsonSchema(createDefaultRegistry()),
    "config.schema.json": { ...config, $id: "https://localagent.dev/schema/config.schema.json", title: "LocalAgent config.yaml" },
  };
}

export function registerSchema(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("schema")
    .description("print or write the JSON Schemas of workflow files and config.yaml")
    .option("-o, --out <dir>", "write workflow.schema.json and config.schema.json here")
    .action((options: { out?: string }) => {
      const schemas = buildSchemas();
      if (!options.out) {
        io.out(`${JSON.stringify(schemas["workflow.schema.json"], null, 2)}\n`);
        return setExit(0);
      }
      mkdirSync(options.out, { recursive: true });
      for (const [name, schema] of Object.entries(schemas)) writeFileSync(join(options.out, name), `${JSON.stringify(schema, null, 2)}\n`);
      io.out(`wrote ${Object.keys(schemas).join(", ")} to ${options.out}\n`);
      setExit(0);
    });
}
