import type { z } from "zod";
import { LocalAgentError } from "../errors/index.js";
import type { StepTypeCatalog } from "../workflow/index.js";
import type { StepRunner } from "./step-runner.js";

/** Step types by name. Other layers (models, sandbox, channels) register theirs without touching the engine. */
export class StepRegistry implements StepTypeCatalog {
  private readonly runners = new Map<string, StepRunner>();

  register<Config>(runner: StepRunner<Config>): this {
    this.runners.set(runner.type, runner as unknown as StepRunner);
    return this;
  }

  get(type: string): StepRunner {
    const runner = this.runners.get(type);
    if (!runner) throw new LocalAgentError("unknown_step_type", `unknown step type "${type}"`);
    return runner;
  }

  has(type: string): boolean {
    return this.runners.has(type);
  }

  types(): string[] {
    return [...this.runners.keys()].sort();
  }

  shapeOf(type: string): z.ZodRawShape | undefined {
    return this.runners.get(type)?.configShape;
  }

  subStepsFieldOf(type: string): string | undefined {
    return this.runners.get(type)?.subStepsField;
  }
}
