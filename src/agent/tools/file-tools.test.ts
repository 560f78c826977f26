import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../../../test/helpers/index.js";
import type { ToolExecution } from "../types.js";
import { confinePath, createReadFileTool, createWriteFileTool } from "./file-tools.js";

let temp: ReturnType<typeof makeTempDir>;
let workspace: string;
let shared: string;
let outside: string;
beforeEach(() => {
  temp = makeTempDir("localagent-file-tools-");
  workspace = join(temp.dir, "workspace");
  shared = join(temp.dir, "shared");
  outside = join(temp.dir, "outside");
  for (const dir of [workspace, shared, outside]) mkdirSync(dir);
  writeFileSync(join(outside, "secret.txt"), "top secret");
  writeFileSync(join(shared, "notes.md"), "shared notes");
  writeFileSync(join(workspace, "hello.txt"), "hello");
});
afterEach(() => temp.cleanup());

const execution: ToolExecution = { turn: 1, index: 0, call: { id: "c", name: "x", arguments: {} }, signal: new AbortController().signal };
const read = (path: string, roots = [workspace, shared]): Promise<unknown> => createReadFileTool({ roots }).execute({ path }, execution);
const write = (path: string, content: string, extra: Record<string, unknown> = {}): Promise<unknown> =>
  createWriteFileTool({ roots: [workspace] }).execute({ path, content, ...extra }, execution);

describe("file tools", () => {
  it("read relative to the workspace and in an allow-listed root", async () => {
    await expect(read("hello.txt")).resolves.toBe("hello");
    await expect(read(join(shared, "notes.md"))).resolves.toBe("shared notes");
  });

  it("refuse .. that climbs out, and absolute paths elsewhere", async () => {
    await expect(read("../outside/secret.txt")).rejects.toThrow('path "../outside/secret.txt" refused: it is outside the allowed folders');
    await expect(read(join(outside, "secret.txt"))).rejects.toThrow("refused: it is outside the allowed folders");
    await expect(read("/etc/passwd")).rejects.toThrow("refused");
    await expect(write("../outside/new.txt", "x")).rejects.toThrow("refused");
  });

  it("refuse a symbolic link that leads out, whether it is the file or a folder on the way", async () => {
    symlinkSync(join(outside, "secret.txt"), join(workspace, "link.txt"));
    symlinkSync(outside, join(workspace, "door"));
    await expect(read("link.txt")).rejects.toThrow("a symbolic link on the way leads outside the allowed folders");
    await expect(read("door/secret.txt")).rejects.toThrow("a symbolic link on the way leads outside");
    await expect(write("door/planted.txt", "x")).rejects.toThrow("a symbolic link on the way leads outside");
    await expect(write("link.txt", "overwritten")).rejects.toThrow("refused");
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("top secret");
  });

  it("follow a link that stays inside", async () => {
    symlinkSync(join(workspace, "hello.txt"), join(workspace, "alias.txt"));
    const confined = await confinePath("alias.txt", [workspace]);
    expect(confined.path.endsWith("hello.txt")).toBe(true);
  });

  it("write new files and folders, append, and cap what is read", async () => {
    await expect(write("a/b/c.txt", "one")).resolves.toEqual({ path: join("a", "b", "c.txt"), bytes: 3 });
    await write("a/b/c.txt", "+two", { append: true });
    expect(readFileSync(join(workspace, "a", "b", "c.txt"), "utf8")).toBe("one+two");
    await expect(createReadFileTool({ roots: [workspace] }).execute({ path: "a/b/c.txt", max_bytes: 3 }, execution)).resolves.toBe(
      "one\n[file cut: 4 more bytes]",
    );
    await expect(write(".", "x")).rejects.toThrow("refused");
    await expect(read("a")).rejects.toThrow('"a" is not a regular file');
  });
});
