/**
 * Splits a formatted message into parts of at most `limit` characters (UTF-16 units, as Telegram
 * counts). The text is first cut into atoms — one character, one escape sequence (`\.`), one HTML
 * entity (`&amp;`) or tag, one MarkdownV2 marker, one whole link — so a cut never falls inside one.
 * Formatting still open at a cut is closed at the end of the part and opened again at the start of
 * the next, so every part is valid on its own. Cuts prefer a paragraph break, then a line break,
 * then a space, in the second half of the part; only a text without any falls back to a hard cut.
 */

/** Formatting opened by an atom: the text that opens it again in the next part, and the text that closes it. */
export interface OpenFormatting {
  key: string;
  opener: string;
  closer: string;
}

/** The smallest unit the splitter moves: never cut inside. */
export interface Atom {
  raw: string;
  open?: OpenFormatting;
  /** Closes the innermost open formatting with this key. */
  close?: string;
}

type BreakLevel = 3 | 2 | 1;

interface Candidate {
  /** Cut before atoms[index]. */
  index: number;
  level: BreakLevel;
  /** Characters of the part up to the cut. */
  length: number;
  stack: OpenFormatting[];
}

/** Joins the atoms into parts of at most `limit` characters each (see the file comment). */
export function splitAtoms(atoms: readonly Atom[], limit: number): string[] {
  const parts: string[] = [];
  let start = 0;
  let stack: OpenFormatting[] = [];
  while (start < atoms.length) {
    const prefix = stack.map((entry) => entry.opener).join("");
    let length = prefix.length;
    let current = stack;
    let candidates: Candidate[] = [];
    let index = start;
    let cut: { index: number; stack: OpenFormatting[] } | undefined;
    for (; index < atoms.length; index++) {
      const atom = atoms[index]!;
      const next = applyAtom(current, atom);
      if (index > start && length + atom.raw.length + closersLength(next) > limit) {
        cut = chooseCut(candidates, limit) ?? { index, stack: current };
        break;
      }
      length += atom.raw.length;
      current = next;
      const level = breakLevel(atoms, index);
      if (level) candidates.push({ index: index + 1, level, length, stack: current });
    }
    if (!cut) {
      parts.push(prefix + joinRaw(atoms, start, atoms.length) + closers(current));
      break;
    }
    parts.push(prefix + joinRaw(atoms, start, cut.index) + closers(cut.stack));
    start = cut.index;
    stack = cut.stack;
    candidates = [];
  }
  return parts;
}

function chooseCut(candidates: readonly Candidate[], limit: number): Candidate | undefined {
  for (const level of [3, 2, 1] as const) {
    for (let index = candidates.length - 1; index >= 0; index--) {
      const candidate = candidates[index]!;
      if (candidate.length < limit / 2) break;
      if (candidate.level === level) return candidate;
    }
  }
  return candidates[candidates.length - 1];
}

/** A whitespace atom that ends a paragraph (3), a line (2) or a word (1). */
function breakLevel(atoms: readonly Atom[], index: number): BreakLevel | undefined {
  const atom = atoms[index]!;
  if (atom.open || atom.close) return undefined;
  if (atom.raw === "\n") {
    const nextAtom = atoms[index + 1];
    if (nextAtom?.raw === "\n" && !nextAtom.open && !nextAtom.close) return undefined; // cut after the blank line
    const previous = atoms[index - 1];
    return previous?.raw === "\n" ? 3 : 2;
  }
  return atom.raw === " " || atom.raw === "\t" ? 1 : undefined;
}

function applyAtom(stack: OpenFormatting[], atom: Atom): OpenFormatting[] {
  if (atom.open) return [...stack, atom.open];
  if (atom.close) {
    const at = stack.map((entry) => entry.key).lastIndexOf(atom.close);
    return at < 0 ? stack : [...stack.slice(0, at), ...stack.slice(at + 1)];
  }
  return stack;
}

function closers(stack: readonly OpenFormatting[]): string {
  let text = "";
  for (let index = stack.length - 1; index >= 0; index--) text += stack[index]!.closer;
  return text;
}

function closersLength(stack: readonly OpenFormatting[]): number {
  let length = 0;
  for (const entry of stack) length += entry.closer.length;
  return length;
}

function joinRaw(atoms: readonly Atom[], from: number, to: number): string {
  let text = "";
  for (let index = from; index < to; index++) text += atoms[index]!.raw;
  return text;
}
