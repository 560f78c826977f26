import type { PreparedCommand, Sandbox, SandboxRequest } from "./types.js";

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
    // Nothing was limited or isolated, so nothing of the sandbox explains a failure.
    explain: () => undefined,
    cleanup: async () => {},
  };
}

/** The `Sandbox` that isolates nothing (`sandbox: off`); it passes the same conformance suite. */
export function createUnsandboxed(): Sandbox {
  return {
    name: "none",
    unavailableReason: async () => undefined,
    prepare: async (request) => prepareDirect(request, "sandbox: off"),
  };
}
