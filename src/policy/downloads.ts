import { isShell, normalizePath } from "./paths.js";
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
