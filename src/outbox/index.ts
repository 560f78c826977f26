export { createLogDeliverer, createWebhookDeliverer, parseRetryAfter } from "./deliverers.js";
export { interfaceProbe, NetworkMonitor, type ConnectivityProbe, type NetworkMonitorOptions } from "./network-monitor.js";
export { MAX_RETRY_AFTER_MS, Outbox, redactDestination, retryAfterMsOf, type Deliverer, type OutboxOptions } from "./outbox.js";
