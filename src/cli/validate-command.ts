import { existsSync } from "node:fs";
import type { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { listWorkflowFiles } from "../daemon/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import { formatIssue, loadWorkflowFile, type WorkflowIssue } from "../workflow/index.js";
import { addCommonOptions, printJson, type CommonOptions, type Io } from "./context.js";

/** `localagent validate [FILE…]`: one `file:line:column: message` per problem; exit 1 when any. */
export function registerValidate(program: Command, io: Io, setExit: (code: number) => void): void {
  addCommonOptions(program.command("validate"))
    .description("check workflow files (default: config.yaml and workflows/ of the config directory)")
    .argument("[files...]", "workflow files or folders")
    .option("--json", "print the problems as JSON")
    .action((files: string[], options: CommonOptions) => {
      const issues: WorkflowIssue[] = [];
      let targets = files;
      if (targets.length === 0) {
        try {
          const config = loadConfig(options.config ? { configDir: options.config } : {});
          targets = [config.workflowsDir, ...config.workflowPaths];
        } catch (error) {
          const lines =
            error instanceof LocalAgentError && Array.isArray(error.details.problems)
              ? (error.details.problems as string[])
              : [errorMessage(error)];
          for (const line of lines) io.out(`${line}\n`);
          return setExit(1);
        }
      }
      const missing = targets.filter((target) => !existsSync(target));
      for (const target of missing) issues.push({ file: target, line: 1, column: 1, message: "no such file or directory" });
      const registry = createDefaultRegistry();
      const list = listWorkflowFiles(targets.filter((target) => existsSync(target)));
      let workflows = 0;
      for (const file of list) {
        const result = loadWorkflowFile(file, registry);
        issues.push(...result.issues);
        workflows += result.workflows.length;
      }
      if (options.json) printJson(io, { valid: issues.length === 0, files: list.length, workflows, problems: issues });
      else if (issues.length > 0) for (const issue of issues) io.out(`${formatIssue(issue)}\n`);
      else io.err(`${list.length} file(s), ${workflows} workflow(s): valid\n`);
      setExit(issues.length === 0 ? 0 : 1);
    });
}
