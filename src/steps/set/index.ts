import { z } from "zod";
import type { StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";

export interface SetConfig {
  values?: Record<string, unknown>;
  value?: unknown;
}

/** `set`: shapes data in-process from templated values; nothing is spawned. Output: the rendered object. */
export const setStep: StepRunner<SetConfig> = {
  type: "set",
  configShape: {
    values: z.record(z.string(), z.unknown()).optional().describe("Fields of the output object; strings may be templates"),
    value: z.unknown().optional().describe("A single output value (instead of values)"),
  },
  run(context) {
    const { values, value } = context.config;
    if (values === undefined && value === undefined) {
      return Promise.reject(new LocalAgentError("step_failed", `set step "${context.step.name}" needs values: or value:`));
    }
    return Promise.resolve({ output: values ?? value });
  },
};
