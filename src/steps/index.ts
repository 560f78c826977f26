import { StepRegistry } from "../engine/index.js";
import { aiStep, type AiConfig, type AiOutput } from "./ai/index.js";
import { approvalStep } from "./approval/index.js";
import { foreachStep } from "./foreach/index.js";
import { httpStep } from "./http/index.js";
import { notificationStep } from "./notification/index.js";
import { setStep } from "./set/index.js";
import { shellStep } from "./shell/index.js";

export { aiStep, approvalStep, foreachStep, httpStep, notificationStep, setStep, shellStep };
export type { AiConfig, AiOutput };
export type { NotificationPayload } from "./notification/index.js";

/** The registry with every built-in step type. */
export function createDefaultRegistry(): StepRegistry {
  return new StepRegistry()
    .register(shellStep)
    .register(setStep)
    .register(httpStep)
    .register(notificationStep)
    .register(foreachStep)
    .register(approvalStep)
    .register(aiStep);
}
