import { describe, expect, it } from "vitest";
import { escapeHtml, escapeMarkdownV2, unescapeMarkdownV2 } from "./escape.js";
import { assertPlainMarkdownV2 } from "../../../test/helpers/telegram.js";
import { markdownToMarkdownV2 } from "./markdown.js";
import { renderMessage } from "./render.js";

const SPECIAL = "_*[]()~`>#+-=|{}.!\\";

/** Every tag closed in order and every & starting an entity. */
function assertValidHtml(part: string): void {
  const stack: string[] = [];
  for (const match of part.matchAll(/<(\/?)([a-z]+)[^>]*>/g)) {
    if (match[1]) expect(stack.pop()).toBe(match[2]);
    else stack.push(match[2]!);
  }
  expect(stack).toEqual([]);
  for (const match of part.matchAll(/&/g)) expect(part.slice(match.index)).toMatch(/^&(amp|lt|gt|quot|#\d+);/);
  expect(part.replace(/<[^>]*>/g, "")).not.toMatch(/[<>]/);
}

function sampleText(length: number): string {
  const words = [
    "alert:",
    "disk",
    "/var/log",
    "95%",
    "full!",
    "(see",
    "[docs]",
    "a_b*c",
    "~x~",
    "`code`",
    "#1",
    "a+b=c",
    "{x|y}",
    "1.5",
    "back\\slash",
    "emoji 🚀",
  ];
  let text = "";
  let index = 0;
  while (text.length < length) {
    const word = words[index % words.length]!;
    text += word + (index % 37 === 36 ? "\n\n" : index % 11 === 10 ? "\n" : " ");
    index++;
  }
  return text.slice(0, length);
}

describe("escaping", () => {
  it("escapes every MarkdownV2 special character and the backslash, and round-trips", () => {
    expect(escapeMarkdownV2(SPECIAL)).toBe(
      SPECIAL.split("")
        .map((character) => `\\${character}`)
        .join(""),
    );
    expect(escapeMarkdownV2("v1.2 (beta) - 50% off!")).toBe("v1\\.2 \\(beta\\) \\- 50% off\\!");
    const text = sampleText(500);
    expect(unescapeMarkdownV2(escapeMarkdownV2(text))).toBe(text);
    assertPlainMarkdownV2(escapeMarkdownV2(text));
  });

  it("escapes HTML's three reserved characters", () => {
    expect(escapeHtml("a < b && c > d")).toBe("a &lt; b &amp;&amp; c &gt; d");
  });
});

describe("renderMessage", () => {
  it("sends short plain text as one escaped MarkdownV2 part", () => {
    expect(renderMessage("Disk 95% full (sda1).", undefined, "markdown_v2")).toEqual({
      parseMode: "MarkdownV2",
      parts: ["Disk 95% full \\(sda1\\)\\."],
    });
    expect(renderMessage("a < b", "plain", "html")).toEqual({ parseMode: "HTML", parts: ["a &lt; b"] });
    expect(renderMessage("a_b", undefined, "plain")).toEqual({ parseMode: undefined, parts: ["a_b"] });
  });

  it("splits 10,000 characters into valid MarkdownV2 parts whose unescaped concatenation is the text", () => {
    const text = sampleText(10_000);
    const { parts } = renderMessage(text, undefined, "markdown_v2");
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(4096);
      assertPlainMarkdownV2(part);
    }
    expect(parts.map(unescapeMarkdownV2).join("")).toBe(text);
    // Cuts fall on whitespace (the text has paragraph and line breaks well within each part).
    for (const part of parts.slice(0, -1)) expect(unescapeMarkdownV2(part)).toMatch(/\s$/);
  });

  it("prefers a paragraph break, then a line break, then a space", () => {
    const paragraph = `${"a".repeat(30)}\n\n${"b".repeat(10)}\n${"c".repeat(5)} ${"d".repeat(20)}`;
    expect(renderMessage(paragraph, undefined, "plain", 50).parts[0]).toBe(`${"a".repeat(30)}\n\n`);
    const line = `${"a".repeat(30)}\n${"b".repeat(5)} ${"c".repeat(30)}`;
    expect(renderMessage(line, undefined, "plain", 40).parts[0]).toBe(`${"a".repeat(30)}\n`);
    const words = `${"a".repeat(30)} ${"b".repeat(30)}`;
    expect(renderMessage(words, undefined, "plain", 40).parts).toEqual([`${"a".repeat(30)} `, "b".repeat(30)]);
  });

  it("never cuts an escape sequence, a surrogate pair or an HTML entity", () => {
    const dots = ".".repeat(101);
    const { parts } = renderMessage(dots, undefined, "markdown_v2", 10);
    for (const part of parts) assertPlainMarkdownV2(part);
    expect(parts.map(unescapeMarkdownV2).join("")).toBe(dots);
    const rockets = "🚀".repeat(30);
    expect(renderMessage(rockets, undefined, "plain", 7).parts.join("")).toBe(rockets);
    for (const part of renderMessage(rockets, undefined, "plain", 7).parts) expect(part).toMatch(/^(🚀)+$/u);
    const html = renderMessage("<&>".repeat(40), undefined, "html", 11);
    for (const part of html.parts) assertValidHtml(part);
  });

  it("closes formatting open at a cut and opens it again in the next part (MarkdownV2)", () => {
    const text = `*bold ${"word ".repeat(30)}end* and \`\`\`python\n${"print(1)\n".repeat(20)}\`\`\` done\\.`;
    const { parseMode, parts } = renderMessage(text, "markdown_v2", "plain", 80);
    expect(parseMode).toBe("MarkdownV2");
    expect(parts.length).toBeGreaterThan(2);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(80);
      const fences = part.split("```").length - 1;
      expect(fences % 2).toBe(0);
      const outsideCode = part
        .split("```")
        .filter((_, index) => index % 2 === 0)
        .join("");
      expect(outsideCode.replace(/\\./g, "").split("*").length % 2).toBe(1);
    }
    const continued = parts.filter((part) => part.includes("print")).slice(1);
    expect(continued.length).toBeGreaterThan(0);
    for (const part of continued) expect(part).toMatch(/^```python\n/);
  });

  it("closes and reopens HTML tags with their attributes", () => {
    const text = `<b>${"bold ".repeat(20)}</b><a href="https://example.com/x">${"link &amp; ".repeat(10)}</a>`;
    const { parseMode, parts } = renderMessage(text, "html", "markdown_v2", 60);
    expect(parseMode).toBe("HTML");
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(60);
      assertValidHtml(part);
    }
    expect(parts.filter((part) => part.startsWith('<a href="https://example.com/x">')).length).toBeGreaterThan(1);
  });

  it("keeps a MarkdownV2 link whole", () => {
    const link = "[the docs](https://example.com/a_\\)b)";
    const { parts } = renderMessage(`${"x ".repeat(20)}${link} y`, "markdown_v2", "plain", 50);
    expect(parts.some((part) => part.includes(link))).toBe(true);
  });

  it("gives no parts for a blank text", () => {
    expect(renderMessage("  \n ", undefined, "markdown_v2").parts).toEqual([]);
  });
});

describe("markdown (as language models write it) to MarkdownV2", () => {
  it("converts code, bold, italic, strike, links and headings, escaping the rest", () => {
    expect(markdownToMarkdownV2("**Disk** is *95%* full (sda1).")).toBe("*Disk* is _95%_ full \\(sda1\\)\\.");
    expect(markdownToMarkdownV2("run `rm -rf /tmp/x_1` now")).toBe("run `rm -rf /tmp/x_1` now");
    expect(markdownToMarkdownV2("see [the docs](https://example.com/a_b?x=1) ~~old~~")).toBe(
      "see [the docs](https://example.com/a_b?x=1) ~old~",
    );
    expect(markdownToMarkdownV2("## Status\nall good")).toBe("*Status*\nall good");
    expect(markdownToMarkdownV2("```bash\necho `date` \\ done\n```")).toBe("```bash\necho \\`date\\` \\\\ done\n```");
    expect(markdownToMarkdownV2("2 * 3 * 4 = 24, snake_case_name")).toBe("2 \\* 3 \\* 4 \\= 24, snake\\_case\\_name");
    expect(markdownToMarkdownV2("**unclosed bold")).toBe("\\*\\*unclosed bold");
  });

  it("is used for format: markdown with the markdown_v2 parser, and split like any MarkdownV2", () => {
    const { parseMode, parts } = renderMessage(`**Report**\n\n${"- item **ok**\n".repeat(40)}`, "markdown", "markdown_v2", 100);
    expect(parseMode).toBe("MarkdownV2");
    expect(parts[0]).toMatch(/^\*Report\*/);
    for (const part of parts) expect(part.replace(/\\./g, "").split("*").length % 2).toBe(1);
    expect(renderMessage("**x**", "markdown", "html").parts).toEqual(["**x**"]);
  });
});
