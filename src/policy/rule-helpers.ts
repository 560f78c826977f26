import { isShell, resolveAgainst } from "./paths.js";
import type { ShellWord, SimpleCommand } from "./types.js";

/** Short flag letters (`-rf` → r, f) and long flags (`--force`) of a command. */
export function hasFlag(command: SimpleCommand, short: string, ...long: string[]): boolean {
  return command.args.some((arg) => {
    const value = arg.value;
    if (value.startsWith("--")) return long.some((name) => value === name || value.startsWith(`${name}=`));
    return /^-[a-zA-Z0-9]+$/.test(value) && [...short].some((letter) => value.includes(letter));
  });
}

/** Arguments that are not options. */
export function operands(command: SimpleCommand): string[] {
  return command.args.map((arg) => arg.value).filter((value) => !value.startsWith("-") || value === "-");
}

export function values(command: SimpleCommand): string[] {
  return command.args.map((arg) => arg.value);
}

/** The value after an option, in `-o VALUE`, `-oVALUE`, `--output VALUE` or `--output=VALUE` form. */
export function optionValues(command: SimpleCommand, short: string[], long: string[]): string[] {
  const found: string[] = [];
  const args = command.args;
  for (let index = 0; index < args.length; index++) {
    const value = (args[index] as ShellWord).value;
    for (const name of long) {
      if (value === name && args[index + 1]) found.push((args[index + 1] as ShellWord).value);
      else if (value.startsWith(`${name}=`)) found.push(value.slice(name.length + 1));
    }
    for (const name of short) {
      if (value === name && args[index + 1]) found.push((args[index + 1] as ShellWord).value);
      else if (value.startsWith(name) && value.length > name.length && !value.startsWith("--")) found.push(value.slice(name.length));
    }
  }
  return found;
}

const FETCHERS = new Set([
  "curl",
  "wget",
  "fetch",
  "nc",
  "ncat",
  "netcat",
  "socat",
  "telnet",
  "lwp-download",
  "lwp-request",
  "http",
  "https",
  "aria2c",
  "tftp",
  "ftp",
]);
const DECODERS = new Set([
  "base64",
  "base32",
  "xxd",
  "openssl",
  "rev",
  "uudecode",
  "gunzip",
  "zcat",
  "bzcat",
  "xzcat",
  "echo",
  "printf",
  "tr",
  "perl",
  "python",
  "python3",
]);
const NETWORK_SENDERS = new Set([
  "nc",
  "ncat",
  "netcat",
  "socat",
  "telnet",
  "curl",
  "wget",
  "openssl",
  "ssh",
  "dig",
  "nslookup",
  "host",
  "ping",
  "ftp",
  "tftp",
  "sendmail",
  "mail",
  "mutt",
]);
const READERS = new Set([
  "env",
  "printenv",
  "set",
  "export",
  "declare",
  "compgen",
  "cat",
  "tar",
  "zip",
  "gzip",
  "base64",
  "xxd",
  "dd",
  "find",
  "history",
  "id",
  "whoami",
  "hostname",
  "uname",
  "ls",
  "head",
  "tail",
  "od",
  "strings",
  "sqlite3",
  "ps",
]);
const INTERPRETER = /^(python[0-9.]*|pypy[0-9]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|php[0-9.]*|lua[0-9.]*|bun|deno|Rscript|tclsh|wish)$/;

export const isFetcher = (program: string): boolean => FETCHERS.has(program);
export const isDecoder = (program: string): boolean => DECODERS.has(program);
export const isNetworkSender = (program: string): boolean => NETWORK_SENDERS.has(program);
export const isReader = (program: string): boolean => READERS.has(program);
export const isInterpreter = (program: string): boolean => INTERPRETER.test(program);

/** A shell or interpreter that will execute what arrives on stdin (no script file named). */
const STDIN_FILES = new Set(["-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"]);

export function runsStdin(command: SimpleCommand): boolean {
  if (isShell(command.program)) {
    const args = values(command);
    if (args.some((value) => /^-[a-zA-Z]*c[a-zA-Z]*$/.test(value))) return false;
    const files = args.filter((value) => !value.startsWith("-"));
    return files.length === 0 || args.includes("-s") || STDIN_FILES.has(files[0] ?? "");
  }
  if (isInterpreter(command.program)) {
    const args = values(command);
    if (args.some((value) => /^-[a-zA-Z]*[ceErp]$/.test(value) || value === "--eval")) return false;
    const files = args.filter((value) => !value.startsWith("-"));
    return files.length === 0 || STDIN_FILES.has(files[0] ?? "");
  }
  if (command.program === "source" || command.program === ".") {
    return STDIN_FILES.has(values(command)[0] ?? "");
  }
  return false;
}

/** Every command whose output feeds `command`: pipeline stages before it. */
export function upstreamPrograms(command: SimpleCommand): string[] {
  return command.upstream.map((stage) => stage.program);
}

/** Commands run inside `$(…)` / `<(…)` in the arguments. */
export function substitutedPrograms(command: SimpleCommand): string[] {
  const collect = (commands: SimpleCommand[]): string[] =>
    commands.flatMap((inner) => [inner.program, ...collect(inner.args.flatMap((arg) => arg.substitutions))]);
  return collect(command.args.flatMap((arg) => arg.substitutions));
}

/** Paths a command writes: output redirections, plus the destinations of file-writing programs. */
export function writtenPaths(command: SimpleCommand): string[] {
  const paths = command.redirects
    .filter((redirect) => /^(>|>>|>\||&>|&>>|<>|>&)$/.test(redirect.operator) && !/^\d+$|^-$/.test(redirect.target))
    .map((redirect) => redirect.target);
  const files = operands(command);
  switch (command.program) {
    case "tee":
    case "truncate":
    case "touch":
    case "vi":
    case "vim":
    case "nvim":
    case "nano":
    case "emacs":
    case "ed":
      paths.push(...files);
      break;
    case "cp":
    case "mv":
    case "ln":
    case "install":
    case "rsync":
    case "scp":
      if (files.length > 1) paths.push(files[files.length - 1] as string);
      break;
    case "sed":
    case "perl":
      if (hasFlag(command, "i", "--in-place")) paths.push(...files.slice(1));
      break;
    case "dd":
      paths.push(
        ...values(command)
          .filter((value) => value.startsWith("of="))
          .map((value) => value.slice(3)),
      );
      break;
    default:
  }
  return paths;
}

/** Paths a command reads: input redirections and every argument that looks like a path (also `key=PATH`). */
export function mentionedPaths(command: SimpleCommand): string[] {
  const paths: string[] = command.redirects.filter((redirect) => redirect.operator === "<").map((redirect) => redirect.target);
  for (const value of values(command)) {
    paths.push(value);
    const equals = value.indexOf("=");
    if (equals >= 0) paths.push(value.slice(equals + 1));
    if (value.startsWith("@")) paths.push(value.slice(1));
    const at = value.indexOf("=@");
    if (at >= 0) paths.push(value.slice(at + 2));
  }
  return paths;
}

/** A matcher for commands whose program is one of `names`. */
export const programIs =
  (...names: string[]) =>
  (command: SimpleCommand): boolean =>
    names.includes(command.program);

export const isRecursive = (command: SimpleCommand): boolean => hasFlag(command, "rR", "--recursive");

/** What `rm` deletes, relative paths resolved against a known `cd`. */
export function rmTargets(command: SimpleCommand): string[] {
  return operands(command)
    .filter((value) => value !== "--")
    .map((value) => resolveAgainst(command.cwd, value));
}
