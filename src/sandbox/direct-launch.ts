import { explainFailure } from "./failure-reason.js";
import type { PreparedCommand, SandboxRequest } from "./types.js";

/** The command without isolation (`sandbox: off`, or `preferred` where no sandbox is possible). */
export function prepareDirect(request: SandboxRequest, why: string): PreparedCommand {
  const [file = "/bin/sh", ...args] = request.argv;
  return {
    file,
    args,
    env: { ...(process.env as Record<string, string>), ...request.env },
    cwd: request.cwd,
    sandboxed: false,
    profile: `none: ${why}`,
    explain: (exit) => explainFailure(exit, { request: { ...request, limits: {}, network: { mode: "full" } }, rlimits: false }),
    cleanup: async () => {},
  };
}
