import { dirname } from "node:path";

/**
 * A small glob matcher for absolute POSIX paths: `*` (any characters within a name), `?` (one
 * character), `[abc]` / `[a-z]` / `[!a]` (one of a set), `**` as a whole segment (any number of
 * folders, none included). Wildcards do not match a leading dot, as in the shell: `*.log`
 * leaves `.hidden.log` and editor swap files alone. (Node 20's `path.matchesGlob` prints an
 * experimental warning, and picomatch is not a dependency of ours.)
 */
export function compileGlob(glob: string): (path: string) => boolean {
  const segments = glob.split("/");
  let source = "";
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === "**") {
      source += last ? "(?:(?!\\.)[^/]*(?:/(?!\\.)[^/]*)*)?" : "(?:(?!\\.)[^/]+/)*";
      return;
    }
    source += segmentSource(segment) + (last ? "" : "/");
  });
  const pattern = new RegExp(`^${source}$`);
  return (path) => pattern.test(path);
}

/** Whether a path segment holds a wildcard. */
export function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/**
 * Where to watch for a glob: the folder above its first wildcard, and whether matches can lie
 * deeper than that folder's own entries (then the watch must be recursive).
 */
export function globBase(glob: string): { base: string; recursive: boolean } {
  const segments = glob.split("/");
  const first = segments.findIndex(hasMagic);
  if (first === -1) return { base: dirname(glob), recursive: false };
  const base = segments.slice(0, first).join("/") || "/";
  const rest = segments.slice(first);
  return { base, recursive: rest.length > 1 || rest.includes("**") };
}

function segmentSource(segment: string): string {
  let out = "";
  for (let index = 0; index < segment.length; index += 1) {
    const char = segment[index] ?? "";
    const atStart = index === 0;
    if (char === "*") {
      while (segment[index + 1] === "*") index += 1;
      out += atStart ? "(?!\\.)[^/]*" : "[^/]*";
    } else if (char === "?") {
      out += atStart ? "[^/.]" : "[^/]";
    } else if (char === "[") {
      const close = segment.indexOf("]", index + 2);
      if (close === -1) {
        out += "\\[";
        continue;
      }
      let body = segment.slice(index + 1, close);
      const negated = body.startsWith("!") || body.startsWith("^");
      if (negated) body = body.slice(1);
      const escaped = body.replace(/[\\\]^]/g, (match) => `\\${match}`);
      out += negated ? `[^/${atStart ? "." : ""}${escaped}]` : `${atStart ? "(?!\\.)" : ""}[${escaped}]`;
      index = close;
    } else {
      out += char.replace(/[.+^${}()|\\]/g, (match) => `\\${match}`);
    }
  }
  return out;
}
