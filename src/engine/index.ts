export { createRunId, Engine, type EngineOptions, type StartRunOptions } from "./engine.js";
export { deltaOf } from "./delta.js";
export { composeMiddleware, createTimeoutMiddleware } from "./middleware.js";
export { StepRegistry } from "./registry.js";
export type {
  ApprovalAnswer,
  ApprovalQuestion,
  ApprovalRequester,
  AuditRecorder,
  DeliveryQueue,
  ExternalTool,
  ExternalToolSource,
  ModelAccess,
  NotificationTarget,
  StepContext,
  StepMiddleware,
  StepResult,
  StepRunner,
  StepServices,
  StepSettings,
  SubStepRunner,
  WorkflowLauncher,
} from "./step-runner.js";
