export { runAgentLoop } from "./agent-loop.js";
export { agentToolLoop, routedModel } from "./ai-tool-loop.js";
export { AgentResponder, type AgentResponderOptions } from "./agent-responder.js";
export {
  BUILTIN_TOOL_NAMES,
  createStepTools,
  parseToolSelection,
  runAiStepWithTools,
  runStepAgentLoop,
  toGenerateResult,
  type StepAgentLoopRequest,
  type AiStepToolsOptions,
  type AiToolsStepConfig,
  type BuiltinToolName,
} from "./ai-step-tools.js";
export { McpClients, mcpToolName, type McpClientsOptions } from "./mcp/mcp-clients.js";
export { mcpConfigSchema, mcpServerSchema, type McpConfig, type McpServerConfig } from "./mcp/mcp-config.js";
export { createApprovalToolApprover, createPolicyToolHook } from "./policy-hook.js";
export { validateToolArguments } from "./tool-schema.js";
export { confinePath, createReadFileTool, createWriteFileTool, type FileToolOptions } from "./tools/file-tools.js";
export { createStandaloneShellTool, createStandaloneTools, type StandaloneToolOptions } from "./tools/standalone-tools.js";
export {
  createHttpTool,
  createNotifyTool,
  createRunWorkflowTool,
  createShellTool,
  DEFAULT_TOOL_TIMEOUT_MS,
  type StepToolOptions,
} from "./tools/step-tools.js";
export type {
  AgentActor,
  AgentLoopEvent,
  AgentLoopOptions,
  AgentLoopResult,
  AgentOutcome,
  AgentTool,
  BeforeToolCall,
  ToolApprover,
  ToolCallRecord,
  ToolDecision,
  ToolExecution,
} from "./types.js";
