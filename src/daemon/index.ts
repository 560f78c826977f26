export { Daemon, VERSION, type DaemonOptions } from "./daemon.js";
export { Dispatcher, type DispatcherOptions, type Submission } from "./dispatcher.js";
export { acquirePidLock, claimRun, runningDaemonPid, runOwner } from "./pid-lock.js";
export { deliveryView, describeTrigger, runView, stepView, triggerOutcomeView, workflowView, type WorkflowStats } from "./views.js";
export { listWorkflowFiles, loadWorkflowSet, type WorkflowSet } from "./workflow-set.js";
export { createAuditLog, createRuntime, modelSections, type Runtime, type RuntimeOptions } from "./runtime.js";
