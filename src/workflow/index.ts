export { loadWorkflowFile, loadWorkflowText, type LoadResult, type StepTypeCatalog } from "./load.js";
export { baseStepShape, durationSchema, eventTriggerObjectSchema, workflowObjectSchema } from "./schema.js";
export { DEFAULT_FILE_DEBOUNCE_MS } from "./event-triggers.js";
export {
  checkPayloadSchema,
  formatPayloadErrors,
  validatePayload,
  type PayloadError,
  type PayloadSchema,
  type SchemaProblem,
} from "./payload-schema.js";
export { buildWorkflowJsonSchema } from "./json-schema.js";
export {
  formatIssue,
  type EventTriggerDefinition,
  type FailurePolicy,
  type FileChangeKind,
  type FileWatchDefinition,
  type InputDefinition,
  type OverlapPolicy,
  type RetryPolicy,
  type StepDefinition,
  type TriggerDefinition,
  type WorkflowDefinition,
  type WorkflowIssue,
} from "./types.js";
