export { createWebhookChannel, WebhookChannel, webhookEventSchema } from "./webhook-channel.js";
export { signatureHeaders, signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from "./signature.js";
