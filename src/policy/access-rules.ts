import { isCredentialPath, isPersistencePath, isShell, normalizePath } from "./paths.js";
import {
  hasFlag,
  isNetworkSender,
  isReader,
  mentionedPaths,
  operands,
  optionValues,
  programIs,
  runsStdin,
  substitutedPrograms,
  upstreamPrograms,
  values,
  writtenPaths,
} from "./rule-helpers.js";
import type { BuiltinRule } from "./types.js";

const CREDENTIAL_TOOLS = new Set(["ls", "stat", "chmod", "chown", "mkdir", "test", "[", "ssh-add", "ssh-keygen", "file", "cd", "touch"]);
const KEY_OPTION_TOOLS = new Set(["ssh", "scp", "sftp", "rsync", "git", "ansible", "ansible-playbook", "kubectl", "helm"]);

/** Built-in rules against exfiltration, credential access, privilege escalation, persistence and miners. */
export const ACCESS_RULES: readonly BuiltinRule[] = [
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
      (["grep", "egrep", "rg", "ag", "ack", "git"].includes(command.program) &&
        values(command).some((value) => /PRIVATE KEY|aws_secret_access_key|BEGIN OPENSSH/i.test(value))) ||
      (command.program === "gpg" && hasFlag(command, "", "--export-secret-keys", "--export-secret-subkeys")) ||
      (command.program === "secret-tool" && values(command)[0] === "lookup"),
  },
  // Privilege escalation.
  {
    id: "privilege.sudo",
    category: "privilege",
    decision: "deny",
    reason: "runs a command as another user (sudo, su, doas, pkexec)",
    matches: programIs("sudo", "su", "doas", "pkexec", "runuser", "sudoedit", "visudo"),
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
    matches: programIs("insmod", "rmmod", "modprobe", "kexec"),
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
];
