import type { Store } from "../store/index.js";
import type { InboundMessage } from "./types.js";

/** Store namespaces of the channel layer. */
export const INBOX_NAMESPACE = "channel-inbox";
export const SEEN_NAMESPACE = "channel-seen";
export const CHANNEL_STATE_NAMESPACE = "channel-state";

/**
 * The durable inbound queue: an accepted message is written (with its dedup mark) in one
 * transaction before the adapter acknowledges it, and removed once processed. A restart processes
 * what is left; a redelivered message (same channel, chat and message id) is dropped.
 */
export class Inbox {
  private sequence = 0;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {
    const last = store.listState(INBOX_NAMESPACE).at(-1);
    if (last) this.sequence = Number(last.key.split("-")[1] ?? 0);
  }

  /** Queues a message; returns its queue key, or undefined when it was already seen. */
  add(message: InboundMessage): string | undefined {
    const seen = dedupKey(message);
    return this.store.transaction(() => {
      if (!this.store.compareAndSetState(SEEN_NAMESPACE, seen, { at: this.now() }, null)) return undefined;
      const key = `${String(this.now()).padStart(15, "0")}-${String(++this.sequence).padStart(12, "0")}`;
      this.store.compareAndSetState(INBOX_NAMESPACE, key, message, null);
      return key;
    });
  }

  /** What is still queued, oldest first. */
  pending(): Array<{ key: string; message: InboundMessage }> {
    return this.store.listState(INBOX_NAMESPACE).map((entry) => ({ key: entry.key, message: entry.value as InboundMessage }));
  }

  done(key: string): void {
    this.store.deleteState(INBOX_NAMESPACE, key);
  }

  /** Forgets dedup marks older than `maxAgeMs` (platforms stop redelivering long before). */
  prune(maxAgeMs: number): number {
    const cutoff = this.now() - maxAgeMs;
    let removed = 0;
    for (const entry of this.store.listState(SEEN_NAMESPACE)) {
      const at = (entry.value as { at?: number } | null)?.at ?? 0;
      if (at < cutoff && this.store.deleteState(SEEN_NAMESPACE, entry.key)) removed++;
    }
    return removed;
  }
}

export function dedupKey(message: Pick<InboundMessage, "channel" | "chatId" | "messageId">): string {
  return `${message.channel}\u0000${message.chatId}\u0000${message.messageId}`;
}
