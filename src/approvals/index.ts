export {
  APPROVAL_NAMESPACE,
  approvalId,
  ApprovalService,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  type ApprovalDecision,
  type ApprovalGate,
  type ApprovalRecord,
  type ApprovalServiceOptions,
  type ApprovalStatus,
} from "./approval-service.js";
