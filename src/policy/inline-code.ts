import { isCredentialPath, isPersistencePath, isProtectedPath } from "./paths.js";
import { isInterpreter, optionValues } from "./rule-helpers.js";
import type { ScriptSink, SimpleCommand } from "./types.js";

const SHELL_CALL =
  /(?:os\.system|os\.popen|subprocess\.\w+|commands\.getoutput|\bsystem|\bexec(?:Sync)?|\bspawn(?:Sync)?|\bpopen|shell_exec|passthru|proc_open|IO\.popen|Open3\.\w+|\bqx)\s*\(?\s*(\[[^\]]*\]|(['"`])((?:\\.|(?!\2).)*)\2)/g;
const PERL_QUOTED = /\b(?:system|exec|qx)\s*\(?\s*(?:q[qx]?)?\s*[({[]([^)}\]]*)[)}\]]/g;
const BACKTICKS = /`([^`]+)`/g;
const SOCKET =
  /\/inet\/(tcp|udp)\/|\bsocket\b|fsockopen|TCPSocket|IO::Socket|net\.(connect|Socket|createConnection)|Socket\.new|\/dev\/tcp/;
const SPAWNS_IO = /\|&|dup2|pty|subprocess|\bexec|spawn|system|popen|child_process|\/bin\/(ba|z|da)?sh|STDIN|open\(STDIN|\bsh\b|cmd\.exe/;
const SHELL_SPAWN =
  /pty\.spawn|os\.exec[lv]p?e?\s*\(|(spawn|exec|system|popen|call|run|Popen)\s*\(?\s*\[?\s*['"](\/bin\/|\/usr\/bin\/)?(ba|z|da|k)?sh(\s+-[ip]+)?['"]/;
const FETCH =
  /require\(\s*['"]https?['"]\s*\)|urlopen|requests\.(get|post)|urllib|http\.get|https\.get|\bfetch\(|LWP|Net::HTTP|open-uri|URI\.open|file_get_contents\(\s*['"]https?:|curl_exec|wget|curl/;
const RUNS_CODE = /\b(exec|eval|system|compile|Function|load|instance_eval|include|require)\b/;
const DELETES_TREE =
  /os\.walk[\s\S]*os\.(remove|unlink)|os\.(remove|unlink)\([\s\S]*os\.walk|rmtree|rm_rf|remove_tree|rmSync|rimraf|FileUtils\.rm|removedirs|rm\s+-r/;
const SETUID = /set(e|re|res)?uid\s*\(\s*0\s*\)|POSIX::setuid\(0\)|Process::Sys\.setuid\(0\)/;
const DECODE_RUN = /(b64decode|base64|decode_base64|Buffer\.from\([^)]*base64|atob)/;
const STRING_LITERAL = /(['"])((?:\\.|(?!\1).)*)\1/g;

/** The inline program of `python3 -c`, `perl -e`, `node -e`, `ruby -e`, `php -r`, `awk '…'`, or a here-doc fed to one. */
export function inlineCodeOf(command: SimpleCommand): string | undefined {
  const { program } = command;
  if (/^[gmn]?awk$/.test(program)) {
    const code = command.args.find((arg) => !arg.value.startsWith("-"));
    return code?.value;
  }
  if (!isInterpreter(program)) return undefined;
  let flags: string[] = ["-e", "-E"];
  let long: string[] = ["--eval", "--print"];
  if (/^python|^pypy/.test(program)) flags = ["-c"];
  if (/^php/.test(program)) flags = ["-r"];
  if (/^node|^bun/.test(program)) flags = ["-e", "-p"];
  if (program === "deno") long = ["eval"];
  const code = [...optionValues(command, flags, long)];
  for (const arg of command.args)
    if (/^-[a-zA-Z]+[ce]$/.test(arg.value) && arg.value.length > 2) code.push(command.args[command.args.indexOf(arg) + 1]?.value ?? "");
  if (program === "deno" && command.args[0]?.value === "eval") code.push(command.args[1]?.value ?? "");
  if (code.length === 0 && command.stdinText !== undefined) code.push(command.stdinText);
  return code.length > 0 ? code.join("\n") : undefined;
}

/**
 * Regex heuristics on inline interpreter code: shell strings it passes to system/exec/popen are
 * parsed as scripts in turn; sockets wired to shells, spawned shells, fetched-then-run code,
 * tree deletes, setuid(0) and credential paths become findings.
 */
export function inspectInlineCode(command: SimpleCommand, analyzer: ScriptSink, depth: number): void {
  const code = inlineCodeOf(command);
  if (code === undefined || code.trim() === "") return;
  const text = `${command.program} ${code}`;
  if (SOCKET.test(code) && SPAWNS_IO.test(code)) {
    analyzer.finding("deny", "revshell.inline", "inline code connects a socket to a shell or process", text);
  } else if (SOCKET.test(code) && /connect|fsockopen|TCPSocket|IO::Socket::INET/.test(code)) {
    analyzer.finding("ask", "risky.inline-socket", "inline code opens a network connection", text);
  }
  if (SHELL_SPAWN.test(code)) analyzer.finding("deny", "privilege.shell-escape", "inline code spawns an interactive shell", text);
  if (FETCH.test(code) && RUNS_CODE.test(code.replace(FETCH, "")))
    analyzer.finding("deny", "remote.inline", "inline code downloads code and runs it", text);
  if (DECODE_RUN.test(code) && /\b(exec|eval|system)\s*\(/.test(code))
    analyzer.finding("deny", "remote.inline-obfuscated", "inline code decodes a payload and runs it", text);
  if (FETCH.test(code) && /os\.environ|process\.env|%ENV|ENV\.to|getenv\(\)/.test(code)) {
    analyzer.finding("deny", "exfil.inline", "inline code sends the environment to a host", text);
  }
  if (SETUID.test(code)) analyzer.finding("deny", "privilege.setuid", "inline code switches to root with setuid(0)", text);
  const literals = [...code.matchAll(STRING_LITERAL)].map((match) => match[2] ?? "");
  if (DELETES_TREE.test(code)) {
    const protectedTarget =
      literals.some(isProtectedPath) || /expanduser\(\s*['"]~['"]\s*\)|Path\.home\(\)|os\.homedir\(\)|ENV\[['"]HOME['"]\]/.test(code);
    analyzer.finding(
      protectedTarget ? "deny" : "ask",
      protectedTarget ? "destroy.inline-rm-root" : "risky.inline-delete",
      "inline code deletes a directory tree",
      text,
    );
  }
  if (literals.some(isCredentialPath)) analyzer.finding("deny", "credentials.read", "inline code reads credentials", text);
  if (literals.some(isPersistencePath) && /write|['"]a\+?['"]|['"]w\+?['"]|>>|appendFile|writeFile|open\(/.test(code)) {
    analyzer.finding("deny", "persistence.write", "inline code writes a file that makes code run again later", text);
  }
  // Perl's q(…), qq{…}, qx[…] quoting around a command.
  for (const match of code.matchAll(PERL_QUOTED)) if (match[1]) analyzer.script(match[1], depth + 1, new Map());
  for (const match of code.matchAll(SHELL_CALL)) {
    const raw =
      match[3] ??
      (match[1] ?? "")
        .replace(/^\[|\]$/g, "")
        .split(",")
        .map((part) => part.trim().replace(/^['"]|['"]$/g, ""))
        .join(" ");
    if (raw.trim()) analyzer.script(raw.replace(/\\(['"\\])/g, "$1"), depth + 1, new Map());
  }
  if (!/^[gmn]?awk$/.test(command.program)) {
    for (const match of code.matchAll(BACKTICKS)) if (match[1]) analyzer.script(match[1], depth + 1, new Map());
  }
}
