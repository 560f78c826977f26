export { Daemon, VERSION, type DaemonOptions } from "./daemon.js";
export { Dispatcher } from "./dispatcher.js";
export { acquirePidLock, claimRun, runningDaemonPid, runOwner } from "./pid-lock.js";
export { deliveryView, describeTrigger, runView, stepView, workflowView } from "./views.js";
export { listWorkflowFiles, loadWorkflowSet, type WorkflowSet } from "./workflow-set.js";
export { createAuditLog, createRuntime, type Runtime, type RuntimeOptions } from "./runtime.js";
