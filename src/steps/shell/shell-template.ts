import { evaluateExpression, isTemplate, splitTemplate, stringify, type TemplateScope } from "../../expression/index.js";

type QuoteState = "none" | "single" | "double";

/**
 * Renders a shell command template so that interpolated data can never become shell syntax:
 * each value is escaped for the quoting context it lands in — a single-quoted word outside
 * quotes, `'\''` escapes inside '…', backslash escapes inside "…". `{{ x | raw }}` opts out.
 */
export function renderShellCommand(text: string, scope: TemplateScope): string {
  if (!isTemplate(text)) return text;
  let state: QuoteState = "none";
  let command = "";
  for (const part of splitTemplate(text)) {
    if ("literal" in part) {
      state = advance(state, part.literal);
      command += part.literal;
      continue;
    }
    const value = stringify(evaluateExpression(part.expression, scope));
    command += part.raw ? value : escapeFor(state, value);
  }
  return command;
}

export function escapeFor(state: QuoteState, value: string): string {
  if (state === "single") return value.replace(/'/g, "'\\''");
  if (state === "double") return value.replace(/[\\"$`]/g, (character) => `\\${character}`);
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** The quoting state after the literal text (POSIX rules: no escapes inside '…'). */
function advance(start: QuoteState, literal: string): QuoteState {
  let state = start;
  for (let index = 0; index < literal.length; index++) {
    const character = literal[index];
    if (state === "single") {
      if (character === "'") state = "none";
    } else if (character === "\\") {
      index += 1;
    } else if (state === "double") {
      if (character === '"') state = "none";
    } else if (character === "'") state = "single";
    else if (character === '"') state = "double";
  }
  return state;
}
