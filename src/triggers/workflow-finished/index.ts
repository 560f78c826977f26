export { WorkflowFinishedSource } from "./workflow-finished-source.js";
