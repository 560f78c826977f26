import { z } from "zod";
import type { StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";

export interface ForeachConfig {
  items: unknown;
  as?: string;
  parallel?: number;
}

/**
 * `foreach`: task sharding. Runs the nested `steps` once per item; each shard's steps are journaled
 * under `name[index].step`, so after a crash finished shards are not run again. Output: each shard's last output.
 */
export const foreachStep: StepRunner<ForeachConfig> = {
  type: "foreach",
  subStepsField: "steps",
  configShape: {
    items: z.unknown().describe("An array, a template yielding one, or text (one item per line)"),
    as: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe("Name of the item in templates (default item)"),
    parallel: z.number().int().positive().optional().describe("Shards run at once (default 1)"),
    steps: z.array(z.unknown()).describe("Steps run for each item"),
  },
  async run(context) {
    const items = toItems(context.config.items, context.step.name);
    const name = context.config.as ?? "item";
    const results: unknown[] = new Array(items.length);
    const steps = context.step.steps ?? [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const index = next++;
        const scope = { ...context.scope, [name]: items[index], index };
        results[index] = await context.runSubSteps(String(index), steps, scope);
      }
    };
    const width = Math.min(context.config.parallel ?? 1, Math.max(items.length, 1));
    await Promise.all(Array.from({ length: width }, worker));
    return { output: results };
  },
};

function toItems(value: unknown, step: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return value.split("\n").filter((line) => line.trim() !== "");
  if (value === null || value === undefined) return [];
  if (typeof value === "object") return Object.entries(value as Record<string, unknown>).map(([key, item]) => ({ key, value: item }));
  throw new LocalAgentError("step_failed", `foreach "${step}": items must be a list, text or a mapping`);
}
