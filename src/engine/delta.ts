import { isDeepStrictEqual } from "node:util";

/**
 * What is new in `current` compared with the previous run's value (`cache_mode: delta`).
 * Text: the lines not present last time, in order. Arrays: the items not present last time.
 * Anything else: the value when it changed, else null.
 */
export function deltaOf(previous: unknown, current: unknown): unknown {
  if (typeof current === "string") {
    const seen = new Set(typeof previous === "string" ? previous.split("\n") : []);
    return current
      .split("\n")
      .filter((line) => line !== "" && !seen.has(line))
      .join("\n");
  }
  if (Array.isArray(current)) {
    const before = Array.isArray(previous) ? previous : [];
    return current.filter((item) => !before.some((old) => isDeepStrictEqual(old, item)));
  }
  return isDeepStrictEqual(previous, current) ? null : current;
}
