export { resolveAuditConfig, auditConfigSchema, type AuditAlertRule, type ResolvedAuditConfig } from "./audit-config.js";
export {
  canonicalJson,
  entryHash,
  GENESIS_HASH,
  REDACTED,
  redactSecrets,
  redactString,
  type AuditActor,
  type AuditEntry,
  type AuditInput,
} from "./audit-entry.js";
export { AuditLog, readAuditEntries, verifyAuditLog, type AuditLogOptions, type AuditVerification } from "./audit-log.js";
export {
  createAuditAlerter,
  matchesRule,
  renderAlert,
  subscribeAuditRecorder,
  type AlertQueue,
  type AuditAlerterOptions,
  type AuditSink,
} from "./audit-recorder.js";
export {
  ARGUMENT_SUMMARY_CHARS,
  modelCallEntry,
  recordModelCall,
  recordToolCall,
  summarizeArguments,
  toolCallEntry,
  type AuditRecordTarget,
  type ModelCallRecord,
  type ToolCallRecord,
} from "./call-entries.js";
