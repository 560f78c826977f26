import type { MessageFormat } from "../types.js";
import { markdownToMarkdownV2 } from "./markdown.js";
import { splitAtoms, type Atom } from "./split-message.js";
import { htmlAtoms, markdownV2Atoms, plainAtoms } from "./tokenize.js";

/** How the channel renders plain text (`message_parser:` in the platform entry). */
export type TelegramMessageParser = "markdown_v2" | "html" | "plain";

/** Telegram's limit for one message's text. */
export const TELEGRAM_MAX_MESSAGE_LENGTH = 4096;

export interface RenderedMessage {
  /** `parse_mode` for sendMessage; undefined sends plain text. */
  parseMode: "MarkdownV2" | "HTML" | undefined;
  /** The parts to send in order, each within the limit and valid on its own. */
  parts: string[];
}

/**
 * Turns an outbound text into the parts to send. Text marked `markdown_v2` or `html` is already
 * formatted and sent in that mode; text marked `markdown` is converted to MarkdownV2 (with the
 * markdown_v2 parser); any other text is plain and escaped for the channel's parser, so a reply
 * containing `_`, `*` or `<` shows exactly as written.
 */
export function renderMessage(
  text: string,
  format: MessageFormat | undefined,
  parser: TelegramMessageParser,
  limit = TELEGRAM_MAX_MESSAGE_LENGTH,
): RenderedMessage {
  let atoms: Atom[];
  let parseMode: RenderedMessage["parseMode"];
  if (format === "markdown_v2" || (format === "markdown" && parser === "markdown_v2")) {
    atoms = markdownV2Atoms(format === "markdown" ? markdownToMarkdownV2(text) : text);
    parseMode = "MarkdownV2";
  } else if (format === "html") {
    atoms = htmlAtoms(text);
    parseMode = "HTML";
  } else {
    atoms = plainAtoms(text, parser);
    parseMode = parser === "markdown_v2" ? "MarkdownV2" : parser === "html" ? "HTML" : undefined;
  }
  // Telegram refuses a blank message: a blank tail left by a hard cut is dropped (a blank text gives no parts).
  return { parseMode, parts: splitAtoms(atoms, limit).filter((part) => part.trim() !== "") };
}
