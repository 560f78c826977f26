import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import type { Clock } from "../clock/index.js";
import { LocalAgentError } from "../errors/index.js";
import { modelCallEntry, toolCallEntry, type ModelCallRecord, type ToolCallRecord } from "./call-entries.js";
import { entryHash, GENESIS_HASH, redactSecrets, type AuditActor, type AuditEntry, type AuditInput } from "./audit-entry.js";

export interface AuditLogOptions {
  /** The log file, normally `DATA_DIR/audit.log`. */
  file: string;
  clock: Clock;
  /** `power` fsyncs after every entry; `process` leaves it to the OS (survives a process crash, not a power cut). */
  durability: "process" | "power";
  /** Configured secret values, removed from every entry before it is written. */
  secrets?: readonly string[];
  /** Called after an entry is written (alert rules). */
  onEntry?: (entry: AuditEntry) => void;
}

/**
 * The append-only, hash-chained audit log: one JSON line per entry, each carrying the hash of the
 * one before it, so an edit, a deletion or a reordering breaks the chain where it happened.
 * Lines are written with O_APPEND in a single write; the chain resumes from the file's last line.
 */
export class AuditLog {
  private descriptor: number | undefined;
  private headDescriptor: number | undefined;
  private seq = 0;
  private prev = GENESIS_HASH;
  /** File size after our last write; a different size means another process appended. */
  private size = -1;

  constructor(private readonly options: AuditLogOptions) {}

  /** Records one entry; returns it as written (redacted, hashed). */
  record(input: AuditInput): AuditEntry {
    const descriptor = this.open();
    const size = fstatSync(descriptor).size;
    if (size !== this.size) this.resume(size);
    const actor = redactSecrets(compact(input.actor ?? {}), this.secrets) as AuditActor;
    const details = redactSecrets(input.details ?? {}, this.secrets) as Record<string, unknown>;
    const unsigned = {
      seq: this.seq + 1,
      at: new Date(input.at ?? this.options.clock.now()).toISOString(),
      type: input.type,
      actor,
      details,
      prev: this.prev,
    };
    const entry: AuditEntry = { ...unsigned, hash: entryHash(unsigned) };
    const line = Buffer.from(`${JSON.stringify(entry)}\n`, "utf8");
    writeSync(descriptor, line);
    if (this.options.durability === "power") fsyncSync(descriptor);
    this.writeHead(entry);
    this.seq = entry.seq;
    this.prev = entry.hash;
    this.size = size + line.length;
    this.options.onEntry?.(entry);
    return entry;
  }

  /** A `model-call` entry: model, provider, tokens, duration, cached, served-by; never prompts or keys. */
  modelCall(call: ModelCallRecord, actor?: AuditActor): AuditEntry {
    return this.record(modelCallEntry(call, actor));
  }

  /** A `tool-call` entry: tool, an argument summary, the policy decision and the result status. */
  toolCall(call: ToolCallRecord, actor?: AuditActor): AuditEntry {
    return this.record(toolCallEntry(call, actor));
  }

  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    if (this.headDescriptor !== undefined) closeSync(this.headDescriptor);
    this.descriptor = undefined;
    this.headDescriptor = undefined;
    this.size = -1;
  }

  private get secrets(): readonly string[] {
    return this.options.secrets ?? [];
  }

  private open(): number {
    this.descriptor ??= openSync(this.options.file, "a+", 0o600);
    return this.descriptor;
  }

  /**
   * `audit.log.head` holds the last entry's seq and hash (one fixed-size positional write), so
   * verify also notices entries cut off the end, which leave a valid shorter chain behind.
   */
  private writeHead(entry: AuditEntry): void {
    this.headDescriptor ??= openSync(headFileOf(this.options.file), "w", 0o600);
    const text = JSON.stringify({ seq: entry.seq, hash: entry.hash });
    const buffer = Buffer.from(text.padEnd(HEAD_SIZE - 1, " ") + "\n", "utf8");
    writeSync(this.headDescriptor, buffer, 0, buffer.length, 0);
    if (this.options.durability === "power") fsyncSync(this.headDescriptor);
  }

  /** Reads the last complete line to continue the chain after a restart (or another writer's append). */
  private resume(size: number): void {
    this.size = size;
    const last = readLastLine(this.open(), size);
    if (last === undefined) {
      this.seq = 0;
      this.prev = GENESIS_HASH;
      return;
    }
    let entry: AuditEntry;
    try {
      entry = JSON.parse(last) as AuditEntry;
    } catch (error) {
      throw new LocalAgentError(
        "store_error",
        `${this.options.file}: the last line is not an audit entry; run localagent audit verify and move the damaged file aside`,
        { cause: error },
      );
    }
    this.seq = entry.seq;
    this.prev = entry.hash;
  }
}

const HEAD_SIZE = 128;

/** Where the log's head (last seq and hash) is kept: beside the log. */
export function headFileOf(file: string): string {
  return `${file}.head`;
}

/** The last non-empty line of a file, read backwards in chunks (the log may be large). */
function readLastLine(descriptor: number, size: number): string | undefined {
  const chunkSize = 64 * 1024;
  let end = size;
  let tail = Buffer.alloc(0);
  while (end > 0) {
    const start = Math.max(0, end - chunkSize);
    const chunk = Buffer.alloc(end - start);
    readSync(descriptor, chunk, 0, chunk.length, start);
    tail = Buffer.concat([chunk, tail]);
    end = start;
    const text = tail.toString("utf8").replace(/\n+$/, "");
    const newline = text.lastIndexOf("\n");
    if (newline >= 0) return text.slice(newline + 1);
    if (end === 0) return text === "" ? undefined : text;
  }
  return undefined;
}

/** Result of `verifyAuditLog`: ok with the count, or the first bad entry. */
export type AuditVerification =
  { ok: true; entries: number } | { ok: false; entries: number; line: number; seq: number | undefined; reason: string };

/**
 * Walks the chain from the first line: each line must parse, carry the next sequence number,
 * name the previous entry's hash as `prev`, and hash to its own `hash`.
 */
export function verifyAuditLog(file: string): AuditVerification {
  if (!existsSync(file)) return { ok: true, entries: 0 };
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  const hashes: string[] = [];
  for (const [index, line] of lines.entries()) {
    const fail = (reason: string, seq?: number): AuditVerification => ({ ok: false, entries: index, line: index + 1, seq, reason });
    let entry: AuditEntry;
    try {
      entry = JSON.parse(line) as AuditEntry;
    } catch {
      return fail(`line ${index + 1} is not valid JSON`, expectedSeq);
    }
    if (typeof entry !== "object" || entry === null || typeof entry.hash !== "string") return fail("not an audit entry", expectedSeq);
    if (entry.seq !== expectedSeq) return fail(`expected seq ${expectedSeq}, found ${String(entry.seq)}`, entry.seq);
    if (entry.prev !== prev) return fail(`prev does not match the hash of entry ${expectedSeq - 1}`, entry.seq);
    if (entryHash(entry) !== entry.hash) return fail("hash does not match the entry's content", entry.seq);
    hashes.push(entry.hash);
    prev = entry.hash;
    expectedSeq += 1;
  }
  const head = readHead(file);
  if (head && (head.seq > lines.length || (head.seq > 0 && hashes[head.seq - 1] !== head.hash))) {
    const reason =
      head.seq > lines.length
        ? `the log ends at seq ${lines.length} but its head file says seq ${head.seq}: entries were removed from the end`
        : `entry ${head.seq} does not match the hash in the head file`;
    const seq = Math.min(head.seq, lines.length + 1);
    return { ok: false, entries: seq - 1, line: seq, seq, reason };
  }
  return { ok: true, entries: lines.length };
}

function readHead(file: string): { seq: number; hash: string } | undefined {
  const path = headFileOf(file);
  if (!existsSync(path)) return undefined;
  try {
    const head = JSON.parse(readFileSync(path, "utf8")) as { seq: unknown; hash: unknown };
    return typeof head.seq === "number" && typeof head.hash === "string" ? { seq: head.seq, hash: head.hash } : undefined;
  } catch {
    return undefined;
  }
}

/** Every parseable entry of the log, in file order (for tail and export; verify checks integrity). */
export function readAuditEntries(file: string): AuditEntry[] {
  if (!existsSync(file)) return [];
  const entries: AuditEntry[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      entries.push(JSON.parse(line) as AuditEntry);
    } catch {
      // A damaged line is reported by verify; tail and export show the rest.
    }
  }
  return entries;
}

function compact(actor: AuditActor): AuditActor {
  return Object.fromEntries(Object.entries(actor).filter(([, value]) => value !== undefined));
}
