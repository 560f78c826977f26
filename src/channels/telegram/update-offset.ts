import type { Store } from "../../store/index.js";
import type { ChannelState } from "../types.js";

/**
 * Where a polling channel keeps the offset of the next update to fetch (last processed update id + 1).
 * It is saved after each update is durably queued, so a restart neither loses nor repeats one
 * (a crash between the two repeats at most that update, which the queue deduplicates).
 */
export interface UpdateOffsetStore {
  load(): number | undefined;
  save(offset: number): void;
}

/** Namespace of the store's shared state that holds each channel's update offset. */
export const UPDATE_OFFSET_NAMESPACE = "channel-update-offset";

/** Keeps the offset in the daemon's store (SQLite), under the channel's name. */
export function createStoreUpdateOffset(store: Store, channel: string): UpdateOffsetStore {
  return {
    load() {
      const value = store.getState(UPDATE_OFFSET_NAMESPACE, channel)?.value;
      return typeof value === "number" ? value : undefined;
    },
    save(offset) {
      // One poller per channel writes this key; retry on the rare version race instead of failing.
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = store.getState(UPDATE_OFFSET_NAMESPACE, channel);
        if (typeof current?.value === "number" && current.value >= offset) return;
        if (store.compareAndSetState(UPDATE_OFFSET_NAMESPACE, channel, offset, current?.version ?? null)) return;
      }
    },
  };
}

/** An offset kept in memory only (tests, or a channel run without a store). */
export function createMemoryUpdateOffset(initial?: number): UpdateOffsetStore {
  let offset = initial;
  return {
    load: () => offset,
    save(value) {
      offset = value;
    },
  };
}

/** Key of the offset in a channel's durable state (ChannelContext.state). */
export const UPDATE_OFFSET_KEY = "telegram.update_offset";

/** Keeps the offset in the channel's durable state given by the channel manager. */
export function stateUpdateOffset(state: ChannelState): UpdateOffsetStore {
  return {
    load() {
      const value = state.get(UPDATE_OFFSET_KEY);
      return typeof value === "number" ? value : undefined;
    },
    save(offset) {
      state.set(UPDATE_OFFSET_KEY, offset);
    },
  };
}
