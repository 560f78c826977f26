import { Command, CommanderError } from "commander";
import { VERSION } from "../daemon/index.js";
import { registerApprovals } from "./approvals-command.js";
import { registerAudit } from "./audit-command.js";
import { processIo, type Io } from "./context.js";
import { registerDoctor } from "./doctor-command.js";
import { registerInit } from "./init-command.js";
import { registerModels } from "./models-command.js";
import { registerChannels } from "./channels-command.js";
import { registerPairing } from "./pairing-command.js";
import { registerPolicy } from "./policy-command.js";
import { registerRun } from "./run-command.js";
import { registerRuns } from "./runs-command.js";
import { registerSchema } from "./schema-command.js";
import { registerStart } from "./start-command.js";
import { registerValidate } from "./validate-command.js";
import { registerWorkflows } from "./workflows-command.js";

export { initConfigDir } from "./init-command.js";
export { runFile } from "./run-command.js";
export { buildSchemas } from "./schema-command.js";
export { processIo, type Io } from "./context.js";

/** Runs the `localagent` CLI; resolves with the process exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number): void => {
    exitCode = code;
  };
  const program = new Command()
    .name("localagent")
    .description("LocalAgent: a local-first, always-on AI agent daemon")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  registerStart(program, io, setExit);
  registerRun(program, io, setExit);
  registerValidate(program, io, setExit);
  registerInit(program, io, setExit);
  registerRuns(program, io, setExit);
  registerWorkflows(program, io, setExit);
  registerSchema(program, io, setExit);
  registerAudit(program, io, setExit);
  registerApprovals(program, io, setExit);
  registerPolicy(program, io, setExit);
  registerModels(program, io, setExit);
  registerPairing(program, io, setExit);
  registerDoctor(program, io, setExit);
  registerChannels(program, io, setExit);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return exitCode;
}
