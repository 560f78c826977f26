import { escapeMarkdownV2 } from "./escape.js";

/**
 * Common Markdown (what language models write) as Telegram MarkdownV2: fenced code blocks, inline
 * code, **bold**, *italic* / _italic_, ~~strike~~, [links](url) and `#` headings (shown bold).
 * Everything else is escaped, so a marker without its closing half shows as written.
 */
export function markdownToMarkdownV2(markdown: string): string {
  let output = "";
  let index = 0;
  while (index < markdown.length) {
    const fence = /^```([\w+#.-]*)\n([\s\S]*?)\n?```/.exec(markdown.slice(index));
    if (fence && (index === 0 || markdown[index - 1] === "\n")) {
      output += `\`\`\`${fence[1]}\n${escapeCode(fence[2]!)}\n\`\`\``;
      index += fence[0].length;
      continue;
    }
    const lineEnd = markdown.indexOf("\n", index);
    const end = lineEnd < 0 ? markdown.length : lineEnd;
    const line = markdown.slice(index, end);
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    output += heading ? `*${inline(heading[1]!.replace(/\s+#+\s*$/, ""))}*` : inline(line);
    if (lineEnd >= 0) output += "\n";
    index = end + 1;
  }
  return output;
}

const SPANS: Array<{ open: string; close: string; to: string }> = [
  { open: "**", close: "**", to: "*" },
  { open: "__", close: "__", to: "*" },
  { open: "~~", close: "~~", to: "~" },
  { open: "*", close: "*", to: "_" },
  { open: "_", close: "_", to: "_" },
];

/** One line's inline formatting. */
function inline(text: string): string {
  let output = "";
  let plain = "";
  let index = 0;
  const flush = () => {
    output += escapeMarkdownV2(plain);
    plain = "";
  };
  while (index < text.length) {
    const rest = text.slice(index);
    const code = /^`([^`\n]+)`/.exec(rest);
    if (code) {
      flush();
      output += `\`${escapeCode(code[1]!)}\``;
      index += code[0].length;
      continue;
    }
    const link = /^\[([^\]\n]+)\]\(([^()\s]+)\)/.exec(rest);
    if (link) {
      flush();
      output += `[${inline(link[1]!)}](${link[2]!.replace(/[)\\]/g, (character) => `\\${character}`)})`;
      index += link[0].length;
      continue;
    }
    const span = SPANS.find((candidate) => rest.startsWith(candidate.open));
    // Underscores inside a word (snake_case) are not emphasis.
    const intraword = span?.open.startsWith("_") === true && index > 0 && /\w/.test(text[index - 1]!);
    if (span && !intraword) {
      const close = rest.indexOf(span.close, span.open.length + 1);
      const content = close < 0 ? "" : rest.slice(span.open.length, close);
      // A span needs text hugging its markers (`2 * 3 * 4` is arithmetic, not italic).
      if (content !== "" && content.trim() === content && !content.includes(span.open)) {
        flush();
        output += `${span.to}${inline(content)}${span.to}`;
        index += close + span.close.length;
        continue;
      }
    }
    plain += text[index];
    index += 1;
  }
  flush();
  return output;
}

/** Inside code, MarkdownV2 reserves only the backtick and the backslash. */
function escapeCode(code: string): string {
  return code.replace(/[`\\]/g, (character) => `\\${character}`);
}
