import { LocalAgentError } from "../errors/index.js";

const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?$/;

/** Parses `500ms`, `30s`, `5m`, `1h`, `1d`, `1h30m`, or a number of seconds. Returns milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw invalid(String(value));
    return Math.round(value * 1000);
  }
  const text = value.trim();
  let total = 0;
  let rest = text;
  const part = /^(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)\s*/;
  if (DURATION_PATTERN.test(text) && !/[a-z]/.test(text)) return Math.round(Number(text) * 1000);
  while (rest.length > 0) {
    const match = part.exec(rest);
    if (!match) throw invalid(text);
    total += Number(match[1]) * (UNITS[match[2] ?? "s"] ?? 1000);
    rest = rest.slice(match[0].length);
  }
  if (text === "") throw invalid(text);
  return Math.round(total);
}

/** True when `parseDuration` would accept the value. */
export function isDuration(value: string | number): boolean {
  try {
    parseDuration(value);
    return true;
  } catch {
    return false;
  }
}

/** Parses sizes such as `6g`, `512m`, `64k`, `1048576` into bytes. */
export function parseByteSize(value: string | number): number {
  if (typeof value === "number") {
    // A negative or NaN cap would silently drop all output (or compare false everywhere).
    if (!Number.isFinite(value) || value < 0) throw invalidSize(String(value));
    return Math.round(value);
  }
  const match = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])i?)?b?$/i.exec(value.trim());
  if (!match) throw invalidSize(value);
  const power = { "": 0, k: 1, m: 2, g: 3, t: 4 }[(match[2] ?? "").toLowerCase()] ?? 0;
  return Math.round(Number(match[1]) * 1024 ** power);
}

function invalidSize(text: string): LocalAgentError {
  return new LocalAgentError("config_invalid", `"${text}" is not a size (examples: 512m, 6g, 65536)`);
}

/** True when `parseByteSize` would accept the value. */
export function isByteSize(value: string | number): boolean {
  try {
    parseByteSize(value);
    return true;
  } catch {
    return false;
  }
}

function invalid(text: string): LocalAgentError {
  return new LocalAgentError("config_invalid", `"${text}" is not a duration (examples: 500ms, 30s, 5m, 1h30m)`);
}
