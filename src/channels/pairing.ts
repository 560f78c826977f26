import { randomInt } from "node:crypto";
import { LocalAgentError } from "../errors/index.js";
import type { Store } from "../store/index.js";

export const PAIRING_NAMESPACE = "channel-pairing";

export type PairingStatus = "pending" | "paired" | "revoked";

/** A chat user who asked to pair (a code was issued) or was paired by the owner. */
export interface PairingRecord {
  channel: string;
  userId: string;
  userName?: string;
  /** The chat the code was sent to (the pairing confirmation goes there too). */
  chatId: string;
  code: string;
  status: PairingStatus;
  requestedAt: number;
  decidedAt?: number;
  decidedBy?: string;
  /** Messages ignored since the code was issued (strangers get one code, then silence). */
  ignored: number;
}

/** Letters and digits that cannot be misread (no 0/O, 1/I/L). */
const ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LENGTH = 8;

/**
 * Pairing: an unknown user's first message gets a one-time code; the owner approves it with
 * `localagent pairing approve CODE`. Records live in the store (key `user:CHANNEL\0USER` and
 * `code:CODE`), so they survive restarts.
 */
export class Pairing {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  get(channel: string, userId: string): PairingRecord | undefined {
    return this.store.getState(PAIRING_NAMESPACE, userKey(channel, userId))?.value as PairingRecord | undefined;
  }

  isPaired(channel: string, userId: string): boolean {
    return this.get(channel, userId)?.status === "paired";
  }

  /**
   * A stranger wrote: returns `{code, fresh: true}` the first time (send them the code), else the
   * existing record with `fresh: false` (ignore them). A revoked user gets no new code.
   */
  request(channel: string, userId: string, chatId: string, userName?: string): { record: PairingRecord; fresh: boolean } {
    for (;;) {
      const key = userKey(channel, userId);
      const current = this.store.getState(PAIRING_NAMESPACE, key);
      if (current) {
        const record = { ...(current.value as PairingRecord) };
        record.ignored += 1;
        if (this.store.compareAndSetState(PAIRING_NAMESPACE, key, record, current.version)) return { record, fresh: false };
        continue;
      }
      const record: PairingRecord = {
        channel,
        userId,
        ...(userName ? { userName } : {}),
        chatId,
        code: newCode(),
        status: "pending",
        requestedAt: this.now(),
        ignored: 0,
      };
      const created = this.store.transaction(() => {
        if (!this.store.compareAndSetState(PAIRING_NAMESPACE, key, record, null)) return false;
        this.store.compareAndSetState(PAIRING_NAMESPACE, `code:${record.code}`, { key }, null);
        return true;
      });
      if (created) return { record, fresh: true };
    }
  }

  /** Approves a pending code. Throws `bad_request` for an unknown or used code. */
  approve(code: string, by: string): PairingRecord {
    const normalised = code.trim().toUpperCase().replace(/[\s-]/g, "");
    const pointer = this.store.getState(PAIRING_NAMESPACE, `code:${normalised}`)?.value as { key: string } | undefined;
    if (!pointer) throw new LocalAgentError("bad_request", `no pairing request with code ${normalised}`);
    return this.update(pointer.key, (record) => {
      if (record.status !== "pending")
        throw new LocalAgentError("bad_request", `pairing code ${normalised} was already used (${record.status})`);
      return { ...record, status: "paired", decidedAt: this.now(), decidedBy: by };
    });
  }

  /** Pairs a user directly (no code), e.g. from the allow-list. */
  pair(channel: string, userId: string, chatId: string, by: string): PairingRecord {
    const key = userKey(channel, userId);
    if (!this.store.getState(PAIRING_NAMESPACE, key)) this.request(channel, userId, chatId);
    return this.update(key, (record) => ({ ...record, status: "paired", decidedAt: this.now(), decidedBy: by }));
  }

  /** Revokes a user: `USER` (every channel) or `CHANNEL:USER`. Returns the records changed. */
  revoke(user: string, by: string): PairingRecord[] {
    const changed: PairingRecord[] = [];
    for (const record of this.list()) {
      if (record.status === "revoked") continue;
      if (record.userId !== user && `${record.channel}:${record.userId}` !== user) continue;
      changed.push(
        this.update(userKey(record.channel, record.userId), (current) => ({
          ...current,
          status: "revoked",
          decidedAt: this.now(),
          decidedBy: by,
        })),
      );
    }
    if (changed.length === 0) throw new LocalAgentError("bad_request", `no paired or pending user "${user}" (use USER or CHANNEL:USER)`);
    return changed;
  }

  list(): PairingRecord[] {
    return this.store
      .listState(PAIRING_NAMESPACE)
      .filter((entry) => entry.key.startsWith("user:"))
      .map((entry) => entry.value as PairingRecord)
      .sort((a, b) => a.requestedAt - b.requestedAt);
  }

  private update(key: string, change: (record: PairingRecord) => PairingRecord): PairingRecord {
    for (;;) {
      const current = this.store.getState(PAIRING_NAMESPACE, key);
      if (!current) throw new LocalAgentError("bad_request", "pairing request not found");
      const next = change(current.value as PairingRecord);
      if (this.store.compareAndSetState(PAIRING_NAMESPACE, key, next, current.version)) return next;
    }
  }
}

function userKey(channel: string, userId: string): string {
  return `user:${channel}\u0000${userId}`;
}

function newCode(): string {
  let code = "";
  for (let index = 0; index < CODE_LENGTH; index++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code;
}
