import { LocalAgentError } from "../errors/index.js";
import type { Logger } from "../logger/index.js";
import type { Deliverer } from "./outbox.js";

interface WebhookPayload {
  url?: string;
  headers?: Record<string, string>;
  [key: string]: unknown;
}

/** `log`: the notification is written to the daemon log (and so to the journal). */
export function createLogDeliverer(logger: Logger): Deliverer {
  return {
    kind: "log",
    needsNetwork: () => false,
    deliver(delivery) {
      const payload = delivery.payload as Record<string, unknown>;
      logger.info({ notification: { ...payload, delivery: delivery.id } }, String(payload.message ?? ""));
      return Promise.resolve();
    },
  };
}

/** `webhook`: JSON POST with an `Idempotency-Key` header. 2xx delivers; 5xx, 408, 429 and network errors retry. */
export function createWebhookDeliverer(): Deliverer {
  return {
    kind: "webhook",
    needsNetwork: (delivery) => !isLoopback((delivery.payload as WebhookPayload).url ?? ""),
    async deliver(delivery, signal) {
      const { url, headers, ...body } = delivery.payload as WebhookPayload;
      if (!url) throw new LocalAgentError("delivery_failed", "webhook delivery has no url");
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "idempotency-key": delivery.idempotencyKey,
            "user-agent": "localagent",
            ...headers,
          },
          body: JSON.stringify({ ...body, delivery_id: delivery.id, idempotency_key: delivery.idempotencyKey }),
          signal,
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        throw new LocalAgentError("delivery_failed", `${new URL(url).origin} unreachable: ${cause}`, { retryable: true });
      }
      await response.body?.cancel();
      if (response.ok) return;
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      throw new LocalAgentError("delivery_failed", `${new URL(url).origin} answered ${response.status}`, {
        retryable,
        ...(retryAfterMs === undefined ? {} : { details: { retryAfterMs } }),
      });
    },
  };
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === "localhost" || host.startsWith("127.") || host === "[::1]";
  } catch {
    return false;
  }
}
