import { describe, expect, it } from "vitest";
import { LocalAgentError } from "../errors/index.js";
import { isDuration, parseByteSize, parseDuration } from "./index.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["30sec", 30_000],
    ["5m", 300_000],
    ["5min", 300_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1h30m", 5_400_000],
    ["1h 30m 15s", 5_415_000],
    ["1.5h", 5_400_000],
    ["0.25s", 250],
    ["2 m", 120_000],
    ["  45s  ", 45_000],
    ["0", 0],
    ["0s", 0],
  ])("reads %j as %d ms", (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it("reads a bare number, as text or as a number, as seconds", () => {
    expect(parseDuration("30")).toBe(30_000);
    expect(parseDuration("1.5")).toBe(1500);
    expect(parseDuration(30)).toBe(30_000);
    expect(parseDuration(0.5)).toBe(500);
    expect(parseDuration(0)).toBe(0);
  });

  it("rounds fractions of a millisecond", () => {
    expect(parseDuration("1.0004s")).toBe(1000);
    expect(parseDuration(0.0016)).toBe(2);
  });

  it.each(["", "   ", "abc", "-5s", "5x", "5 parsecs", "1m5", "s", "1.5.5s", "5mins", "h1", "1,5s"])("refuses %j", (text) => {
    expect(() => parseDuration(text)).toThrow(LocalAgentError);
    expect(isDuration(text)).toBe(false);
  });

  it("refuses negative and non-finite numbers", () => {
    for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => parseDuration(value)).toThrow(/is not a duration/);
    }
  });

  it("names the bad value and shows examples, with code config_invalid", () => {
    try {
      parseDuration("forever");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(LocalAgentError);
      expect((error as LocalAgentError).code).toBe("config_invalid");
      expect((error as LocalAgentError).message).toBe('"forever" is not a duration (examples: 500ms, 30s, 5m, 1h30m)');
    }
  });

  it("isDuration agrees with parseDuration", () => {
    expect(isDuration("1h30m")).toBe(true);
    expect(isDuration(10)).toBe(true);
    expect(isDuration(-10)).toBe(false);
  });
});

describe("parseByteSize", () => {
  it.each([
    ["1048576", 1_048_576],
    ["0", 0],
    ["64k", 65_536],
    ["64K", 65_536],
    ["512m", 536_870_912],
    ["512MB", 536_870_912],
    ["512MiB", 536_870_912],
    ["6g", 6 * 1024 ** 3],
    ["6 GiB", 6 * 1024 ** 3],
    ["1t", 1024 ** 4],
    ["1.5k", 1536],
    ["100b", 100],
    [" 2m ", 2_097_152],
  ])("reads %j as %d bytes", (text, expected) => {
    expect(parseByteSize(text)).toBe(expected);
  });

  it("passes whole numbers through and rounds fractions", () => {
    expect(parseByteSize(65_536)).toBe(65_536);
    expect(parseByteSize(0)).toBe(0);
    expect(parseByteSize(10.6)).toBe(11);
  });

  it.each(["", "abc", "-1k", "5x", "12 kilobytes", "1.2.3m", "k", "1ib", "1i"])("refuses %j", (text) => {
    expect(() => parseByteSize(text)).toThrow(`"${text}" is not a size (examples: 512m, 6g, 65536)`);
  });

  it("refuses negative and non-finite numbers instead of returning them", () => {
    for (const value of [-1, -1024, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => parseByteSize(value)).toThrow(LocalAgentError);
    }
  });
});
