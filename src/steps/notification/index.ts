import { z } from "zod";
import type { NotificationTarget, StepRunner } from "../../engine/index.js";
import { LocalAgentError } from "../../errors/index.js";
import { stringify } from "../../expression/index.js";

export interface NotificationConfig {
  platform: string;
  message: unknown;
  title?: string;
  url?: string;
}

/** What a notification delivery carries in the outbox. */
export interface NotificationPayload {
  platform: string;
  title?: string;
  message: string;
  workflow: string;
  run_id: string;
  step: string;
  url?: string;
  headers?: Record<string, string>;
}

/**
 * `notification`: queues a message in the durable outbox (keyed by the step key, so a re-run never
 * queues it twice). Platforms `log` and `webhook` are built in; chat platforms register later.
 */
export const notificationStep: StepRunner<NotificationConfig> = {
  type: "notification",
  configShape: {
    platform: z.string().min(1).describe("log, webhook, or a platform named in config.yaml notifications: / platforms"),
    message: z.unknown().describe("Message text; may use templates"),
    title: z.string().optional(),
    url: z.string().optional().describe("For platform webhook: where to POST (default: notifications.webhook.url)"),
  },
  run(context) {
    const { config, services } = context;
    const target = resolveTarget(config, services.settings.notificationPlatforms);
    const payload: NotificationPayload = {
      platform: config.platform,
      message: stringify(config.message),
      workflow: context.workflow.name,
      run_id: context.runId,
      step: context.path,
    };
    if (config.title !== undefined) payload.title = config.title;
    let destination = "log";
    if (target.type === "channel") {
      // A chat platform (platforms.json): delivered by the channel manager's `channel` deliverer.
      const chatId = target.chatId ?? "*";
      const text = config.title !== undefined ? `${config.title}\n${payload.message}` : payload.message;
      const channelPayload = {
        channel: target.channel ?? config.platform,
        message: { chatId, text },
        workflow: payload.workflow,
        run_id: payload.run_id,
      };
      destination = `channel:${channelPayload.channel}:${chatId}`;
      const deliveryId = services.deliveries.enqueue({
        destination,
        kind: "channel",
        payload: channelPayload,
        idempotencyKey: context.stepKey,
      });
      return Promise.resolve({ output: { queued: true, platform: config.platform, destination, delivery_id: deliveryId ?? null } });
    }
    if (target.type === "webhook") {
      payload.url = target.url ?? "";
      if (target.headers) payload.headers = target.headers;
      destination = `webhook:${payload.url}`;
    }
    const deliveryId = services.deliveries.enqueue({ destination, kind: target.type, payload, idempotencyKey: context.stepKey });
    return Promise.resolve({ output: { queued: true, platform: config.platform, destination, delivery_id: deliveryId ?? null } });
  },
};

function resolveTarget(config: NotificationConfig, platforms: Record<string, NotificationTarget>): NotificationTarget {
  const configured = platforms[config.platform];
  if (configured) return config.url ? { ...configured, url: config.url } : configured;
  if (config.platform === "log") return { type: "log" };
  if (config.platform === "webhook") {
    if (!config.url) {
      throw new LocalAgentError("step_failed", "platform webhook needs url: on the step or notifications.webhook.url in config.yaml");
    }
    return { type: "webhook", url: config.url };
  }
  throw new LocalAgentError(
    "step_failed",
    `notification platform "${config.platform}" is not configured: add notifications.${config.platform} (type log or webhook) to config.yaml, or configure the channel`,
  );
}
