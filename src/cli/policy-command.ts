import type { Command } from "commander";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import { createCommandPolicy, type PolicyCheck } from "../policy/index.js";
import { addCommonOptions, resolveConfig, type CommonOptions, type Io } from "./context.js";

/** Reads all of stdin; swapped in tests. */
export type InputReader = () => Promise<string>;

const readStdin: InputReader = async () => {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

/** `localagent policy check [COMMAND]`: the decision, rule and reason for a command, or for each line of stdin. */
export function registerPolicy(program: Command, io: Io, setExit: (code: number) => void, readInput: InputReader = readStdin): void {
  const policy = program.command("policy").description("the command policy for shell steps");
  addCommonOptions(policy.command("check"))
    .description("print the policy decision for COMMAND, or for each line of stdin")
    .argument("[command]", "a shell command line (quote it)")
    .option("--json", "one JSON object per line: command, decision, rule, reason")
    .action(async (command: string | undefined, options: CommonOptions) => setExit(await checkCommands(command, options, io, readInput)));
}

export async function checkCommands(
  command: string | undefined,
  options: CommonOptions,
  io: Io,
  readInput: InputReader = readStdin,
): Promise<number> {
  let commands: string[];
  let checker;
  try {
    const config = options.config ? resolveConfig(options) : undefined;
    checker = await createCommandPolicy({ config: config?.extensions.policy });
    commands = command !== undefined ? [command] : (await readInput()).split(/\r?\n/).filter((line) => line.trim() !== "");
  } catch (error) {
    io.err(`${error instanceof LocalAgentError ? error.message : `cannot read the input: ${errorMessage(error)}`}\n`);
    return 1;
  }
  for (const line of commands) print(checker.check(line), options.json === true, commands.length === 1, io);
  return 0;
}

function print(check: PolicyCheck, json: boolean, single: boolean, io: Io): void {
  if (json) {
    io.out(`${JSON.stringify({ command: check.command, decision: check.decision, rule: check.rule, reason: check.reason })}\n`);
  } else if (single) {
    io.out(`decision: ${check.decision}\nrule:     ${check.rule}\nreason:   ${check.reason}\n`);
  } else {
    io.out(`${check.decision.padEnd(5)}  ${check.command}\n       ${check.rule}: ${check.reason}\n`);
  }
}
