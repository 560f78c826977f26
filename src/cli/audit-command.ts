import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { readAuditEntries, verifyAuditLog, type AuditEntry } from "../audit/index.js";
import { errorMessage } from "../errors/index.js";
import { addCommonOptions, printJson, resolveConfig, type CommonOptions, type Io } from "./context.js";

interface TailOptions extends CommonOptions {
  lines: number;
  follow?: boolean;
}

interface ExportOptions extends CommonOptions {
  since?: number;
  until?: number;
}

/** `localagent audit tail|verify|export`: reads DATA_DIR/audit.log directly (no daemon needed). */
export function registerAudit(program: Command, io: Io, setExit: (code: number) => void): void {
  const audit = program.command("audit").description("the hash-chained audit log (DATA_DIR/audit.log)");
  addCommonOptions(audit.command("tail"))
    .description("the last entries, oldest first")
    .option("-n, --lines <n>", "how many", positiveInteger, 20)
    .option("-f, --follow", "keep printing new entries until interrupted")
    .option("--json", "one JSON entry per line")
    .action(async (options: TailOptions) => {
      const file = auditFile(options, io, setExit);
      if (!file) return;
      const entries = readAuditEntries(file);
      for (const entry of entries.slice(-options.lines)) io.out(formatEntry(entry, options.json));
      if (!options.follow) return;
      let seen = entries.at(-1)?.seq ?? 0;
      let size = existsSync(file) ? statSync(file).size : 0;
      for (;;) {
        await new Promise((done) => setTimeout(done, 250));
        const now = existsSync(file) ? statSync(file).size : 0;
        if (now === size) continue;
        size = now;
        for (const entry of readAuditEntries(file)) {
          if (entry.seq <= seen) continue;
          io.out(formatEntry(entry, options.json));
          seen = entry.seq;
        }
      }
    });
  addCommonOptions(audit.command("verify"))
    .description("check the hash chain; exits 1 naming the first bad entry after any edit, deletion or reordering")
    .option("--json", "print JSON")
    .action((options: CommonOptions) => {
      const file = auditFile(options, io, setExit);
      if (!file) return;
      const result = verifyAuditLog(file);
      if (options.json) printJson(io, { file, ...result });
      else if (result.ok) io.out(`audit log intact: ${result.entries} entries (${file})\n`);
      else
        io.err(
          `audit log broken at line ${result.line}${result.seq !== undefined ? ` (seq ${result.seq})` : ""}: ${result.reason}; ${result.entries} entries before it verify (${file})\n`,
        );
      if (!result.ok) setExit(1);
    });
  addCommonOptions(audit.command("export"))
    .description("entries in a time range, as JSON")
    .option("--since <time>", "ISO time or epoch milliseconds (inclusive)", parseTime)
    .option("--until <time>", "ISO time or epoch milliseconds (exclusive)", parseTime)
    .option("--json", "print JSON (the only format)")
    .action((options: ExportOptions) => {
      const file = auditFile(options, io, setExit);
      if (!file) return;
      const entries = readAuditEntries(file).filter((entry) => {
        const at = Date.parse(entry.at);
        return (options.since === undefined || at >= options.since) && (options.until === undefined || at < options.until);
      });
      printJson(io, entries);
    });
}

function auditFile(options: CommonOptions, io: Io, setExit: (code: number) => void): string | undefined {
  try {
    return join(resolveConfig(options).dataDir, "audit.log");
  } catch (error) {
    io.err(`${errorMessage(error)}\n`);
    setExit(1);
    return undefined;
  }
}

function formatEntry(entry: AuditEntry, json: boolean | undefined): string {
  if (json) return `${JSON.stringify(entry)}\n`;
  const actor = Object.entries(entry.actor)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ");
  const details = Object.keys(entry.details).length > 0 ? ` ${JSON.stringify(entry.details)}` : "";
  return `${`${String(entry.seq).padStart(6)}  ${entry.at}  ${entry.type.padEnd(18)} ${actor}${details}`.trimEnd()}\n`;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError("expected a positive integer");
  return number;
}

function parseTime(value: string): number {
  const number = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(number)) throw new InvalidArgumentError("expected an ISO time (2026-01-31T12:00:00Z) or epoch milliseconds");
  return number;
}
