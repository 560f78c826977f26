export { loadWorkflowFile, loadWorkflowText, type LoadResult, type StepTypeCatalog } from "./load.js";
export { baseStepShape, durationSchema, workflowObjectSchema } from "./schema.js";
export { buildWorkflowJsonSchema } from "./json-schema.js";
export {
  formatIssue,
  type FailurePolicy,
  type InputDefinition,
  type RetryPolicy,
  type StepDefinition,
  type TriggerDefinition,
  type WorkflowDefinition,
  type WorkflowIssue,
} from "./types.js";
