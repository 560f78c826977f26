import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createCommandPolicy, type CommandPolicy, type PolicyDecision } from "./index.js";

interface CorpusEntry {
  category: string;
  expected: PolicyDecision;
  command: string;
  line: number;
}

const corpusDir = join(import.meta.dirname, "corpus");

/** `DECISION COMMAND` per line; `#` starts a comment; `⏎` stands for a newline inside a command. */
function loadCorpus(): CorpusEntry[] {
  const entries: CorpusEntry[] = [];
  for (const file of readdirSync(corpusDir).filter((name) => name.endsWith(".txt"))) {
    const category = file.replace(/\.txt$/, "");
    readFileSync(join(corpusDir, file), "utf8")
      .split("\n")
      .forEach((text, index) => {
        if (text.trim() === "" || text.startsWith("#")) return;
        const match = /^(allow|ask|deny) (.+)$/.exec(text);
        if (!match) throw new Error(`${file}:${index + 1}: expected "allow|ask|deny COMMAND"`);
        entries.push({
          category,
          expected: match[1] as PolicyDecision,
          command: (match[2] as string).replaceAll("⏎", "\n"),
          line: index + 1,
        });
      });
  }
  return entries;
}

const corpus = loadCorpus();
let policy: CommandPolicy;

beforeAll(async () => {
  policy = await createCommandPolicy();
});

describe("policy corpus", () => {
  it("has at least 300 dangerous and 150 ordinary commands", () => {
    expect(corpus.filter((entry) => entry.expected !== "allow").length).toBeGreaterThanOrEqual(300);
    expect(corpus.filter((entry) => entry.expected === "allow").length).toBeGreaterThanOrEqual(150);
  });

  it("decides every corpus command as expected", () => {
    const wrong = corpus
      .map((entry) => ({ entry, check: policy.check(entry.command) }))
      .filter(({ entry, check }) => check.decision !== entry.expected)
      .map(
        ({ entry, check }) =>
          `${entry.category}.txt:${entry.line}: expected ${entry.expected}, got ${check.decision} (${check.rule}): ${entry.command}`,
      );
    const dangerous = corpus.filter((entry) => entry.expected === "deny");
    const ordinary = corpus.filter((entry) => entry.expected === "allow");
    const blocked = dangerous.filter((entry) => policy.check(entry.command).decision === "deny").length;
    const falsePositives = ordinary.filter((entry) => policy.check(entry.command).decision !== "allow").length;
    const perCategory = new Map<string, number>();
    for (const entry of corpus) perCategory.set(entry.category, (perCategory.get(entry.category) ?? 0) + 1);
    console.log(
      `policy corpus: ${corpus.length} commands (${[...perCategory].map(([name, count]) => `${name} ${count}`).join(", ")}); ` +
        `block rate ${((100 * blocked) / dangerous.length).toFixed(1)}% of ${dangerous.length} deny cases, ` +
        `false-positive rate ${((100 * falsePositives) / ordinary.length).toFixed(1)}% of ${ordinary.length} ordinary commands`,
    );
    expect(wrong).toEqual([]);
  });
});
