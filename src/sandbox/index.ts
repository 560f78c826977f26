export type { PreparedCommand, Sandbox, SandboxExit, SandboxLimits, SandboxMode, SandboxNetwork, SandboxRequest } from "./types.js";
export {
  DEFAULT_LIMITS,
  limitsSchema,
  resolveLimits,
  resolveSandboxConfig,
  sandboxConfigSchema,
  sandboxStepShape,
  type ResolvedSandboxConfig,
  type SandboxConfigInput,
} from "./sandbox-config.js";
export { createBwrapSandbox, SANDBOX_HOME, type BwrapSandboxOptions } from "./bwrap-sandbox.js";
export { createUnsandboxed, prepareDirect } from "./direct-launch.js";
export { compileSeccompFilter, DENIED_SYSCALLS, hostSeccompArch, type SeccompArch } from "./seccomp.js";
export { detectCgroups, type CgroupSupport } from "./cgroups.js";
export { findExecutable, inspectIsolation, inspectIsolationAsync, type IsolationReport } from "./isolation.js";
export { explainFailure, terminatingSignal } from "./failure-reason.js";
export { attachLaunch, launchOf, type StepLaunch } from "./launch.js";
export {
  createSandboxMiddleware,
  workspaceFor,
  type EgressProvider,
  type EgressRoute,
  type SandboxMiddlewareOptions,
} from "./sandbox-middleware.js";
