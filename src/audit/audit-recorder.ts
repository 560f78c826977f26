import type { NotificationTarget } from "../engine/index.js";
import { errorMessage } from "../errors/index.js";
import type { EventBus, LocalAgentEvent } from "../events/index.js";
import type { Logger } from "../logger/index.js";
import { redactDestination } from "../outbox/index.js";
import type { AuditEntry, AuditInput } from "./audit-entry.js";
import type { AuditAlertRule } from "./audit-config.js";

/** Where audit entries go: the log's `record`. Kept as a function type so tests can collect entries. */
export type AuditSink = (input: AuditInput) => AuditEntry | undefined;

/**
 * Subscribes the audit log to the event bus: triggers, runs, steps, deliveries and approvals become
 * entries. Live output lines are left out (noisy, and the place secrets leak most).
 */
export function subscribeAuditRecorder(events: EventBus, sink: AuditSink, logger: Logger): () => void {
  const workflowOfRun = new Map<string, string>();
  return events.subscribe((event) => {
    const input = toAuditInput(event, workflowOfRun);
    if (!input) return;
    try {
      sink(input);
    } catch (error) {
      logger.error({ err: error, type: input.type }, `audit entry not written: ${errorMessage(error)}`);
    }
  });
}

function toAuditInput(event: LocalAgentEvent, workflowOfRun: Map<string, string>): AuditInput | undefined {
  const at = event.at;
  switch (event.type) {
    case "trigger-fired":
      return { type: event.type, at, actor: { workflow: event.workflow, trigger: event.trigger } };
    case "run-queued":
      workflowOfRun.set(event.runId, event.workflow);
      return { type: event.type, at, actor: { workflow: event.workflow, run: event.runId, trigger: event.trigger } };
    case "run-started":
      workflowOfRun.set(event.runId, event.workflow);
      return { type: event.type, at, actor: { workflow: event.workflow, run: event.runId }, details: { resumed: event.resumed } };
    case "run-finished":
      workflowOfRun.delete(event.runId);
      return {
        type: event.type,
        at,
        actor: { workflow: event.workflow, run: event.runId },
        details: { status: event.status, ...(event.error ? { error: event.error } : {}) },
      };
    case "step-started":
      return {
        type: event.type,
        at,
        actor: { workflow: workflowOfRun.get(event.runId), run: event.runId, step: event.step },
        details: { attempt: event.attempt, stepType: event.stepType },
      };
    case "step-retrying":
      return {
        type: event.type,
        at,
        actor: { workflow: workflowOfRun.get(event.runId), run: event.runId, step: event.step },
        details: { attempt: event.attempt, delayMs: event.delayMs, error: event.error },
      };
    case "step-finished":
      return {
        type: event.type,
        at,
        actor: { workflow: workflowOfRun.get(event.runId), run: event.runId, step: event.step },
        details: { status: event.status, durationMs: event.durationMs, ...(event.error ? { error: event.error } : {}) },
      };
    case "delivery-queued":
    case "delivery-sent":
    case "delivery-failed":
      return {
        type: event.type,
        at,
        details: {
          deliveryId: event.deliveryId,
          destination: redactDestination(event.destination),
          ...("attempts" in event ? { attempts: event.attempts } : {}),
          ...("error" in event ? { error: event.error } : {}),
        },
      };
    case "network-changed":
      return { type: event.type, at, details: { online: event.online } };
    case "workflow-invalid":
      return { type: event.type, at, details: { file: event.file, errors: event.errors } };
    case "approval-requested":
      return {
        type: event.type,
        at,
        actor: { workflow: event.workflow, run: event.runId, step: event.step },
        details: {
          approvalId: event.approvalId,
          command: event.command,
          rule: event.rule,
          expiresAt: new Date(event.expiresAt).toISOString(),
        },
      };
    case "approval-decided":
      return {
        type: event.type,
        at,
        actor: { workflow: event.workflow, run: event.runId, step: event.step, user: event.by },
        details: { approvalId: event.approvalId, decision: event.decision },
      };
    case "step-output":
    // The sandbox middleware writes its own `command-executed` entry, with the exit code.
    case "step-sandboxed":
      return undefined;
  }
}

/** Queues notifications in the durable outbox (the notification step's `DeliveryQueue`). */
export interface AlertQueue {
  enqueue(delivery: { destination: string; kind: string; payload: unknown; idempotencyKey: string }): number | undefined;
}

export interface AuditAlerterOptions {
  rules: readonly AuditAlertRule[];
  queue: AlertQueue;
  platforms: Record<string, NotificationTarget>;
  logger: Logger;
}

/**
 * Alert rules: an entry that matches a rule is sent to its platform through the outbox, keyed by
 * the entry's hash so a replay never alerts twice. Entries about the alerts' own deliveries never
 * alert, or a failing channel would feed itself.
 */
export function createAuditAlerter(options: AuditAlerterOptions): (entry: AuditEntry) => void {
  const alertDeliveries = new Set<number>();
  let sending = false;
  return (entry) => {
    if (sending) return;
    const deliveryId = entry.details.deliveryId;
    if (typeof deliveryId === "number" && alertDeliveries.has(deliveryId)) return;
    for (const [index, rule] of options.rules.entries()) {
      if (!matchesRule(entry, rule.match)) continue;
      const target = options.platforms[rule.notify] ?? (rule.notify === "log" ? { type: "log" as const } : undefined);
      if (!target) {
        options.logger.warn({ platform: rule.notify }, `audit alert: platform "${rule.notify}" is not configured under notifications:`);
        continue;
      }
      const message = renderAlert(rule.message ?? "audit: {{ type }} {{ details }}", entry);
      const payload: Record<string, unknown> = {
        platform: rule.notify,
        title: `LocalAgent audit: ${entry.type}`,
        message,
        workflow: entry.actor.workflow ?? "",
        run_id: entry.actor.run ?? "",
        step: entry.actor.step ?? "",
        audit_seq: entry.seq,
      };
      let destination = "log";
      if (target.type === "channel") {
        // A chat platform: the channel deliverer's payload shape (chat `*`: the owner chats).
        const chatId = target.chatId ?? "*";
        payload.channel = target.channel ?? rule.notify;
        payload.message = { chatId, text: `${String(payload.title)}\n${message}` };
        destination = `channel:${String(payload.channel)}:${chatId}`;
      } else if (target.type === "webhook") {
        payload.url = target.url ?? "";
        if (target.headers) payload.headers = target.headers;
        destination = `webhook:${target.url ?? ""}`;
      }
      sending = true;
      try {
        const id = options.queue.enqueue({ destination, kind: target.type, payload, idempotencyKey: `audit:${entry.hash}:${index}` });
        if (id !== undefined) alertDeliveries.add(id);
      } catch (error) {
        options.logger.error({ err: error, seq: entry.seq }, `audit alert not queued: ${errorMessage(error)}`);
      } finally {
        sending = false;
      }
    }
  };
}

/** `type` matches the entry type; other keys are looked up in details, then actor; a list matches any value. */
export function matchesRule(entry: AuditEntry, match: Record<string, unknown>): boolean {
  return Object.entries(match).every(([key, expected]) => {
    const actual = key === "type" ? entry.type : (lookup(entry.details, key) ?? lookup(entry.actor as Record<string, unknown>, key));
    const wanted = Array.isArray(expected) ? expected : [expected];
    return wanted.some((value) => String(value) === String(actual));
  });
}

function lookup(record: Record<string, unknown>, path: string): unknown {
  let current: unknown = record;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** `{{ path }}` placeholders over the entry (`type`, `seq`, `details.command`, `actor.workflow`, or a details/actor key). */
export function renderAlert(template: string, entry: AuditEntry): string {
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_match, path: string) => {
    const value =
      lookup(entry as unknown as Record<string, unknown>, path) ??
      lookup(entry.details, path) ??
      lookup(entry.actor as Record<string, unknown>, path);
    if (value === undefined || value === null) return "";
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  });
}
