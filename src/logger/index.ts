import { pino, type Logger as PinoLogger } from "pino";

/** The daemon's structured logger (pino). */
export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: string;
  /** Write to this file descriptor/stream instead of stdout. */
  destination?: NodeJS.WritableStream;
}

/** Keys whose values are replaced before a line is written: secrets never reach logs. */
export const REDACTED_KEYS = [
  "*.token",
  "*.secret",
  "*.password",
  "*.authorization",
  "*.Authorization",
  "*.api_key",
  "headers.authorization",
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = { level: options.level ?? "info", redact: { paths: REDACTED_KEYS, censor: "[redacted]" }, base: undefined };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** A logger that drops everything, for tests and one-shot CLI commands. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
