import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-localagent-signature";
export const TIMESTAMP_HEADER = "x-localagent-timestamp";
/** How far a request's timestamp may be from the daemon's clock (replay window). */
export const SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

/** `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<raw body>"). */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex")}`;
}

/** Signature and timestamp headers for a body, as the outbound POSTs carry them. */
export function signatureHeaders(secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signBody(secret, timestamp, body) };
}

/** Why a signed request is refused, or undefined when signature and timestamp are good. Constant-time comparison. */
export function verifySignature(
  secret: string,
  headers: Record<string, string | undefined>,
  body: string,
  nowMs: number,
): string | undefined {
  const timestamp = headers[TIMESTAMP_HEADER];
  const signature = headers[SIGNATURE_HEADER];
  if (!signature) return `missing ${SIGNATURE_HEADER} header`;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return `missing or malformed ${TIMESTAMP_HEADER} header (unix seconds)`;
  if (Math.abs(Number(timestamp) * 1000 - nowMs) > SIGNATURE_TOLERANCE_MS)
    return "timestamp outside the 5-minute window (replayed or clock skew)";
  const expected = Buffer.from(signBody(secret, timestamp, body), "utf8");
  const given = Buffer.from(signature.trim(), "utf8");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "signature does not match";
  return undefined;
}
