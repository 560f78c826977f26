/**
 * Telegram's text formats. MarkdownV2 reserves `_*[]()~\`>#+-=|{}.!` and the backslash; each must be
 * escaped with a backslash outside entities (https://core.telegram.org/bots/api#markdownv2-style).
 * HTML needs `&`, `<` and `>` as entities (https://core.telegram.org/bots/api#html-style).
 */

/** Every character MarkdownV2 reserves, the backslash included. */
export const MARKDOWN_V2_SPECIAL = "_*[]()~`>#+-=|{}.!\\";

const markdownV2Pattern = /[_*[\]()~`>#+\-=|{}.!\\]/g;

/** Plain text as MarkdownV2 that renders exactly that text. */
export function escapeMarkdownV2(text: string): string {
  return text.replace(markdownV2Pattern, (character) => `\\${character}`);
}

/** The inverse of `escapeMarkdownV2` (a backslash makes the next character literal). */
export function unescapeMarkdownV2(text: string): string {
  return text.replace(/\\([\s\S])/g, "$1");
}

/** Plain text as Telegram HTML that renders exactly that text. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>]/g, (character) => (character === "&" ? "&amp;" : character === "<" ? "&lt;" : "&gt;"));
}

/** Escapes one character (a code point) for a format: the unit the message splitter works with. */
export function escapeCharacter(character: string, parser: "markdown_v2" | "html" | "plain"): string {
  if (parser === "markdown_v2") return MARKDOWN_V2_SPECIAL.includes(character) ? `\\${character}` : character;
  if (parser === "html") return escapeHtml(character);
  return character;
}
