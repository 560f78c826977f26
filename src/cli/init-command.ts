import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { defaultConfigDir } from "../config/index.js";
import type { Io } from "./context.js";

const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const WORKFLOW_NOTES: Record<string, string> = {
  "daily_backup.yaml": [
    "# Format A (one workflow under `workflow:`), as in the project's first article.",
    "# Runs at 03:00 every day: dumps a PostgreSQL database, then asks the code_gen model to review it.",
    "# The ai step needs a model: add models: and routing: to config.yaml (or start with --model-path).",
  ].join("\n"),
  "log_monitor.yaml": [
    "# Format B (a list of workflows with trigger/actions), as in the project's second article.",
    "# Every minute: the error lines among the last 100 of /var/log/app.log. cache_key keeps the result",
    "# across runs, and the step's output is only the lines not seen last time, so an error is alerted once.",
    "# `telegram` is mapped to the log (or a webhook) in config.yaml until a bot is configured.",
  ].join("\n"),
};

/** `localagent init [DIR]`: writes a working config directory with commented example workflows. */
export function registerInit(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("init")
    .description("write a config directory with config.yaml and commented example workflows")
    .argument("[dir]", "where (default $LOCALAGENT_CONFIG or ~/.config/localagent)")
    .option("-f, --force", "overwrite existing files")
    .action((dir: string | undefined, options: { force?: boolean }) =>
      setExit(initConfigDir(resolve(dir ?? defaultConfigDir()), Boolean(options.force), io)),
    );
}

export function initConfigDir(dir: string, force: boolean, io: Io): number {
  const examples = join(PACKAGE_ROOT, "examples");
  const schemaDir = join(PACKAGE_ROOT, "schema");
  const files: Array<{ path: string; text: string }> = [];
  const config = readFileSync(join(examples, "config.yaml"), "utf8")
    .replace("$schema=../schema/config.schema.json", `$schema=${join(schemaDir, "config.schema.json")}`)
    .replace("localagent start --config examples", `localagent start --config ${dir}`);
  files.push({ path: join(dir, "config.yaml"), text: config });
  for (const name of readdirSync(join(examples, "workflows")).sort()) {
    const text = readFileSync(join(examples, "workflows", name), "utf8").replace(
      "$schema=../../schema/workflow.schema.json",
      `$schema=${join(schemaDir, "workflow.schema.json")}`,
    );
    const note = WORKFLOW_NOTES[name];
    const header = note ? `# yaml-language-server: $schema=${join(schemaDir, "workflow.schema.json")}\n${note}\n` : "";
    files.push({ path: join(dir, "workflows", name), text: header + text });
  }
  const existing = files.filter((file) => existsSync(file.path));
  if (existing.length > 0 && !force) {
    io.err(`not overwriting ${existing.map((file) => file.path).join(", ")} (use --force)\n`);
    return 1;
  }
  mkdirSync(join(dir, "workflows"), { recursive: true });
  for (const file of files) writeFileSync(file.path, file.text);
  io.out(`wrote ${files.length} files to ${dir}\n`);
  io.out(`next: localagent validate --config ${dir} && localagent start --config ${dir}\n`);
  return 0;
}
