import { describe, expect, it } from "vitest";
import { splitText } from "./text-split.js";

describe("splitText", () => {
  it("keeps short text whole and cuts long text at paragraph, line, then word boundaries", () => {
    expect(splitText("hello", 10)).toEqual(["hello"]);
    expect(splitText("", 10)).toEqual([""]);
    expect(splitText("aaaa bbbb\n\ncccc dddd", 12)).toEqual(["aaaa bbbb", "cccc dddd"]);
    expect(splitText("aaaa\nbbbb cccc", 12)).toEqual(["aaaa\nbbbb", "cccc"]);
    expect(splitText("aaaaaa bbbbbb", 8)).toEqual(["aaaaaa", "bbbbbb"]);
  });

  it("cuts unbroken text at the limit, never inside a surrogate pair", () => {
    expect(splitText("x".repeat(25), 10)).toEqual(["x".repeat(10), "x".repeat(10), "x".repeat(5)]);
    const emoji = "😀".repeat(5); // 10 code units
    const pieces = splitText(`a${emoji}`, 4);
    expect(pieces.join("")).toBe(`a${emoji}`);
    expect(pieces.every((piece) => piece.length <= 4 && !/[\uD800-\uDBFF]$/.test(piece))).toBe(true);
  });
});
