import type { ScriptSink, ShellWord, SimpleCommand } from "./types.js";
import { inspectInlineCode } from "./inline-code.js";
import { isShell, normalizeProgram } from "./paths.js";

export interface UnwrapContext {
  depth: number;
  vars: Map<string, string | undefined>;
  analyzer: ScriptSink;
}

/** Options that take a value, per wrapper, so the wrapped program is found after them. */
const OPTIONS_WITH_VALUE: Record<string, string> = {
  sudo: "ughpCDrtUT",
  doas: "uC",
  nice: "n",
  ionice: "cnpPt",
  timeout: "sk",
  stdbuf: "ioe",
  xargs: "InPLldEesa",
  watch: "nqg",
  taskset: "",
  strace: "oepPsSEuU",
  ltrace: "oepPsSEuU",
  setsid: "",
  flock: "wEsn",
  ssh: "bcDEeFIiJLlmOoPpQRSWw",
  runuser: "ugGs",
  chrt: "",
};
const SIMPLE_WRAPPERS = new Set(["nohup", "time", "builtin", "exec", "unbuffer", "setsid", "command", "nice", "ionice", "timeout"]);
const SCRIPT_FLAG = /^-[a-zA-Z]*c[a-zA-Z]*$/;

/**
 * Peels wrappers off a command (sudo, env, nohup, timeout, nice, xargs, find -exec, …) and
 * returns the commands they run; strings that a shell will parse (`bash -c`, `eval`, `ssh host
 * CMD`, `watch CMD`, `su -c`, `env -S`) are handed back to the analyzer as scripts.
 */
export function unwrapCommand(command: SimpleCommand, context: UnwrapContext): SimpleCommand[] {
  const found: SimpleCommand[] = [];
  let current = command;
  for (let guard = 0; guard < 16; guard++) {
    const next = peel(current, context);
    if (!next) break;
    found.push(next);
    current = next;
  }
  for (const inner of [command, ...found]) findExec(inner, context, found);
  for (const inner of [command, ...found]) inspectInlineCode(inner, context.analyzer, context.depth);
  for (const inner of [command, ...found]) embeddedCommands(inner, context);
  return found;
}

function peel(command: SimpleCommand, context: UnwrapContext): SimpleCommand | undefined {
  const { program, args } = command;
  const values = args.map((arg) => arg.value);
  if (program === "eval") {
    return script(command, args, context);
  }
  if (["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "rbash"].includes(program)) {
    const flag = values.findIndex((value) => SCRIPT_FLAG.test(value));
    if (flag < 0) return undefined;
    const rest = args.slice(flag + 1).filter((arg) => arg.value !== "--");
    // `sh -c 'rm -rf "$1"' _ /`: the words after the script are $0, $1, …
    const positional = new Map(context.vars);
    rest.slice(1).forEach((arg, index) => positional.set(String(index), arg.dynamic ? undefined : arg.value));
    return rest[0] ? script(command, [rest[0]], { ...context, vars: positional }) : undefined;
  }
  if (program === "su") {
    const flag = values.findIndex((value) => value === "-c" || value === "--command");
    return flag >= 0 && args[flag + 1] ? script(command, [args[flag + 1] as ShellWord], context) : undefined;
  }
  if (program === "busybox") return inner(command, args);
  if (program === "env") return peelEnv(command, context);
  if (program === "ssh") {
    const rest = skipOptions(args, OPTIONS_WITH_VALUE.ssh ?? "");
    return rest.length > 1 ? script(command, rest.slice(1), context) : undefined;
  }
  if (program === "watch") {
    const rest = skipOptions(args, OPTIONS_WITH_VALUE.watch ?? "");
    if (values.includes("-x") || values.includes("--exec")) return inner(command, rest);
    return rest.length > 0 ? script(command, rest, context) : undefined;
  }
  if (program === "flock") {
    const rest = skipOptions(args, OPTIONS_WITH_VALUE.flock ?? "");
    const flag = values.findIndex((value) => value === "-c" || value === "--command");
    if (flag >= 0 && args[flag + 1]) return script(command, [args[flag + 1] as ShellWord], context);
    return inner(command, rest.slice(1));
  }
  if (program === "chroot") return inner(command, skipOptions(args, "").slice(1));
  if (program === "timeout") return inner(command, skipOptions(args, OPTIONS_WITH_VALUE.timeout ?? "").slice(1));
  if (program === "taskset" || program === "chrt") return inner(command, skipOptions(args, "").slice(1));
  if (program === "xargs") {
    // `echo / | xargs rm -rf`: literal words echoed into xargs become arguments.
    const result = inner(command, skipOptions(args, OPTIONS_WITH_VALUE.xargs ?? ""));
    const fed = command.upstream.filter((stage) => stage.program === "echo" || stage.program === "printf").flatMap((stage) => stage.args);
    if (result) result.args.push(...fed.filter((arg) => !arg.value.startsWith("-")));
    return result;
  }
  if (program === "screen" || program === "tmux") {
    const rest = skipOptions(args, program === "screen" ? "SclpTXe" : "sntcL");
    const start = program === "tmux" ? rest.findIndex((arg) => !["new", "new-session", "new-window", "-d"].includes(arg.value)) : 0;
    return start >= 0 && rest.length > start ? script(command, rest.slice(start), context) : undefined;
  }
  if (program === "sudo" || program === "doas" || program === "runuser" || program === "strace" || program === "ltrace") {
    return inner(command, skipOptions(args, OPTIONS_WITH_VALUE[program] ?? ""));
  }
  if (program === "stdbuf") return inner(command, skipOptions(args, OPTIONS_WITH_VALUE.stdbuf ?? ""));
  if (SIMPLE_WRAPPERS.has(program)) {
    if (program === "command" && values.some((value) => value === "-v" || value === "-V")) return undefined;
    return inner(command, skipOptions(args, OPTIONS_WITH_VALUE[program] ?? "", program === "nice"));
  }
  return undefined;
}

function peelEnv(command: SimpleCommand, context: UnwrapContext): SimpleCommand | undefined {
  const args = command.args;
  const assignments: Record<string, string> = {};
  for (let index = 0; index < args.length; index++) {
    const value = (args[index] as ShellWord).value;
    if (value === "-S" || value === "--split-string" || value.startsWith("-S")) {
      const text = value.length > 2 && value.startsWith("-S") ? value.slice(2) : args[index + 1]?.value;
      const rest = args.slice(index + (value.length > 2 ? 1 : 2));
      if (text === undefined) return undefined;
      return script(command, [{ value: text, dynamic: false, substitutions: [] }, ...rest], context);
    }
    if (["-u", "--unset", "-C", "--chdir"].includes(value)) {
      index += 1;
      continue;
    }
    if (value.startsWith("-")) continue;
    const equals = value.indexOf("=");
    if (equals > 0) {
      assignments[value.slice(0, equals)] = value.slice(equals + 1);
      // Shellshock: bash runs what follows a function definition in an exported variable.
      if (value.slice(equals + 1).startsWith("() {")) context.analyzer.script(value.slice(equals + 1), context.depth + 1, new Map());
      continue;
    }
    const result = inner(command, args.slice(index));
    if (result) Object.assign(result.assignments, assignments);
    return result;
  }
  return undefined;
}

/** Skips leading options (and the values of those that take one). */
function skipOptions(args: ShellWord[], withValue: string, numericFlags = false): ShellWord[] {
  let index = 0;
  while (index < args.length) {
    const value = (args[index] as ShellWord).value;
    if (value === "--") return args.slice(index + 1);
    if (!value.startsWith("-") || value === "-") break;
    if (numericFlags && /^-\d+$/.test(value)) {
      index += 1;
      continue;
    }
    const letter = value.startsWith("--") ? "" : value.slice(-1);
    const long =
      value.startsWith("--") &&
      !value.includes("=") &&
      /^--(user|group|signal|kill-after|adjustment|class|replace|max-args|max-procs|delimiter|arg-file|interval|output|chdir)$/.test(value);
    index += (value.length === 2 && withValue.includes(letter)) || long ? 2 : 1;
  }
  return args.slice(index);
}

function inner(outer: SimpleCommand, rest: ShellWord[]): SimpleCommand | undefined {
  const first = rest[0];
  if (!first) return undefined;
  return {
    program: normalizeProgram(first.value),
    path: first.value,
    args: rest.slice(1),
    redirects: outer.redirects,
    assignments: { ...outer.assignments },
    upstream: outer.upstream,
    wrappers: [...outer.wrappers, outer.program],
    ...(outer.cwd === undefined ? {} : { cwd: outer.cwd }),
    ...(outer.stdinText === undefined ? {} : { stdinText: outer.stdinText }),
  };
}

/** Hands a string the wrapper will give to a shell back to the analyzer; returns nothing to peel further. */
function script(outer: SimpleCommand, words: ShellWord[], context: UnwrapContext): undefined {
  const text = words.map((word) => word.value).join(" ");
  if (words.some((word) => word.dynamic && word.substitutions.length === 0 && /\$[A-Za-z_{]/.test(word.value))) {
    context.analyzer.finding("ask", "parse.dynamic-script", `${outer.program} runs a script that is only known at run time`, text);
  }
  const commands = context.analyzer.script(text, context.depth + 1, new Map(context.vars));
  for (const command of commands) {
    if (command.upstream.length === 0) command.upstream = outer.upstream;
    command.wrappers.unshift(...outer.wrappers, outer.program);
  }
  return undefined;
}

/** `find … -exec CMD {} ;` (and -execdir, -ok): each CMD is a command of its own. */
function findExec(command: SimpleCommand, context: UnwrapContext, found: SimpleCommand[]): void {
  if (command.program !== "find") return;
  const args = command.args;
  for (let index = 0; index < args.length; index++) {
    if (!["-exec", "-execdir", "-ok", "-okdir"].includes((args[index] as ShellWord).value)) continue;
    const end = args.findIndex((arg, position) => position > index && (arg.value === ";" || arg.value === "+"));
    const body = args.slice(index + 1, end < 0 ? undefined : end);
    const result = inner(command, body);
    if (result) {
      flagShellEscape(command, [result], context);
      found.push(result);
      for (const deeper of unwrapCommand(result, context)) found.push(deeper);
    }
    if (end < 0) break;
    index = end;
  }
}

/** Options that hand a command line to a shell (GTFOBins): `tar --checkpoint-action=exec=…`, `rsync -e`, `ssh -o ProxyCommand=…`, `git -c core.pager=…`, `vim -c ':!…'`, `zip -TT`. */
const EMBEDDED: Record<string, { short: string[]; long: string[]; pattern?: RegExp }> = {
  tar: {
    short: ["-I"],
    long: ["--to-command", "--use-compress-program", "--checkpoint-action", "--rsh-command", "--info-script", "--new-volume-script"],
  },
  rsync: { short: ["-e"], long: ["--rsh", "--rsync-path"] },
  ssh: { short: ["-o"], long: [], pattern: /^(ProxyCommand|LocalCommand|KnownHostsCommand)[= ]/i },
  scp: { short: ["-S", "-o"], long: [], pattern: /^(ProxyCommand|LocalCommand)[= ]|^[^=]*$/i },
  git: {
    short: ["-c"],
    long: ["--config-env"],
    pattern: /^core\.(pager|sshCommand|editor|fsmonitor|hooksPath)=|^(diff|merge|filter)\..*=|^alias\..*=!/i,
  },
  vim: { short: ["-c", "--cmd"], long: [], pattern: /^:?!/ },
  vi: { short: ["-c"], long: [], pattern: /^:?!/ },
  zip: { short: ["-TT"], long: ["--unzip-command"] },
  less: { short: [], long: [] },
};

function embeddedCommands(command: SimpleCommand, context: UnwrapContext): void {
  const spec = EMBEDDED[command.program];
  if (!spec) return;
  for (let index = 0; index < command.args.length; index++) {
    const value = (command.args[index] as ShellWord).value;
    let text: string | undefined;
    for (const name of [...spec.short, ...spec.long]) {
      if (value === name) text = command.args[index + 1]?.value;
      else if (value.startsWith(`${name}=`)) text = value.slice(name.length + 1);
    }
    if (text === undefined || (spec.pattern && !spec.pattern.test(text))) continue;
    const script = text
      .replace(/^exec=/, "")
      .replace(/^(ProxyCommand|LocalCommand|KnownHostsCommand)[= ]/i, "")
      .replace(/^[^=]*=!?/, (prefix) => (command.program === "git" ? "" : prefix))
      .replace(/^:?!/, "");
    const commands = context.analyzer.script(script, context.depth + 1, new Map(context.vars));
    flagShellEscape(command, commands, context, true);
  }
}

/** A bare shell started from inside another program is a shell escape (GTFOBins), whatever it then runs. */
function flagShellEscape(outer: SimpleCommand, commands: SimpleCommand[], context: UnwrapContext, anyShell = false): void {
  const shell = commands.find(
    (inner) =>
      isShell(inner.program) && (anyShell || !inner.args.some((arg) => /^-[a-zA-Z]*c/.test(arg.value) || !arg.value.startsWith("-"))),
  );
  if (shell) context.analyzer.finding("deny", "privilege.shell-escape", `${outer.program} starts an interactive shell`, shell.path);
}
