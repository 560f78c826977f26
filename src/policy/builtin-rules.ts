import {
  isCredentialPath,
  isDiskDevice,
  isLogPath,
  isPersistencePath,
  isProtectedPath,
  isShell,
  normalizePath,
  resolveAgainst,
} from "./paths.js";
import {
  hasFlag,
  isDecoder,
  isFetcher,
  isInterpreter,
  isNetworkSender,
  isReader,
  mentionedPaths,
  operands,
  optionValues,
  runsStdin,
  substitutedPrograms,
  upstreamPrograms,
  values,
  writtenPaths,
} from "./rule-helpers.js";
import type { PolicyDecision, SimpleCommand } from "./types.js";

/** A built-in rule: checked against every simple command of a script. */
export interface BuiltinRule {
  id: string;
  category: RuleCategory;
  decision: PolicyDecision;
  reason: string;
  matches(command: SimpleCommand): boolean;
}

export type RuleCategory =
  | "destroy"
  | "remote-code"
  | "reverse-shell"
  | "exfiltration"
  | "credentials"
  | "privilege"
  | "persistence"
  | "miner"
  | "log-wiping"
  | "risky";

const program =
  (...names: string[]) =>
  (command: SimpleCommand) =>
    names.includes(command.program);
const recursive = (command: SimpleCommand) => hasFlag(command, "rR", "--recursive");
const CREDENTIAL_TOOLS = new Set(["ls", "stat", "chmod", "chown", "mkdir", "test", "[", "ssh-add", "ssh-keygen", "file", "cd", "touch"]);
const KEY_OPTION_TOOLS = new Set(["ssh", "scp", "sftp", "rsync", "git", "ansible", "ansible-playbook", "kubectl", "helm"]);
const SHELL_OR_EVAL = (name: string) => isShell(name) || isInterpreter(name) || ["eval", "source", "."].includes(name);
const LOG_SERVICES = /^(rsyslog|syslog|syslog-ng|auditd|systemd-journald|journald)(\.service)?$/;

function rmTargets(command: SimpleCommand): string[] {
  return operands(command)
    .filter((value) => value !== "--")
    .map((value) => resolveAgainst(command.cwd, value));
}

/** The pids of `kill`: `kill -1 123` signals 123 with HUP, `kill -9 -1` kills everything. */
function killTargets(command: SimpleCommand): string[] {
  const args = values(command).filter((value) => value !== "--");
  if (args[0] === "-s" || args[0] === "-n") return args.slice(2);
  return args[0]?.startsWith("-") && args.length > 1 ? args.slice(1) : args;
}

/** Built-in rules, strictest categories first; the first rule that matches a command names the decision. */
export const BUILTIN_RULES: readonly BuiltinRule[] = [
  // Destroying data or the system.
  {
    id: "destroy.rm-root",
    category: "destroy",
    decision: "deny",
    reason: "recursive delete of /, the home directory or a system directory",
    matches: (command) =>
      ["rm", "rmdir", "unlink"].includes(command.program) &&
      (hasFlag(command, "", "--no-preserve-root") || (recursive(command) && rmTargets(command).some(isProtectedPath))),
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
    matches: program("shred", "wipe", "srm", "sfill", "sswap"),
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
      recursive(command) &&
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
  // Exfiltration.
  {
    id: "exfil.upload-file",
    category: "exfiltration",
    decision: "deny",
    reason: "uploads a local file to a host",
    matches: (command) =>
      (command.program === "curl" &&
        (optionValues(command, ["-d", "--data"], ["--data", "--data-binary", "--data-urlencode", "--data-raw", "--json"]).some(
          (value) => value.startsWith("@") || /^[^=]*@/.test(value) || value.includes("=@"),
        ) ||
          optionValues(command, ["-T"], ["--upload-file"]).length > 0 ||
          optionValues(command, ["-F"], ["--form"]).some((value) => /=[@<]/.test(value)))) ||
      (command.program === "wget" && values(command).some((value) => /^--(post|body)-file/.test(value))),
  },
  {
    id: "exfil.pipe-to-network",
    category: "exfiltration",
    decision: "deny",
    reason: "pipes local data (environment, files, archives) to a network tool",
    matches: (command) => isNetworkSender(command.program) && !runsStdin(command) && upstreamPrograms(command).some(isReader),
  },
  {
    id: "exfil.redirect-to-network",
    category: "exfiltration",
    decision: "deny",
    reason: "feeds a local file to a network tool",
    matches: (command) =>
      ["nc", "ncat", "netcat", "socat", "telnet", "openssl", "curl", "mail", "mutt", "sendmail", "ftp"].includes(command.program) &&
      command.redirects.some((redirect) => redirect.operator === "<" && redirect.target !== "/dev/null"),
  },
  {
    id: "exfil.substitution",
    category: "exfiltration",
    decision: "deny",
    reason: "sends the output of a local command (environment, files, identity) to a host",
    matches: (command) => isNetworkSender(command.program) && substitutedPrograms(command).some(isReader),
  },
  {
    id: "exfil.copy-secrets",
    category: "exfiltration",
    decision: "deny",
    reason: "copies secrets, the home directory or /etc to another host",
    matches: (command) => {
      if (!["scp", "rsync", "sftp", "rclone"].includes(command.program)) return false;
      const keys = new Set(optionValues(command, ["-i"], []));
      const files = operands(command).filter((value) => !keys.has(value));
      const remote = files.some((value) => /^[^/~.][^/]*:/.test(value));
      return (
        remote &&
        files.some(
          (value) =>
            isCredentialPath(value) || ["~", "/etc", "~/.ssh", "~/.aws", "~/.gnupg", "~/.config", "/"].includes(normalizePath(value)),
        )
      );
    },
  },
  // Credential access.
  {
    id: "credentials.read",
    category: "credentials",
    decision: "deny",
    reason: "reads credentials (ssh keys, cloud credentials, /etc/shadow, browser stores)",
    matches: (command) => {
      if (CREDENTIAL_TOOLS.has(command.program)) return false;
      const keyOptions = new Set(optionValues(command, ["-i"], ["--identity", "--private-key", "--key-file"]));
      const paths = mentionedPaths(command).filter((path) => !(KEY_OPTION_TOOLS.has(command.program) && keyOptions.has(path)));
      return paths.some(isCredentialPath);
    },
  },
  {
    id: "credentials.dump",
    category: "credentials",
    decision: "deny",
    reason: "dumps stored passwords or secret keys",
    matches: (command) =>
      /^(lazagne|mimipenguin|unshadow|laZagne\.py)$/i.test(command.program) ||
      (["find", "locate", "plocate"].includes(command.program) &&
        optionValues(command, ["-name", "-iname", "-path"], [])
          .concat(operands(command))
          .some((value) => /(^|\/)(id_(rsa|dsa|ecdsa|ed25519)|\.aws\/credentials|shadow|\*\.kdbx|wallet\.dat)$/.test(value))) ||
      (command.program === "gpg" && hasFlag(command, "", "--export-secret-keys", "--export-secret-subkeys")) ||
      (command.program === "secret-tool" && values(command)[0] === "lookup"),
  },
  // Privilege escalation.
  {
    id: "privilege.sudo",
    category: "privilege",
    decision: "deny",
    reason: "runs a command as another user (sudo, su, doas, pkexec)",
    matches: program("sudo", "su", "doas", "pkexec", "runuser", "sudoedit", "visudo"),
  },
  {
    id: "privilege.setuid",
    category: "privilege",
    decision: "deny",
    reason: "sets the setuid/setgid bit or file capabilities",
    matches: (command) =>
      command.program === "setcap" ||
      (command.program === "chmod" &&
        values(command).some((value) => /^([ugoa]*[+=][rwxXt]*s|[+=]s|[0-7]?[4267][0-7]{3})/.test(value) && !value.startsWith("-"))),
  },
  {
    id: "privilege.accounts",
    category: "privilege",
    decision: "deny",
    reason: "creates privileged accounts or adds a user to an admin group",
    matches: (command) =>
      (["usermod", "gpasswd", "adduser", "useradd"].includes(command.program) &&
        values(command).some((value) => /(^|,)(sudo|wheel|root|admin|docker|lxd|disk|shadow)(,|$)/.test(value))) ||
      (command.program === "useradd" && (hasFlag(command, "o", "--non-unique") || values(command).join(" ").includes("-u 0"))) ||
      command.program === "chpasswd" ||
      (command.program === "passwd" && values(command).includes("root")) ||
      (isShell(command.program) && values(command).includes("-p")),
  },
  {
    id: "privilege.container-escape",
    category: "privilege",
    decision: "deny",
    reason: "mounts the host root into a container or enters the host's namespaces",
    matches: (command) =>
      (["docker", "podman", "nerdctl"].includes(command.program) &&
        (optionValues(command, ["-v"], ["--volume", "--mount"]).some((value) => /^\/:|source=\/(,|$)|src=\/(,|$)/.test(value)) ||
          values(command).some((value) => /^--pid=host$/.test(value)))) ||
      (command.program === "nsenter" && optionValues(command, ["-t"], ["--target"]).includes("1")),
  },
  {
    id: "privilege.kernel-module",
    category: "privilege",
    decision: "deny",
    reason: "loads or removes kernel modules",
    matches: program("insmod", "rmmod", "modprobe", "kexec"),
  },
  // Persistence.
  {
    id: "persistence.write",
    category: "persistence",
    decision: "deny",
    reason: "writes a file that makes code run again later (shell rc, authorized_keys, cron, systemd unit, ld.so.preload)",
    matches: (command) => writtenPaths(command).some(isPersistencePath),
  },
  {
    id: "persistence.crontab",
    category: "persistence",
    decision: "deny",
    reason: "installs, edits or removes a crontab",
    matches: (command) => command.program === "crontab" && !hasFlag(command, "l"),
  },
  {
    id: "persistence.preload",
    category: "persistence",
    decision: "deny",
    reason: "injects a library into programs with LD_PRELOAD",
    matches: (command) => "LD_PRELOAD" in command.assignments || values(command).some((value) => value.startsWith("LD_PRELOAD=")),
  },
  {
    id: "system.write",
    category: "destroy",
    decision: "deny",
    reason: "modifies system files (/etc, /boot, /usr, /bin, /lib)",
    matches: (command) => writtenPaths(command).some((path) => /^\/(etc|boot|usr|bin|sbin|lib|lib64)(\/|$)/.test(normalizePath(path))),
  },
  // Crypto miners.
  {
    id: "miner.known",
    category: "miner",
    decision: "deny",
    reason: "runs a cryptocurrency miner",
    matches: (command) =>
      /^(xmrig.*|xmr-stak.*|minerd|cpuminer.*|cgminer|bfgminer|ethminer|nbminer|t-rex|phoenixminer|lolminer|ccminer|nanominer|teamredminer|gminer|srbminer.*|nheqminer|kdevtmpfsi|kinsing|xmr)$/i.test(
        command.program,
      ) ||
      values(command).some((value) =>
        /(^|\/)xmrig|stratum\+(tcp|ssl|tls):\/\/|--donate-level|(minexmr|nanopool|supportxmr|moneroocean|hashvault|c3pool|2miners|f2pool)\./i.test(
          value,
        ),
      ),
  },
  // Risky but legitimate: a human decides.
  {
    id: "risky.rm-recursive",
    category: "risky",
    decision: "ask",
    reason: "recursive delete",
    matches: (command) =>
      command.program === "rm" &&
      recursive(command) &&
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
