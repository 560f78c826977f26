// The comparison for the timing wheel: a timer queue on a binary min-heap, written the way a careful
// implementation would be. Array-backed; every entry is the caller's handle and knows its index, so
// `cancel` removes it in O(log n) without a search. Ties fire in insertion order (a sequence number),
// as the wheel's do. Like the wheel, one Node timer is armed for the earliest entry while started.

/** A binary-heap timer queue with the wheel's interface: `schedule(at, callback) → handle`, `cancel(handle)`. */
export class HeapTimerQueue {
  constructor({ clock }) {
    this.clock = clock;
    /** The heap: entries[0] fires first; the children of i are 2i+1 and 2i+2. */
    this.entries = [];
    this.sequence = 0;
    this.handle = undefined;
    this.armedFor = Infinity;
    this.running = false;
  }

  get size() {
    return this.entries.length;
  }

  /** Calls `callback` at `at` (ms since the epoch). The returned entry is the handle. */
  schedule(at, callback) {
    const entry = { at, sequence: this.sequence++, callback, index: this.entries.length };
    this.entries.push(entry);
    this.siftUp(entry.index, entry);
    if (this.running && entry.index === 0) this.arm();
    return entry;
  }

  /** Removes a timer; false when it already fired or was cancelled. */
  cancel(entry) {
    const index = entry.index;
    if (index < 0) return false;
    entry.index = -1;
    entry.callback = undefined;
    const last = this.entries.pop();
    if (last !== entry) {
      // The last entry fills the hole, then moves up or down to where it belongs.
      if (index > 0 && before(last, this.entries[(index - 1) >> 1])) this.siftUp(index, last);
      else this.siftDown(index, last);
    }
    if (index === 0 && this.running) this.arm();
    return true;
  }

  /** Fires every entry due at `now`, earliest first. Returns how many fired. */
  advance(now = this.clock.now()) {
    let fired = 0;
    while (this.entries.length > 0 && this.entries[0].at <= now) {
      const entry = this.entries[0];
      const callback = entry.callback;
      this.cancel(entry);
      fired += 1;
      callback();
    }
    if (this.running) this.arm();
    return fired;
  }

  start() {
    this.running = true;
    this.advance();
  }

  stop() {
    this.running = false;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = Infinity;
  }

  /** Moves `entry` from the hole at `index` towards the root. */
  siftUp(index, entry) {
    const entries = this.entries;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = entries[parentIndex];
      if (!before(entry, parent)) break;
      entries[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    entries[index] = entry;
    entry.index = index;
  }

  /** Moves `entry` from the hole at `index` towards the leaves. */
  siftDown(index, entry) {
    const entries = this.entries;
    const length = entries.length;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && before(entries[child + 1], entries[child])) child += 1;
      const smaller = entries[child];
      if (!before(smaller, entry)) break;
      entries[index] = smaller;
      smaller.index = index;
      index = child;
    }
    entries[index] = entry;
    entry.index = index;
  }

  /** Keeps the one Node timer armed for the root entry. */
  arm() {
    const first = this.entries[0];
    const wake = first ? first.at : Infinity;
    if (this.handle && this.armedFor === wake) return;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = wake;
    if (first) {
      this.handle = this.clock.setTimeout(() => {
        this.handle = undefined;
        this.armedFor = Infinity;
        this.advance();
      }, wake - this.clock.now());
    }
  }

  /** True when the heap order holds everywhere (a check for the benchmark, O(n)). */
  isValid() {
    return this.entries.every((entry, index) => entry.index === index && (index === 0 || !before(entry, this.entries[(index - 1) >> 1])));
  }
}

function before(a, b) {
  return a.at < b.at || (a.at === b.at && a.sequence < b.sequence);
}
