import type { StepContext } from "../../engine/index.js";
import { renderShellCommand } from "./shell-template.js";

const rendered = new WeakMap<StepContext, string>();

/**
 * The exact command line a shell step will run, rendered once per attempt and remembered on
 * the attempt's context: the policy middleware checks this string and the runner spawns this
 * same string, so nothing is rendered (or re-evaluated) between the check and the run.
 */
export function shellCommandOf(context: StepContext<{ command: string }>): string {
  const key = context as unknown as StepContext;
  const known = rendered.get(key);
  if (known !== undefined) return known;
  const command = renderShellCommand(context.config.command, context.scope);
  rendered.set(key, command);
  return command;
}
