import jexlModule from "jexl";
import { LocalAgentError } from "../errors/index.js";

/** The values a template may read. Unknown names evaluate to `undefined`, never to a global. */
export type TemplateScope = Record<string, unknown>;

interface CompiledExpression {
  evalSync(context: TemplateScope): unknown;
}

interface JexlAstNode {
  type: string;
  value?: unknown;
  [key: string]: unknown;
}

/** Property names that would reach JavaScript internals; refused at compile time. */
const FORBIDDEN_NAMES = new Set(["__proto__", "constructor", "prototype", "__defineGetter__", "__lookupGetter__"]);
const TEMPLATE_PATTERN = /\{\{([\s\S]*?)\}\}/g;

const jexl = new jexlModule.Jexl();
jexl.addTransform("json", (value: unknown) => JSON.stringify(value));
jexl.addTransform("upper", (value: unknown) => String(value ?? "").toUpperCase());
jexl.addTransform("lower", (value: unknown) => String(value ?? "").toLowerCase());
jexl.addTransform("trim", (value: unknown) => String(value ?? "").trim());
jexl.addTransform("lines", (value: unknown) => splitLines(value));
jexl.addTransform("length", (value: unknown) => lengthOf(value));
jexl.addTransform("default", (value: unknown, fallback: unknown) =>
  value === undefined || value === null || value === "" ? fallback : value,
);
jexl.addTransform("number", (value: unknown) => Number(value));
jexl.addTransform("string", (value: unknown) => stringify(value));
jexl.addTransform("split", (value: unknown, separator: unknown) => String(value ?? "").split(String(separator)));
jexl.addTransform("join", (value: unknown, separator: unknown) =>
  Array.isArray(value) ? value.join(String(separator ?? ",")) : stringify(value),
);
jexl.addTransform("keys", (value: unknown) => (value && typeof value === "object" ? Object.keys(value) : []));
jexl.addTransform("parseJson", (value: unknown): unknown => JSON.parse(String(value)));
// Marks an interpolation as trusted in escaped contexts (shell commands); the value is unchanged.
jexl.addTransform("raw", (value: unknown) => value);
jexl.addTransform("iso", (value: unknown) => new Date(Number(value)).toISOString());
jexl.addTransform("contains", (value: unknown, needle: unknown) =>
  Array.isArray(value) ? value.includes(needle) : String(value ?? "").includes(String(needle)),
);

const compiled = new Map<string, CompiledExpression>();

/** Compiles one expression (cached); throws `template_error` on syntax errors or forbidden names. */
export function compileExpression(source: string): CompiledExpression {
  const cached = compiled.get(source);
  if (cached) return cached;
  let expression: CompiledExpression & { _getAst(): JexlAstNode };
  try {
    expression = jexl.compile(source);
    assertSafe(expression._getAst());
  } catch (error) {
    if (error instanceof LocalAgentError) throw error;
    throw new LocalAgentError("template_error", `invalid expression "${source.trim()}": ${(error as Error).message}`, { cause: error });
  }
  if (compiled.size > 5000) compiled.clear();
  compiled.set(source, expression);
  return expression;
}

function assertSafe(node: unknown): void {
  if (!node || typeof node !== "object") return;
  const astNode = node as JexlAstNode;
  if (astNode.type === "Identifier" && FORBIDDEN_NAMES.has(String(astNode.value))) {
    throw new LocalAgentError("template_error", `"${String(astNode.value)}" may not be used in an expression`);
  }
  if (astNode.type === "Literal" && typeof astNode.value === "string" && FORBIDDEN_NAMES.has(astNode.value)) {
    throw new LocalAgentError("template_error", `"${astNode.value}" may not be used in an expression`);
  }
  for (const child of Object.values(astNode)) {
    if (Array.isArray(child)) child.forEach(assertSafe);
    else if (child && typeof child === "object") assertSafe(child);
  }
}

/** Evaluates one expression against a scope. Errors name the expression. */
export function evaluateExpression(source: string, scope: TemplateScope): unknown {
  const expression = compileExpression(source);
  try {
    return expression.evalSync(scope);
  } catch (error) {
    throw new LocalAgentError("template_error", `expression "${source.trim()}" failed: ${(error as Error).message}`, { cause: error });
  }
}

/** True when the string holds at least one `{{ … }}`. */
export function isTemplate(text: string): boolean {
  return text.includes("{{");
}

/** Lists the expressions inside a template, for validation at load time. */
export function templateExpressions(text: string): string[] {
  const expressions: string[] = [];
  for (const match of text.matchAll(TEMPLATE_PATTERN)) expressions.push(match[1] ?? "");
  const unclosed = text.replace(TEMPLATE_PATTERN, "");
  if (unclosed.includes("{{")) throw new LocalAgentError("template_error", `unclosed "{{" in template "${text}"`);
  return expressions;
}

/** Checks every expression of a template without evaluating it. */
export function checkTemplate(text: string): void {
  for (const expression of templateExpressions(text)) {
    if (expression.trim() === "") throw new LocalAgentError("template_error", `empty "{{ }}" in template "${text}"`);
    compileExpression(expression);
  }
}

/**
 * Renders a template. A string that is exactly one `{{ expr }}` yields the raw value
 * (so `condition: "{{ output.length > 0 }}"` is a boolean); otherwise values are interpolated as text.
 */
export function renderTemplate(text: string, scope: TemplateScope): unknown {
  if (!isTemplate(text)) return text;
  const whole = /^\s*\{\{([\s\S]*?)\}\}\s*$/.exec(text);
  if (whole && !(whole[1] ?? "").includes("}}") && templateExpressions(text).length === 1) {
    return evaluateExpression(whole[1] ?? "", scope);
  }
  templateExpressions(text);
  return text.replace(TEMPLATE_PATTERN, (_match, expression: string) => stringify(evaluateExpression(expression, scope)));
}

const RAW_SUFFIX = /\|\s*raw\s*$/;

/** A template cut into literal text and expressions, in order. */
export type TemplatePart = { literal: string } | { expression: string; raw: boolean };

/** Splits a template; `raw` marks an expression ending in `| raw` (trusted, not escaped). */
export function splitTemplate(text: string): TemplatePart[] {
  templateExpressions(text);
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of text.matchAll(TEMPLATE_PATTERN)) {
    const index = match.index ?? 0;
    if (index > last) parts.push({ literal: text.slice(last, index) });
    const expression = match[1] ?? "";
    parts.push({ expression, raw: RAW_SUFFIX.test(expression) });
    last = index + match[0].length;
  }
  if (last < text.length) parts.push({ literal: text.slice(last) });
  return parts;
}

/** Renders every string inside a JSON-like value; other values pass through. */
export function renderDeep(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === "string") return renderTemplate(value, scope);
  if (Array.isArray(value)) return value.map((item) => renderDeep(item, scope));
  if (value && typeof value === "object") {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) result[key] = renderDeep(item, scope);
    return result;
  }
  return value;
}

/** Evaluates a `condition:`; accepts a bare expression or a `{{ }}` template. */
export function evaluateCondition(condition: string, scope: TemplateScope): boolean {
  const value = isTemplate(condition) ? renderTemplate(condition, scope) : evaluateExpression(condition, scope);
  if (typeof value === "string") return value.trim() !== "" && value.trim() !== "false";
  return Boolean(value);
}

/** Checks a `condition:` at load time. */
export function checkCondition(condition: string): void {
  if (isTemplate(condition)) checkTemplate(condition);
  else compileExpression(condition);
}

export function stringify(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function splitLines(value: unknown): string[] {
  const text = stringify(value);
  return text === "" ? [] : text.split(/\r?\n/).filter((line) => line !== "");
}

function lengthOf(value: unknown): number {
  if (typeof value === "string" || Array.isArray(value)) return value.length;
  if (value && typeof value === "object") return Object.keys(value).length;
  return 0;
}
