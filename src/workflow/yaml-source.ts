import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { WorkflowIssue } from "./types.js";

export type PathSegment = string | number;

/** A parsed YAML file that can map a data path back to `line:column`. */
export class YamlSource {
  readonly lineCounter = new LineCounter();
  readonly document: Document;
  readonly syntaxIssues: WorkflowIssue[] = [];

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.document = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: false, uniqueKeys: true });
    for (const error of this.document.errors) {
      // linePos is only filled in with prettyErrors; the offset is always there.
      const position = error.linePos?.[0] ?? this.lineCounter.linePos(error.pos[0]);
      const firstLine = error.message.split("\n")[0] ?? error.message;
      this.syntaxIssues.push({ file, line: position.line, column: position.col, message: `YAML syntax: ${firstLine}` });
    }
  }

  toJS(): unknown {
    return this.document.toJS({ maxAliasCount: 100 });
  }

  /** Position of the value at `path`, or of its key when `key` is set; falls back to the nearest parent. */
  position(path: readonly PathSegment[], key?: string): { line: number; column: number } {
    let node: unknown = this.document.contents;
    let offset = rangeStart(node) ?? 0;
    for (const segment of path) {
      const next = child(node, segment);
      if (!next) break;
      offset = rangeStart(next.keyNode) ?? rangeStart(next.value) ?? offset;
      if (next.value === undefined || next.value === null) break;
      node = next.value;
      offset = rangeStart(node) ?? offset;
    }
    if (key !== undefined) {
      const pair = child(node, key);
      offset = rangeStart(pair?.keyNode) ?? offset;
    }
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  issue(path: readonly PathSegment[], message: string, key?: string): WorkflowIssue {
    return { file: this.file, ...this.position(path, key), message };
  }
}

function child(node: unknown, segment: PathSegment): { keyNode?: unknown; value: unknown } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((item) => keyName(item.key) === String(segment));
    return pair ? { keyNode: pair.key, value: pair.value } : undefined;
  }
  if (isSeq(node) && typeof segment === "number") {
    const item = node.items[segment];
    return item === undefined ? undefined : { value: item };
  }
  return undefined;
}

function keyName(key: unknown): string {
  if (key && typeof key === "object" && "value" in key) return String(key.value);
  return String(key);
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}
