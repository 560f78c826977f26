import { normalizePath } from "./paths.js";
import { hasFlag, isRecursive, operands, rmTargets, runsStdin, values } from "./rule-helpers.js";
import type { BuiltinRule } from "./types.js";

/** Risky but legitimate commands: `ask`, so a human decides. */
export const RISKY_RULES: readonly BuiltinRule[] = [
  // Risky but legitimate: a human decides.
  {
    id: "risky.rm-recursive",
    category: "risky",
    decision: "ask",
    reason: "recursive delete",
    matches: (command) =>
      command.program === "rm" &&
      isRecursive(command) &&
      (rmTargets(command).length === 0 ||
        !rmTargets(command).every((path) => /^\/tmp\/[^/]+/.test(normalizePath(path)) && !path.includes("$"))),
  },
  {
    id: "risky.git-force-push",
    category: "risky",
    decision: "ask",
    reason: "force push or remote branch deletion rewrites shared history",
    matches: (command) =>
      command.program === "git" &&
      values(command).includes("push") &&
      (hasFlag(command, "fd", "--force", "--force-with-lease", "--mirror", "--delete", "--prune") ||
        operands(command).some((value) => /^[+:]/.test(value))),
  },
  {
    id: "risky.drop-database",
    category: "risky",
    decision: "ask",
    reason: "drops a database, schema or table",
    matches: (command) =>
      ["dropdb", "dropuser"].includes(command.program) ||
      [...values(command), command.stdinText ?? ""].some((value) =>
        /\b(drop\s+(database|schema|table|user)|truncate\s+table)\b|dropDatabase\(|^flushall$|^flushdb$/i.test(value),
      ),
  },
  {
    id: "risky.cluster-delete",
    category: "risky",
    decision: "ask",
    reason: "deletes cluster resources",
    matches: (command) =>
      (["kubectl", "oc"].includes(command.program) && values(command).some((value) => ["delete", "drain"].includes(value))) ||
      (command.program === "helm" && values(command).some((value) => ["uninstall", "delete"].includes(value))),
  },
  {
    id: "risky.infra-destroy",
    category: "risky",
    decision: "ask",
    reason: "destroys infrastructure or cloud resources",
    matches: (command) =>
      (["terraform", "tofu", "pulumi"].includes(command.program) &&
        values(command).some((value) => value === "destroy" || value === "-destroy")) ||
      (command.program === "aws" &&
        (values(command).includes("rb") ||
          values(command).some((value) => /^(terminate-instances|delete-.*)$/.test(value)) ||
          (values(command).includes("rm") && hasFlag(command, "", "--recursive")))) ||
      (["gcloud", "az"].includes(command.program) && values(command).includes("delete")),
  },
  {
    id: "risky.docker-prune",
    category: "risky",
    decision: "ask",
    reason: "removes containers, images or volumes in bulk",
    matches: (command) => ["docker", "podman"].includes(command.program) && values(command).includes("prune"),
  },
  {
    id: "risky.shutdown",
    category: "risky",
    decision: "ask",
    reason: "shuts down or reboots the machine, or repartitions a disk",
    matches: (command) =>
      /^(shutdown|reboot|poweroff|halt|fdisk|parted|sfdisk|gdisk|sgdisk|cfdisk)$/.test(command.program) ||
      (command.program === "init" && /^[06]$/.test(values(command)[0] ?? "")) ||
      (command.program === "systemctl" && values(command).some((value) => ["poweroff", "reboot", "halt", "kexec"].includes(value))),
  },
  {
    id: "risky.stdin-script",
    category: "risky",
    decision: "ask",
    reason: "pipes the output of another command into a shell",
    matches: (command) =>
      runsStdin(command) && command.upstream.length > 0 && !command.upstream.some((stage) => stage.stdinText !== undefined),
  },
  {
    id: "risky.privileged-container",
    category: "risky",
    decision: "ask",
    reason: "runs a privileged container",
    matches: (command) => ["docker", "podman"].includes(command.program) && hasFlag(command, "", "--privileged"),
  },
];
