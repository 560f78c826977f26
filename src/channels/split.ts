/**
 * Splits text into pieces of at most `max` characters (UTF-16 code units, as platforms count),
 * cutting at the last paragraph break, else line break, else space within the limit; a word longer
 * than the limit is cut, never inside a surrogate pair. Joined back they give the text (breaks
 * at a cut are dropped only when they are whitespace).
 */
export function splitMessage(text: string, max: number): string[] {
  if (max < 2) throw new RangeError("max must be at least 2");
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max + 1);
    let cut = lastBreak(window, "\n\n", max);
    if (cut <= 0) cut = lastBreak(window, "\n", max);
    if (cut <= 0) cut = lastBreak(window, " ", max);
    let next: number;
    if (cut > 0) {
      next = cut;
      while (next < rest.length && (rest[next] === "\n" || rest[next] === " ")) next++;
    } else {
      cut = max;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
      next = cut;
    }
    pieces.push(rest.slice(0, cut).trimEnd() || rest.slice(0, cut));
    rest = rest.slice(next);
  }
  if (rest.length > 0 || pieces.length === 0) pieces.push(rest);
  return pieces;
}

/** Index where `separator` starts, last occurrence with the piece before it non-trivial. */
function lastBreak(window: string, separator: string, max: number): number {
  const index = window.lastIndexOf(separator, max);
  // A break in the first tenth would leave tiny pieces; a space or hard cut does better then.
  return index > max / 10 ? index : -1;
}
