import { escapeCharacter } from "./escape.js";
import type { Atom, OpenFormatting } from "./split-message.js";

/** Plain text as atoms, each character already escaped for `parser`. */
export function plainAtoms(text: string, parser: "markdown_v2" | "html" | "plain"): Atom[] {
  const atoms: Atom[] = [];
  for (const character of text) atoms.push({ raw: escapeCharacter(character, parser) });
  return atoms;
}

const TOGGLES = ["||", "__", "*", "_", "~"] as const;

/**
 * Text already written in MarkdownV2, as atoms: escapes, entity markers (`*`, `_`, `__`, `~`, `||`,
 * `` ` ``, ```` ``` ````) and whole links stay whole. Lenient: what Telegram would refuse is passed on
 * as is (the send then fails with Telegram's reason).
 */
export function markdownV2Atoms(text: string): Atom[] {
  const atoms: Atom[] = [];
  const open: string[] = [];
  let mode: "normal" | "code" | "pre" = "normal";
  let index = 0;
  while (index < text.length) {
    const rest = text.slice(index, index + 3);
    if (text[index] === "\\" && index + 1 < text.length) {
      const escaped = codePointAt(text, index + 1);
      atoms.push({ raw: `\\${escaped}` });
      index += 1 + escaped.length;
      continue;
    }
    if (mode === "pre") {
      if (rest === "```") {
        atoms.push({ raw: "```", close: "```" });
        mode = "normal";
        index += 3;
        continue;
      }
    } else if (mode === "code") {
      if (text[index] === "`") {
        atoms.push({ raw: "`", close: "`" });
        mode = "normal";
        index += 1;
        continue;
      }
    } else if (rest === "```") {
      const language = /^```([\w+#.-]*)\n/.exec(text.slice(index));
      const opener = language ? language[0] : "```";
      atoms.push({ raw: opener, open: { key: "```", opener, closer: "```" } });
      mode = "pre";
      index += opener.length;
      continue;
    } else if (text[index] === "`") {
      atoms.push({ raw: "`", open: { key: "`", opener: "`", closer: "`" } });
      mode = "code";
      index += 1;
      continue;
    } else {
      const link = linkAt(text, index);
      if (link) {
        atoms.push({ raw: link });
        index += link.length;
        continue;
      }
      const toggle = TOGGLES.find((marker) => text.startsWith(marker, index));
      if (toggle) {
        const at = open.lastIndexOf(toggle);
        if (at >= 0) {
          open.splice(at, 1);
          atoms.push({ raw: toggle, close: toggle });
        } else {
          open.push(toggle);
          atoms.push({ raw: toggle, open: { key: toggle, opener: toggle, closer: toggle } });
        }
        index += toggle.length;
        continue;
      }
    }
    const character = codePointAt(text, index);
    atoms.push({ raw: character });
    index += character.length;
  }
  return atoms;
}

/** `[text](url)` or `![emoji](tg://emoji?id=…)` starting at `index`, escapes honoured; undefined if none. */
function linkAt(text: string, index: number): string | undefined {
  let position = index;
  if (text[position] === "!" && text[position + 1] === "[") position += 1;
  if (text[position] !== "[") return undefined;
  position += 1;
  while (position < text.length && text[position] !== "]") position += text[position] === "\\" ? 2 : 1;
  if (text[position + 1] !== "(") return undefined;
  position += 2;
  while (position < text.length && text[position] !== ")") position += text[position] === "\\" ? 2 : 1;
  if (position >= text.length) return undefined;
  return text.slice(index, position + 1);
}

/**
 * Text already written in Telegram HTML, as atoms: tags and entities stay whole, and a tag still open
 * at a cut is closed and opened again (with its attributes) in the next part.
 */
export function htmlAtoms(text: string): Atom[] {
  const atoms: Atom[] = [];
  let index = 0;
  while (index < text.length) {
    if (text[index] === "<") {
      const end = text.indexOf(">", index);
      const tag = end < 0 ? undefined : /^<(\/?)([a-zA-Z][\w-]*)[^<>]*>$/.exec(text.slice(index, end + 1));
      if (tag) {
        const raw = tag[0];
        const name = tag[2]!.toLowerCase();
        if (tag[1]) atoms.push({ raw, close: name });
        else atoms.push({ raw, open: { key: name, opener: raw, closer: `</${name}>` } satisfies OpenFormatting });
        index += raw.length;
        continue;
      }
    }
    if (text[index] === "&") {
      const entity = /^&(?:#\d+|#x[\da-fA-F]+|[a-zA-Z]+);/.exec(text.slice(index, index + 12));
      if (entity) {
        atoms.push({ raw: entity[0] });
        index += entity[0].length;
        continue;
      }
    }
    const character = codePointAt(text, index);
    atoms.push({ raw: character });
    index += character.length;
  }
  return atoms;
}

/** The whole character (one or two UTF-16 units) at `index`. */
function codePointAt(text: string, index: number): string {
  return String.fromCodePoint(text.codePointAt(index)!);
}
