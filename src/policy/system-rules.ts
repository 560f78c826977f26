import { isDiskDevice, isLogPath, isProtectedPath, isShell, normalizePath } from "./paths.js";
import {
  hasFlag,
  isDecoder,
  isFetcher,
  isInterpreter,
  isRecursive,
  operands,
  programIs,
  rmTargets,
  runsStdin,
  substitutedPrograms,
  upstreamPrograms,
  values,
  writtenPaths,
} from "./rule-helpers.js";
import type { BuiltinRule, SimpleCommand } from "./types.js";

const SHELL_OR_EVAL = (name: string) => isShell(name) || isInterpreter(name) || ["eval", "source", "."].includes(name);
const LOG_SERVICES = /^(rsyslog|syslog|syslog-ng|auditd|systemd-journald|journald)(\.service)?$/;

/** The pids of `kill`: `kill -1 123` signals 123 with HUP, `kill -9 -1` kills everything. */
function killTargets(command: SimpleCommand): string[] {
  const args = values(command).filter((value) => value !== "--");
  if (args[0] === "-s" || args[0] === "-n") return args.slice(2);
  return args[0]?.startsWith("-") && args.length > 1 ? args.slice(1) : args;
}

/** Built-in rules against destroying the system, wiping logs, running remote code and reverse shells. */
export const SYSTEM_RULES: readonly BuiltinRule[] = [
  // Destroying data or the system.
  {
    id: "destroy.rm-root",
    category: "destroy",
    decision: "deny",
    reason: "recursive delete of /, the home directory or a system directory",
    matches: (command) =>
      ["rm", "rmdir", "unlink"].includes(command.program) &&
      (hasFlag(command, "", "--no-preserve-root") || (isRecursive(command) && rmTargets(command).some(isProtectedPath))),
  },
  {
    id: "destroy.mkfs",
    category: "destroy",
    decision: "deny",
    reason: "formats or wipes a file system or disk",
    matches: (command) =>
      /^(mkfs(\..+)?|mke2fs|mkswap|wipefs|mkdosfs|mkntfs|blkdiscard|hdparm)$/.test(command.program) &&
      !(command.program === "hdparm" && !hasFlag(command, "", "--security-erase", "--trim-sector-ranges")),
  },
  {
    id: "destroy.shred",
    category: "destroy",
    decision: "deny",
    reason: "shred/wipe destroys file contents beyond recovery",
    matches: programIs("shred", "wipe", "srm", "sfill", "sswap"),
  },
  {
    id: "destroy.disk-write",
    category: "destroy",
    decision: "deny",
    reason: "writes directly to a disk device",
    matches: (command) => writtenPaths(command).some(isDiskDevice),
  },
  {
    id: "destroy.permissions-root",
    category: "destroy",
    decision: "deny",
    reason: "recursively changes ownership or permissions of / or a system directory",
    matches: (command) =>
      ["chmod", "chown", "chgrp", "setfacl"].includes(command.program) &&
      isRecursive(command) &&
      operands(command).slice(1).some(isProtectedPath),
  },
  {
    id: "destroy.find-delete",
    category: "destroy",
    decision: "deny",
    reason: "find deleting under / or a system directory",
    matches: (command) =>
      command.program === "find" &&
      values(command).some((value) => value === "-delete" || value === "-exec" || value === "-execdir") &&
      values(command).some(
        (value, index, all) => value === "-delete" || (index > 0 && /^-exec/.test(all[index - 1] ?? "") && /(^|\/)(rm|shred)$/.test(value)),
      ) &&
      operands(command)
        .slice(0, 1)
        .some((path) => (isProtectedPath(path) && normalizePath(path) !== "/tmp") || isLogPath(path)),
  },
  {
    id: "destroy.mv-root",
    category: "destroy",
    decision: "deny",
    reason: "moves / , the home directory or a system directory away",
    matches: (command) => command.program === "mv" && operands(command).slice(0, -1).some(isProtectedPath),
  },
  {
    id: "destroy.kill-all",
    category: "destroy",
    decision: "deny",
    reason: "kills every process or crashes the kernel",
    matches: (command) =>
      (command.program === "kill" && killTargets(command).includes("-1")) ||
      command.program === "killall5" ||
      writtenPaths(command).some((path) => /^\/proc\/sysrq-trigger$|^\/proc\/sys\/kernel\//.test(path)),
  },
  // Log and history wiping.
  {
    id: "logs.history",
    category: "log-wiping",
    decision: "deny",
    reason: "clears or disables shell history",
    matches: (command) =>
      (command.program === "history" && hasFlag(command, "cdw")) || (command.program === "unset" && values(command).includes("HISTFILE")),
  },
  {
    id: "logs.delete",
    category: "log-wiping",
    decision: "deny",
    reason: "deletes, truncates or overwrites logs or shell history",
    matches: (command) => {
      if (["rm", "unlink", "truncate", "shred"].includes(command.program) && operands(command).some(isLogPath)) return true;
      if (command.program === "ln" && values(command).includes("/dev/null") && operands(command).some(isLogPath)) return true;
      if (command.program === "cp" && operands(command)[0] === "/dev/null" && operands(command).slice(1).some(isLogPath)) return true;
      const truncating = command.redirects.filter((redirect) => /^(>|>\||&>)$/.test(redirect.operator)).map((redirect) => redirect.target);
      return truncating.some(isLogPath);
    },
  },
  {
    id: "logs.journal",
    category: "log-wiping",
    decision: "deny",
    reason: "removes the system journal or stops logging",
    matches: (command) =>
      (command.program === "journalctl" && values(command).some((value) => value.startsWith("--vacuum"))) ||
      (command.program === "auditctl" && (hasFlag(command, "D") || values(command).join(" ").includes("-e 0"))) ||
      (["systemctl", "service"].includes(command.program) &&
        values(command).some((value) => LOG_SERVICES.test(value)) &&
        values(command).some((value) => ["stop", "disable", "mask", "kill"].includes(value))),
  },
  // Fetching and running remote code.
  {
    id: "remote.pipe-to-shell",
    category: "remote-code",
    decision: "deny",
    reason: "downloaded or decoded text is piped into a shell or interpreter",
    matches: (command) => runsStdin(command) && upstreamPrograms(command).some((name) => isFetcher(name) || isDecoder(name)),
  },
  {
    id: "remote.substitution",
    category: "remote-code",
    decision: "deny",
    reason: 'runs the output of a download (bash <(curl …), eval "$(wget …)")',
    matches: (command) =>
      SHELL_OR_EVAL(command.program) && substitutedPrograms(command).some((name) => isFetcher(name) || name === "base64" || name === "xxd"),
  },
  // Reverse shells.
  {
    id: "revshell.dev-tcp",
    category: "reverse-shell",
    decision: "deny",
    reason: "connects to a host through /dev/tcp or /dev/udp",
    matches: (command) =>
      [...command.redirects.map((redirect) => redirect.target), ...values(command)].some((value) => /\/dev\/(tcp|udp)\//.test(value)),
  },
  {
    id: "revshell.netcat-exec",
    category: "reverse-shell",
    decision: "deny",
    reason: "netcat/socat hands a shell to a network connection",
    matches: (command) =>
      (["nc", "ncat", "netcat", "nc.traditional", "nc.openbsd"].includes(command.program) &&
        hasFlag(command, "ec", "--exec", "--sh-exec", "--lua-exec")) ||
      (command.program === "socat" && values(command).some((value) => /(^|[,!])(exec|system):/i.test(value))) ||
      (command.program === "xterm" && values(command).includes("-display")),
  },
  {
    id: "revshell.pipeline",
    category: "reverse-shell",
    decision: "deny",
    reason: "a shell is wired to a network connection through a pipeline",
    matches: (command) =>
      (["nc", "ncat", "netcat", "telnet", "socat", "openssl"].includes(command.program) &&
        command.upstream.some((stage) => isShell(stage.program))) ||
      (isShell(command.program) &&
        upstreamPrograms(command).some((name) => ["nc", "ncat", "netcat", "telnet", "socat", "openssl"].includes(name))),
  },
];
