import { describe, expect, it } from "vitest";
import { checkTemplate, evaluateCondition, renderTemplate, splitTemplate } from "./template.js";

describe("templates", () => {
  it("evaluates the seed's condition on text output", () => {
    expect(evaluateCondition("{{ output.length > 0 }}", { output: "ERROR x" })).toBe(true);
    expect(evaluateCondition("{{ output.length > 0 }}", { output: "" })).toBe(false);
  });

  it("returns raw values for a whole-string template and text otherwise", () => {
    expect(renderTemplate("{{ inputs.n * 2 }}", { inputs: { n: 21 } })).toBe(42);
    expect(renderTemplate("发现错误日志:\n{{ output }}", { output: "a\nb" })).toBe("发现错误日志:\na\nb");
    expect(renderTemplate("{{ steps.a.output }}", { steps: { a: { output: { x: 1 } } } })).toEqual({ x: 1 });
    expect(renderTemplate("v={{ steps.a.output }}", { steps: { a: { output: { x: 1 } } } })).toBe('v={"x":1}');
  });

  it("refuses to reach JavaScript internals", () => {
    expect(() => checkTemplate("{{ output.__proto__ }}")).toThrow(/may not be used|unexpected/i);
    expect(() => checkTemplate('{{ output["constructor"] }}')).toThrow(/may not be used/);
    expect(() => checkTemplate("{{ output.prototype }}")).toThrow(/may not be used/);
  });

  it("reports syntax errors and unclosed braces", () => {
    expect(() => checkTemplate("{{ output. }}")).toThrow(/invalid expression/);
    expect(() => checkTemplate("{{ output")).toThrow(/unclosed/);
    expect(() => checkTemplate("{{ }}")).toThrow(/empty/);
  });

  it("has transforms for common shaping", () => {
    expect(renderTemplate("{{ output | lines | length }}", { output: "a\nb\n" })).toBe(2);
    expect(renderTemplate("{{ inputs.x | default('none') }}", { inputs: {} })).toBe("none");
    expect(renderTemplate("{{ inputs.name | upper }}", { inputs: { name: "ada" } })).toBe("ADA");
  });
});

describe("splitTemplate", () => {
  it("cuts literals and expressions and marks | raw", () => {
    expect(splitTemplate("a {{ x }} b {{ y | raw }}")).toEqual([
      { literal: "a " },
      { expression: " x ", raw: false },
      { literal: " b " },
      { expression: " y | raw ", raw: true },
    ]);
  });
});
