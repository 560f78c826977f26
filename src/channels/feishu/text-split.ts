/**
 * Splits `text` into pieces of at most `limit` UTF-16 code units, cutting at the last paragraph
 * break, line break or space in the second half of the window when there is one, and never
 * inside a surrogate pair. Joining the pieces gives back the text (minus the whitespace cut at).
 */
export function splitText(text: string, limit: number): string[] {
  if (limit < 2) throw new RangeError("splitText: limit must be at least 2");
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit);
    let cut = -1;
    let skip = 0;
    for (const separator of ["\n\n", "\n", " "]) {
      const at = window.lastIndexOf(separator);
      if (at >= limit / 2) {
        cut = at;
        skip = separator.length;
        break;
      }
    }
    if (cut < 0) {
      cut = limit;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
    }
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut + skip);
  }
  if (rest.length > 0 || pieces.length === 0) pieces.push(rest);
  return pieces;
}
