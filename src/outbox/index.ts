export { createLogDeliverer, createWebhookDeliverer } from "./deliverers.js";
export { interfaceProbe, NetworkMonitor, type ConnectivityProbe, type NetworkMonitorOptions } from "./network-monitor.js";
export { Outbox, redactDestination, type Deliverer, type OutboxOptions } from "./outbox.js";
