import type { Node, Parser } from "web-tree-sitter";
import { findDownloadThenRun } from "./downloads.js";
import { inspectInlineCode } from "./inline-code.js";
import { isShell, normalizeProgram } from "./paths.js";
import type { ScriptFinding, ScriptSink, ShellRedirect, ShellWord, SimpleCommand } from "./types.js";
import { unwrapCommand } from "./wrappers.js";

/** Every simple command a script can run, plus findings about the script itself. */
export interface ScriptAnalysis {
  commands: SimpleCommand[];
  findings: ScriptFinding[];
}

const MAX_DEPTH = 8;
const DOWNLOADERS = /^(curl|wget|nc|ncat|netcat|socat|base64|xxd|fetch)$/;
/** Where `cd` left the script, kept among the variables under a name no shell variable can have. */
const CWD = "\u0000cwd";
// Bounded name and body so the backreference cannot go quadratic on long input.
const FORK_BOMB = /([\w:.-]{1,64})\s*\(\s*\)\s*\{[^}]{0,200}?\1\s*\|\s*\1\s*&[^}]{0,200}\}/;

/**
 * Walks a bash syntax tree (tree-sitter) and collects every simple command it can run: through
 * pipes, lists, subshells, groups, control flow, substitutions, here-docs, and strings handed to
 * `bash -c`, `eval`, `ssh`, `watch`, `su -c`, `find -exec`, … which are parsed in turn.
 */
export class ScriptAnalyzer implements ScriptSink {
  private readonly commands: SimpleCommand[] = [];
  private readonly findings: ScriptFinding[] = [];
  private readonly taints = new Map<string, SimpleCommand[]>();
  private readonly aliases = new Map<string, string>();

  constructor(private readonly parser: Parser) {}

  analyze(source: string): ScriptAnalysis {
    this.script(source, 0, new Map());
    this.findings.push(...findDownloadThenRun(this.commands));
    return { commands: this.commands, findings: this.findings };
  }

  /** Parses `source` as a script and walks it; nested strings come back here with depth + 1. */
  script(source: string, depth: number, vars: Map<string, string | undefined>): SimpleCommand[] {
    if (depth > MAX_DEPTH) {
      this.finding("deny", "parse.too-deep", "commands nested too deeply to check", source);
      return [];
    }
    if (/\(\s*\)\s*\{/.test(source) && FORK_BOMB.test(source))
      this.finding("deny", "destroy.fork-bomb", "fork bomb: a function that spawns itself endlessly", source);
    const tree = this.parser.parse(source);
    if (!tree) {
      this.finding("deny", "parse.error", "the command could not be parsed", source);
      return [];
    }
    try {
      if (tree.rootNode.hasError) {
        this.finding("deny", "parse.error", "the command is not valid shell syntax, so it cannot be checked", source);
        return [];
      }
      return this.walk(tree.rootNode, depth, vars);
    } finally {
      tree.delete();
    }
  }

  finding(decision: ScriptFinding["decision"], rule: string, reason: string, text: string): void {
    this.findings.push({ decision, rule, reason, text });
  }

  private walk(node: Node, depth: number, vars: Map<string, string | undefined>): SimpleCommand[] {
    switch (node.type) {
      case "command":
        return this.command(node, depth, vars, []);
      case "pipeline":
        return this.pipeline(node, depth, vars);
      case "redirected_statement":
        return this.redirected(node, depth, vars);
      case "variable_assignment":
        this.assign(node, depth, vars);
        return [];
      case "declaration_command": {
        const found: SimpleCommand[] = [];
        for (const child of node.namedChildren) {
          if (child?.type === "variable_assignment") this.assign(child, depth, vars);
          else if (child) found.push(...this.walk(child, depth, vars));
        }
        return found;
      }
      case "heredoc_body":
      case "comment":
        return [];
      default: {
        const found: SimpleCommand[] = [];
        for (const child of node.namedChildren) if (child) found.push(...this.walk(child, depth, vars));
        return found;
      }
    }
  }

  private assign(node: Node, depth: number, vars: Map<string, string | undefined>): void {
    const name = node.childForFieldName("name")?.text ?? node.namedChildren[0]?.text;
    const valueNode = node.childForFieldName("value");
    if (!name) return;
    if (!valueNode) return void vars.set(name, "");
    const value = this.word(valueNode, depth, vars);
    vars.set(name, value.dynamic ? undefined : value.value);
    // `x=$(curl …); eval "$x"`: the commands behind a variable follow it into later words.
    if (value.substitutions.length > 0) this.taints.set(name, value.substitutions);
    else this.taints.delete(name);
  }

  private pipeline(node: Node, depth: number, vars: Map<string, string | undefined>): SimpleCommand[] {
    const found: SimpleCommand[] = [];
    const upstream: SimpleCommand[] = [];
    for (const child of node.namedChildren) {
      if (!child) continue;
      const stage = child.type === "command" ? this.command(child, depth, vars, [...upstream]) : this.walk(child, depth, vars);
      if (child.type !== "command") for (const command of stage) command.upstream.push(...upstream);
      found.push(...stage);
      upstream.push(...stage);
    }
    return found;
  }

  private redirected(node: Node, depth: number, vars: Map<string, string | undefined>): SimpleCommand[] {
    const body = node.childForFieldName("body");
    // `> file` alone truncates the file: a command of its own.
    const found = body ? this.walk(body, depth, vars) : [this.pseudoCommand(vars)];
    const redirects: ShellRedirect[] = [];
    const later: SimpleCommand[] = [];
    let stdinText: string | undefined;
    for (const child of node.namedChildren) {
      if (!child || child === body || child.id === body?.id) continue;
      if (child.type === "file_redirect") redirects.push(this.redirect(child, depth, vars));
      else if (child.type === "herestring_redirect") {
        const word = this.herestring(child, depth, vars);
        stdinText = word.value;
        for (const command of found) command.upstream.push(...word.substitutions);
      } else if (child.type === "heredoc_redirect") {
        stdinText = child.namedChildren.find((part) => part?.type === "heredoc_body")?.text ?? "";
        // `cat <<EOF | sh`: the parser hangs the rest of the pipeline under the heredoc.
        for (const part of child.namedChildren) {
          if (!part || part.type.startsWith("heredoc_")) continue;
          const stage = this.walk(part, depth, vars);
          for (const command of stage) command.upstream.push(...found);
          later.push(...stage);
        }
      }
    }
    for (const command of found) {
      command.redirects.push(...redirects);
      if (stdinText !== undefined && command.stdinText === undefined) {
        command.stdinText = stdinText;
        this.feedStdin(command, stdinText, depth, vars);
      }
    }
    for (const command of later) this.feedFromUpstream(command, depth, vars);
    return [...found, ...later];
  }

  private herestring(node: Node, depth: number, vars: Map<string, string | undefined>): ShellWord {
    const target = node.namedChildren.find((part) => part && part.type !== "<<<");
    return target ? this.word(target, depth, vars) : { value: "", dynamic: false, substitutions: [] };
  }

  private pseudoCommand(vars: Map<string, string | undefined>): SimpleCommand {
    const command: SimpleCommand = { program: ":", path: ":", args: [], redirects: [], assignments: {}, upstream: [], wrappers: [] };
    const cwd = vars.get(CWD);
    if (cwd !== undefined) command.cwd = cwd;
    this.commands.push(command);
    return command;
  }

  private redirect(node: Node, depth: number, vars: Map<string, string | undefined>): ShellRedirect {
    const destination = node.childForFieldName("destination") ?? node.namedChildren.find((part) => part?.type !== "file_descriptor");
    const operator = node.children.find((part) => part && !part.isNamed)?.text ?? ">";
    return { operator, target: destination ? this.word(destination, depth, vars).value : "" };
  }

  /** A shell or interpreter reading a here-doc / here-string: the text is a script too. */
  private feedStdin(command: SimpleCommand, text: string, depth: number, vars: Map<string, string | undefined>): void {
    if (command.stdinText === undefined) command.stdinText = text;
    inspectInlineCode(command, this, depth);
    if (isShell(command.program) && command.args.every((arg) => arg.value.startsWith("-") && arg.value !== "-c")) {
      this.script(text, depth + 1, new Map(vars));
    }
  }

  /** `cat <<EOF | sh` / `echo 'rm -rf /' | bash`: literal text piped into a shell is parsed as a script. */
  private feedFromUpstream(command: SimpleCommand, depth: number, vars: Map<string, string | undefined>): void {
    const source = command.upstream.find((stage) => stage.stdinText !== undefined && stage.program === "cat");
    if (source?.stdinText !== undefined) this.feedStdin(command, source.stdinText, depth, vars);
  }

  private command(node: Node, depth: number, vars: Map<string, string | undefined>, upstream: SimpleCommand[]): SimpleCommand[] {
    const words: ShellWord[] = [];
    const redirects: ShellRedirect[] = [];
    const assignments: Record<string, string> = {};
    let stdinText: string | undefined;
    const hereSources: SimpleCommand[] = [];
    const local = new Map(vars);
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === "variable_assignment") {
        this.assign(child, depth, local);
        const name = child.childForFieldName("name")?.text ?? "";
        assignments[name] = local.get(name) ?? "$?";
      } else if (child.type === "file_redirect") redirects.push(this.redirect(child, depth, vars));
      else if (child.type === "herestring_redirect") {
        const word = this.herestring(child, depth, vars);
        stdinText = word.value;
        hereSources.push(...word.substitutions);
      } else {
        const wordNode = child.type === "command_name" ? (child.namedChildren[0] ?? child) : child;
        words.push(...splitFields(wordNode, this.word(wordNode, depth, vars), vars));
      }
    }
    const first = words[0];
    if (!first) return [];
    // `alias x=rm` (with expand_aliases) makes `x -rf /` an rm.
    const alias = this.aliases.get(first.value);
    if (alias !== undefined) this.script([alias, ...words.slice(1).map((word) => word.value)].join(" "), depth + 1, new Map(vars));
    if (first.dynamic) {
      this.finding("ask", "parse.dynamic-command", "the program name is only known at run time", node.text);
      // `$(curl …)` as a command runs what was downloaded.
      if (first.substitutions.some((inner) => DOWNLOADERS.test(inner.program))) {
        this.finding("deny", "remote.substitution", "runs the output of a download as a command", node.text);
      }
    }
    const command: SimpleCommand = {
      program: normalizeProgram(first.value),
      path: first.value,
      args: words.slice(1),
      redirects,
      assignments,
      upstream: [...upstream, ...hereSources],
      wrappers: [],
      ...(stdinText === undefined ? {} : { stdinText }),
      ...(vars.get(CWD) === undefined ? {} : { cwd: vars.get(CWD) }),
    };
    if (command.program === "alias") {
      for (const arg of command.args) {
        const equals = arg.value.indexOf("=");
        if (equals > 0) this.aliases.set(arg.value.slice(0, equals), arg.value.slice(equals + 1));
      }
    }
    if (command.program === "cd") {
      const target = command.args.find((arg) => !arg.value.startsWith("-"));
      vars.set(CWD, target && !target.dynamic ? resolveCwd(vars.get(CWD), target.value) : undefined);
    }
    if (stdinText !== undefined) this.feedStdin(command, stdinText, depth, vars);
    if (upstream.length > 0) this.feedFromUpstream(command, depth, vars);
    // `rm${IFS}-rf${IFS}/` and `{rm,-rf,/}`: bash splits these into words at run time.
    if (/\$\{?IFS\b/.test(node.text)) this.script(node.text.replace(/\$\{IFS\}|\$IFS\b/g, " "), depth + 1, new Map(vars));
    if (/^\{[^{}\s]*,[^{}\s]*\}$/.test(first.value)) this.script(first.value.slice(1, -1).replaceAll(",", " "), depth + 1, new Map(vars));
    const found = [command];
    this.commands.push(command);
    for (const inner of unwrapCommand(command, { depth, vars, analyzer: this })) {
      found.push(inner);
      this.commands.push(inner);
    }
    return found;
  }

  /** Quote removal and substitution of known variables; `$(…)` is walked as commands of its own. */
  word(node: Node, depth: number, vars: Map<string, string | undefined>): ShellWord {
    const result: ShellWord = { value: "", dynamic: false, substitutions: [] };
    this.appendWord(node, depth, vars, result);
    return result;
  }

  private appendWord(node: Node, depth: number, vars: Map<string, string | undefined>, result: ShellWord): void {
    switch (node.type) {
      case "word":
      case "number":
      case "command_name":
        if (node.namedChildCount > 0) {
          for (const child of node.namedChildren) if (child) this.appendWord(child, depth, vars, result);
          return;
        }
        result.value += unescapeWord(node.text);
        if (/[*?[]/.test(node.text)) result.dynamic = true;
        return;
      case "raw_string":
        result.value += node.text.slice(1, -1);
        return;
      case "ansi_c_string":
        result.value += decodeAnsiC(node.text.slice(2, -1));
        return;
      case "string_content":
        result.value += node.text.replace(/\\([$`"\\\n])/g, "$1");
        return;
      case "string":
      case "translated_string":
      case "concatenation":
        if (node.type === "string" && node.namedChildCount === 0) return;
        for (const child of node.namedChildren) if (child) this.appendWord(child, depth, vars, result);
        return;
      case "simple_expansion":
      case "expansion": {
        const name = node.namedChildren.find((child) => child?.type === "variable_name" || child?.type === "special_variable_name");
        const plain = name && (node.type === "simple_expansion" || node.namedChildCount === 1);
        const known = plain ? lookup(name.text, vars) : undefined;
        result.substitutions.push(...(this.taints.get(name?.text ?? "") ?? []));
        if (known === undefined) {
          result.dynamic = true;
          result.value += `$${name?.text ?? "?"}`;
        } else result.value += known;
        return;
      }
      case "command_substitution":
      case "process_substitution": {
        result.dynamic = true;
        for (const child of node.namedChildren) if (child) result.substitutions.push(...this.walk(child, depth, vars));
        result.value += node.type === "process_substitution" ? "/dev/fd/63" : "$(…)";
        return;
      }
      default:
        result.dynamic = true;
        result.value += node.text;
        for (const child of node.namedChildren) if (child) result.substitutions.push(...this.walk(child, depth, vars));
    }
  }
}

/**
 * Field splitting: an unquoted expansion whose value holds IFS characters becomes several words
 * (`cmd="rm -rf /"; $cmd`, `opts="-rf /"; rm $opts`, `IFS=,; c="rm,-rf,/"; $c`).
 */
function splitFields(node: Node, word: ShellWord, vars: Map<string, string | undefined>): ShellWord[] {
  const unquoted =
    node.type === "simple_expansion" ||
    node.type === "expansion" ||
    (node.type === "concatenation" &&
      node.namedChildren.some((child) => child?.type === "simple_expansion" || child?.type === "expansion"));
  if (!unquoted) return [word];
  const separators = `${vars.get("IFS") ?? ""} \t\n`;
  const fields = word.value.split(new RegExp(`[${separators.replace(/[\]\\^-]/g, "\\$&")}]+`)).filter((field) => field !== "");
  if (fields.length <= 1) return [word];
  return fields.map((value, index) => ({ value, dynamic: word.dynamic, substitutions: index === 0 ? word.substitutions : [] }));
}

function resolveCwd(current: string | undefined, target: string): string | undefined {
  if (target.startsWith("/") || target.startsWith("~")) return target;
  return current === undefined ? undefined : `${current}/${target}`;
}

function lookup(name: string, vars: Map<string, string | undefined>): string | undefined {
  if (vars.has(name)) return vars.get(name);
  if (name === "HOME") return "~";
  return undefined;
}

function unescapeWord(text: string): string {
  return text.replace(/\\(.)/gs, "$1");
}

function decodeAnsiC(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_match, code: string) => {
    if (code.startsWith("x")) return String.fromCharCode(parseInt(code.slice(1), 16));
    if (/^[0-7]+$/.test(code)) return String.fromCharCode(parseInt(code, 8));
    return ({ n: "\n", t: "\t", r: "\r", e: "\u001b", a: "\u0007" } as Record<string, string>)[code] ?? code;
  });
}
