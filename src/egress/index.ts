export { decideEgress, systemLookup, type EgressDecision, type EgressLookup } from "./egress-decision.js";
export { createEgressControl, type EgressControl, type EgressControlOptions } from "./egress-middleware.js";
export {
  parseAuthority,
  startEgressProxy,
  type EgressAuditSink,
  type EgressConnectionRecord,
  type EgressProxy,
  type EgressProxyOptions,
  type EgressStepContext,
  type EgressStepProxy,
} from "./egress-proxy.js";
export { HostAllowList, isInternalAddress, matchesPattern, normalizeAddress, parseHostPattern, type HostPattern } from "./host-pattern.js";
