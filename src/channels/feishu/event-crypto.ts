import { createDecipheriv, createHash, timingSafeEqual } from "node:crypto";

/**
 * Decrypts an event body's `encrypt` field: AES-256-CBC, key = SHA-256(encrypt_key), the first 16
 * bytes of the base64 text are the IV, PKCS#7 padding. Throws on a wrong key or damaged text.
 */
export function decryptEvent(encrypted: string, encryptKey: string): string {
  const key = createHash("sha256").update(encryptKey).digest();
  const data = Buffer.from(encrypted, "base64");
  if (data.length < 32 || data.length % 16 !== 0) throw new Error("encrypted payload has an invalid length");
  const decipher = createDecipheriv("aes-256-cbc", key, data.subarray(0, 16));
  return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString("utf8");
}

/** `X-Lark-Signature`: hex SHA-256 of timestamp + nonce + encrypt_key + the raw body. */
export function eventSignature(timestamp: string, nonce: string, encryptKey: string, rawBody: string): string {
  return createHash("sha256")
    .update(timestamp + nonce + encryptKey)
    .update(rawBody)
    .digest("hex");
}

/** Constant-time check of a received signature. */
export function signatureMatches(expected: string, received: string | undefined): boolean {
  if (received === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(received.toLowerCase());
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time string equality (verification tokens). */
export function sameSecret(expected: string, received: unknown): boolean {
  if (typeof received !== "string") return false;
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(received).digest();
  return timingSafeEqual(a, b) && expected.length === received.length;
}
