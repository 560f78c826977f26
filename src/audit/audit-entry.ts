import { createHash } from "node:crypto";

/** Who or what caused an audit entry. Every field is optional: a delivery has no step, a trigger no run yet. */
export interface AuditActor {
  workflow?: string;
  run?: string;
  step?: string;
  trigger?: string;
  /** A person or client (`cli`, `api`, a chat user) for approvals and decisions. */
  user?: string;
}

/** What a caller hands to `AuditLog.record`; the log adds `seq`, `at`, `prev` and `hash`. */
export interface AuditInput {
  type: string;
  actor?: AuditActor;
  details?: Record<string, unknown>;
  /** Milliseconds since the epoch; defaults to the log's clock. */
  at?: number;
}

/** One line of `audit.log`. `hash` is SHA-256 over the canonical JSON of every other field, `prev` included. */
export interface AuditEntry {
  seq: number;
  /** ISO 8601 time in UTC. */
  at: string;
  type: string;
  actor: AuditActor;
  details: Record<string, unknown>;
  prev: string;
  hash: string;
}

/** `prev` of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** JSON with object keys sorted at every depth, so the same entry always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
}

/** The hash an entry must carry: over everything but `hash` itself. */
export function entryHash(entry: Omit<AuditEntry, "hash"> | AuditEntry): string {
  const { seq, at, type, actor, details, prev } = entry;
  return createHash("sha256").update(canonicalJson({ seq, at, type, actor, details, prev })).digest("hex");
}

/** Keys whose values are secrets wherever they appear (headers, details, payloads). */
const SECRET_KEY = /token|secret|passw(or)?d|authorization|api[-_]?key|cookie|credential|private[-_]?key/i;
export const REDACTED = "[redacted]";

/**
 * A copy of `value` with secrets removed: values of secret-looking keys, and every occurrence of a
 * configured secret value inside any string. Runs before an entry is hashed and written.
 */
export function redactSecrets(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === "string") return redactString(value, secrets);
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, secrets));
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    // Numbers and booleans under such keys are counts and flags (`inputTokens`, `tokenCached`), not secrets.
    const secret =
      SECRET_KEY.test(key) && item !== null && item !== undefined && item !== "" && typeof item !== "number" && typeof item !== "boolean";
    result[key] = secret ? REDACTED : redactSecrets(item, secrets);
  }
  return result;
}

/** Replaces every configured secret value inside `text`; very short values are skipped (they would blank common words). */
export function redactString(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.split(secret).join(REDACTED);
  }
  // Bearer tokens that are not configured (a header a user pasted into a command) are still removed.
  return result.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`);
}
