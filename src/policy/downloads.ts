import { isShell, normalizePath, normalizeProgram } from "./paths.js";
import { hasFlag, operands, optionValues } from "./rule-helpers.js";
import type { ScriptFinding, SimpleCommand } from "./types.js";

const RUNNERS = /^(python[0-9.]*|perl|ruby|node|php|source|\.|chmod)$/;

/**
 * Download, then run: `curl -o x.sh URL && bash x.sh`, `wget URL; chmod +x f; ./f`. Walks the
 * commands in order, remembering the files curl and wget write, and flags a later command
 * that executes one of them.
 */
export function findDownloadThenRun(commands: readonly SimpleCommand[]): ScriptFinding[] {
  const downloaded = new Set<string>();
  const written = new Set<string>();
  const renames = new Map<string, string>();
  const findings: ScriptFinding[] = [];
  const key = (path: string) => normalizePath(path.replace(/^\.\//, ""));
  for (const command of commands) {
    const executed = [command.path];
    if (isShell(command.program) || (RUNNERS.test(command.program) && command.program !== "chmod"))
      executed.push(...operands(command).slice(0, 1));
    if (executed.some((path) => downloaded.has(key(path)))) {
      findings.push({
        decision: "deny",
        rule: "remote.download-run",
        reason: "runs a file it has just downloaded",
        text: [command.path, ...operands(command)].join(" "),
      });
    }
    if (executed.some((path) => written.has(key(path)))) {
      findings.push({
        decision: "ask",
        rule: "risky.write-then-run",
        reason: "runs a script the same command line wrote",
        text: [command.path, ...operands(command)].join(" "),
      });
    }
    // `ln -s /bin/rm /tmp/del; /tmp/del -rf /`: a renamed program is still that program.
    const renamed = renames.get(key(command.path));
    if (renamed !== undefined) command.program = renamed;
    if (["ln", "cp", "install", "mv"].includes(command.program)) {
      const files = operands(command);
      if (files.length === 2) renames.set(key(files[1] as string), normalizeProgram(files[0] as string));
    }
    // Text written by a decoder or a download is remote code; anything else written and run is asked about.
    const fromRemote = [command, ...command.upstream].some((stage) =>
      ["curl", "wget", "base64", "xxd", "nc", "ncat"].includes(stage.program),
    );
    for (const redirect of command.redirects) {
      if (redirect.operator !== ">" && redirect.operator !== ">>") continue;
      (fromRemote ? downloaded : written).add(key(redirect.target));
    }
    if (command.program !== "curl" && command.program !== "wget") continue;
    const outputs = optionValues(command, command.program === "curl" ? ["-o"] : ["-O"], ["--output", "--output-document"]);
    outputs.push(
      ...command.redirects.filter((redirect) => redirect.operator === ">" || redirect.operator === ">>").map((redirect) => redirect.target),
    );
    const remoteName = command.program === "wget" ? outputs.length === 0 : hasFlag(command, "O", "--remote-name");
    if (remoteName)
      for (const url of operands(command).filter((value) => /^(https?|ftp):\/\//.test(value)))
        outputs.push(
          url
            .replace(/[?#].*$/, "")
            .split("/")
            .pop() ?? "",
        );
    for (const output of outputs) if (output && output !== "-") downloaded.add(key(output));
  }
  return findings;
}
