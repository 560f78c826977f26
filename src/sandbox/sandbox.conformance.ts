import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { PreparedCommand, Sandbox, SandboxRequest } from "./types.js";

/** Spawns a prepared command as the shell runner does and collects what it printed. */
function runPrepared(prepared: PreparedCommand): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(prepared.file, prepared.args, { cwd: prepared.cwd, env: prepared.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/**
 * What every `Sandbox` must do, whatever it isolates: run the argv it was given, word for word,
 * in the requested directory with the requested environment, name its profile, and clean up
 * (twice is harmless). Run against each implementation by its own test file.
 */
export function describeSandboxConformance(name: string, create: () => Sandbox, workDir: string): void {
  describe(`Sandbox conformance: ${name}`, () => {
    const workspace = join(workDir, "workspace");
    mkdirSync(workspace, { recursive: true });
    const request = (argv: string[], extra: Partial<SandboxRequest> = {}): SandboxRequest => ({
      argv,
      cwd: workspace,
      workspace,
      env: { CONFORMANCE: "yes" },
      network: { mode: "none" },
      limits: {},
      label: "conformance",
      ...extra,
    });

    it("runs the argv exactly as given: no re-quoting, no re-parsing", async () => {
      const sandbox = create();
      expect(await sandbox.unavailableReason()).toBeUndefined();
      const tricky = ["a b", "$(id)", "'quoted'", "`x`", "; rm -rf /", "*"];
      const prepared = await sandbox.prepare(request(["/bin/sh", "-c", 'printf "%s|" "$@"', "sh", ...tricky]));
      try {
        const result = await runPrepared(prepared);
        expect(result).toMatchObject({ code: 0, stdout: `${tricky.join("|")}|` });
      } finally {
        await prepared.cleanup();
        await prepared.cleanup();
      }
    });

    it("runs in the requested directory with the requested environment, and names its profile", async () => {
      const prepared = await create().prepare(request(["/bin/sh", "-c", 'echo "$(pwd) $CONFORMANCE"; exit 3']));
      try {
        expect(await runPrepared(prepared)).toMatchObject({ code: 3, stdout: `${workspace} yes\n` });
        expect(prepared.profile).toMatch(/\S/);
        expect(prepared.explain({ code: 3, signal: null, stderr: "" })).toBeUndefined();
      } finally {
        await prepared.cleanup();
      }
    });
  });
}
