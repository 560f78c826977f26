import { LocalAgentError } from "../errors/index.js";
import type { StepContext, StepMiddleware, StepResult } from "./step-runner.js";

/** Composes middleware around a final handler, outermost first. */
export function composeMiddleware(
  middleware: readonly StepMiddleware[],
  handler: (context: StepContext) => Promise<StepResult>,
): (context: StepContext) => Promise<StepResult> {
  return (context) => {
    const dispatch = (index: number): Promise<StepResult> => {
      const current = middleware[index];
      return current ? current(context, () => dispatch(index + 1)) : handler(context);
    };
    return dispatch(0);
  };
}

/**
 * Enforces `timeout:` by aborting the step's signal; runners stop their work on abort
 * (shell kills the whole process group). The step fails with a retryable `step_timeout`.
 */
export function createTimeoutMiddleware(options: { ownsTimeout?: (context: StepContext) => boolean } = {}): StepMiddleware {
  return async (context, next) => {
    const timeoutMs = context.step.timeoutMs;
    if (timeoutMs === undefined || timeoutMs <= 0 || options.ownsTimeout?.(context)) return next();
    const clock = context.services.clock;
    let timedOut = false;
    const error = new LocalAgentError("step_timeout", `step "${context.path}" timed out after ${timeoutMs} ms`, { retryable: true });
    const handle = clock.setTimeout(() => {
      timedOut = true;
      context.abort(error);
    }, timeoutMs);
    try {
      const result = await next();
      if (timedOut) throw error;
      return result;
    } catch (cause) {
      throw timedOut ? error : cause;
    } finally {
      clock.clearTimeout(handle);
    }
  };
}
