import { constants } from "node:fs";
import { lstat, mkdir, open, realpath } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { LocalAgentError } from "../../errors/index.js";
import type { AgentTool } from "../types.js";

/** Bytes read_file returns at most unless asked for fewer. */
const DEFAULT_READ_BYTES = 256 * 1024;

export interface FileToolOptions {
  /** Where files may be read and written: the first is where relative paths start (the workspace). */
  roots: readonly string[];
  /** Bytes write_file accepts at most (default 10 MiB). */
  maxWriteBytes?: number;
}

/**
 * Resolves a path the model gave to a real path inside one of the roots, or refuses it: `..`
 * that climbs out, an absolute path elsewhere, and a symbolic link (anywhere on the way) that
 * points out are all refused. For a file that does not exist yet, its deepest existing folder
 * is what must be inside.
 */
export async function confinePath(path: string, roots: readonly string[]): Promise<{ path: string; root: string }> {
  const [first] = roots;
  if (first === undefined) throw refusal(path, "no folder is open to file tools");
  if (path.includes("\0")) throw refusal(path, "the path contains a NUL byte");
  const wanted = resolve(first, path);
  const realRoots = await Promise.all(roots.map(async (root) => realpath(root).catch(() => resolve(root))));
  const lexicalRoot = roots.map((root) => resolve(root)).find((root) => inside(wanted, root));
  if (!lexicalRoot) throw refusal(path, `it is outside the allowed folders (${roots.join(", ")})`);
  // Follow links: the real location must still be inside a real root.
  let existing = wanted;
  let rest = "";
  for (;;) {
    try {
      const real = await realpath(existing);
      const target = rest === "" ? real : resolve(real, rest);
      const root = realRoots.find((candidate) => inside(target, candidate));
      if (!root) throw refusal(path, "a symbolic link on the way leads outside the allowed folders");
      return { path: target, root };
    } catch (error) {
      if (error instanceof LocalAgentError) throw error;
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      const parent = dirname(existing);
      if (parent === existing) throw refusal(path, "no part of it exists");
      rest = rest === "" ? relative(parent, existing) : `${relative(parent, existing)}${sep}${rest}`;
      existing = parent;
    }
  }
}

function inside(path: string, root: string): boolean {
  const difference = relative(root, path);
  return difference === "" || (!difference.startsWith("..") && !isAbsolute(difference));
}

function refusal(path: string, why: string): LocalAgentError {
  return new LocalAgentError("policy_denied", `path "${path}" refused: ${why}`);
}

/** `read_file`: a text file inside the allowed folders (the workspace first). */
export function createReadFileTool(options: FileToolOptions): AgentTool {
  return {
    definition: {
      name: "read_file",
      description:
        "Read a text file. Relative paths start in the workspace directory; only the workspace (and folders allowed in config) can be read.",
      parameters: {
        type: "object",
        properties: {
          path: { type: "string", minLength: 1 },
          max_bytes: { type: "integer", minimum: 1, description: `Default ${DEFAULT_READ_BYTES}` },
        },
        required: ["path"],
        additionalProperties: false,
      },
    },
    async execute(args) {
      const { path } = await confinePath(args.path as string, options.roots);
      const limit = (args.max_bytes as number | undefined) ?? DEFAULT_READ_BYTES;
      // O_NOFOLLOW: a link swapped in after the check is refused, not followed.
      const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
        throw new LocalAgentError("step_failed", `cannot read "${args.path as string}": ${error.code ?? error.message}`);
      });
      try {
        const info = await handle.stat();
        if (!info.isFile()) throw new LocalAgentError("step_failed", `"${args.path as string}" is not a regular file`);
        const buffer = Buffer.alloc(Math.min(limit, info.size));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
        const text = buffer.subarray(0, bytesRead).toString("utf8");
        return info.size > bytesRead ? `${text}\n[file cut: ${info.size - bytesRead} more bytes]` : text;
      } finally {
        await handle.close();
      }
    },
  };
}

/** `write_file`: creates or replaces (or appends to) a file inside the allowed folders; missing folders are created. */
export function createWriteFileTool(options: FileToolOptions): AgentTool {
  const maxBytes = options.maxWriteBytes ?? 10 * 1024 * 1024;
  return {
    definition: {
      name: "write_file",
      description:
        "Write a text file (created or replaced; append: true adds to its end). Relative paths start in the workspace directory.",
      parameters: {
        type: "object",
        properties: {
          path: { type: "string", minLength: 1 },
          content: { type: "string" },
          append: { type: "boolean" },
        },
        required: ["path", "content"],
        additionalProperties: false,
      },
    },
    async execute(args) {
      const content = args.content as string;
      const size = Buffer.byteLength(content);
      if (size > maxBytes) throw new LocalAgentError("step_failed", `content of ${size} bytes is over the ${maxBytes}-byte limit`);
      const { path, root } = await confinePath(args.path as string, options.roots);
      if (path === root) throw refusal(args.path as string, "it is the folder itself");
      await mkdir(dirname(path), { recursive: true });
      // The folders just made may not have moved it outside; check again, then never follow a link at the end.
      await confinePath(path, [root]);
      const existing = await lstat(path).catch(() => undefined);
      if (existing?.isSymbolicLink()) throw refusal(args.path as string, "it is a symbolic link");
      const flags =
        constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (args.append === true ? constants.O_APPEND : constants.O_TRUNC);
      const handle = await open(path, flags, 0o644);
      try {
        await handle.writeFile(content, "utf8");
      } finally {
        await handle.close();
      }
      return { path: relative(root, path), bytes: size };
    },
  };
}
