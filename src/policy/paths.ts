import { posix } from "node:path";

const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "busybox", "fish", "csh", "tcsh", "rbash"]);

/** Whether a program name is a shell that runs a script given as `-c` or on stdin. */
export function isShell(program: string): boolean {
  return SHELLS.has(program);
}

/** `/usr/bin/../bin/rm` → `rm`; `\rm` and `"rm"` arrive already unquoted. */
export function normalizeProgram(value: string): string {
  const normalized = value.includes("/") ? posix.normalize(value) : value;
  return posix.basename(normalized);
}

/**
 * A path as the rules see it: `$HOME`, `/root` and `/home/NAME` become `~`, `..` is resolved,
 * trailing `/`, `/.` and `/*` are dropped (`rm -rf /*` is `rm -rf /`).
 */
export function normalizePath(value: string): string {
  let path = value.trim().replace(/^["']|["']$/g, "");
  path = path.replace(/^(\$\{HOME\}|\$HOME|~[a-z_][a-z0-9_-]*|\/root|\/home\/[^/]+)(?=\/|$)/, "~");
  if (path.startsWith("/") || path.startsWith("~")) {
    const base = path.startsWith("~") ? "~" : "";
    path = base + posix.normalize(path.slice(base.length) || "/");
    if (base === "~" && path.startsWith("~..")) path = posix.normalize(`/home/user/${path.slice(1)}`);
  } else if (path.includes("..")) path = posix.normalize(path);
  while (/.\/(\*|\.)?$/.test(path)) path = path.replace(/\/(\*|\.)?$/, "");
  if (path === "~/") path = "~";
  return path || "/";
}

/** A relative path resolved against a known working directory (`cd / && rm -rf *`). */
export function resolveAgainst(cwd: string | undefined, value: string): string {
  if (cwd === undefined || value.startsWith("/") || value.startsWith("~") || value.startsWith("$")) return value;
  return `${cwd}/${value}`;
}

const SYSTEM_ROOTS = [
  "bin",
  "boot",
  "dev",
  "etc",
  "home",
  "lib",
  "lib32",
  "lib64",
  "libx32",
  "media",
  "mnt",
  "opt",
  "proc",
  "root",
  "run",
  "sbin",
  "snap",
  "srv",
  "sys",
  "tmp",
  "usr",
  "var",
];

/** `/`, `~`, a top-level system directory, or anything up to two levels under one (`/usr/lib`, `/var/lib/x`). */
export function isProtectedPath(value: string): boolean {
  const path = normalizePath(value);
  if (path === "/" || path === "~" || path === "/*" || path === "~/*") return true;
  // Climbing out of the working directory with ../../.. reaches / from almost anywhere.
  if (/^(\.\.\/){2,}\.\.$/.test(path)) return true;
  if (path.startsWith("/etc")) return true;
  const parts = path.split("/").filter(Boolean);
  if (path.startsWith("/") && SYSTEM_ROOTS.includes(parts[0] ?? "")) {
    if (parts[0] === "tmp") return parts.length === 1;
    if (parts[0] === "home" || parts[0] === "mnt" || parts[0] === "media") return parts.length <= 1;
    if (parts[0] === "var" && parts[1] === "lib") return parts.length <= 3;
    return parts.length <= 2;
  }
  if (path.startsWith("~/") && parts.length === 2 && /^\.(ssh|gnupg|config|local|aws|kube)$/.test(parts[1] ?? "")) return true;
  return false;
}

const CREDENTIAL_PATTERNS: RegExp[] = [
  /^~\/\.ssh\/(id_[^/]*|[^/]*_key|[^/]*\.pem)$/,
  /^~\/\.ssh$/,
  /^\/etc\/ssh\/ssh_host_[^/]*_key$/,
  /^~\/\.aws(\/credentials|\/config)?$/,
  /^~\/\.config\/gcloud(\/|$)/,
  /^~\/\.azure(\/|$)/,
  /^~\/\.kube\/config$/,
  /^~\/\.(netrc|git-credentials|pgpass|my\.cnf|pypirc|vault-token)$/,
  /^~\/\.docker\/config\.json$/,
  /^~\/\.gnupg(\/|$)/,
  /^~\/\.password-store(\/|$)/,
  /^~\/\.local\/share\/keyrings(\/|$)/,
  /^\/etc\/(g?shadow-?|master\.passwd|sudoers)$/,
  /^\/proc\/(self|\d+|\*)\/environ$/,
  /(^|\/)\.mozilla\/firefox\/.*(logins\.json|key[34]\.db|cookies\.sqlite)$/,
  /(^|\/)(google-chrome|chromium|BraveSoftware|Google\/Chrome)\/.*(Login Data|Cookies|Web Data)$/,
  /^~\/\.(bitcoin|electrum|ethereum)\/(wallets?|keystore)/,
];

/** Files that hold keys, tokens or passwords (ssh keys, cloud credentials, shadow, browser stores). */
export function isCredentialPath(value: string): boolean {
  const path = normalizePath(value);
  return !path.endsWith(".pub") && CREDENTIAL_PATTERNS.some((pattern) => pattern.test(path));
}

const PERSISTENCE_PATTERNS: RegExp[] = [
  /^~\/\.ssh\/authorized_keys2?$/,
  /^~\/\.(bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zprofile|zshenv|zlogin|xinitrc|xprofile)$/,
  /^~\/\.config\/(systemd\/user|autostart)(\/|$)/,
  /^\/(etc|lib|usr\/lib)\/systemd\//,
  /^\/etc\/(cron|anacrontab|rc\.local|init\.d|profile|bash\.bashrc|ld\.so\.preload|sudoers|pam\.d|update-motd\.d|xdg\/autostart|passwd|group)/,
  /^\/var\/spool\/cron/,
];

/** Files that make code run again later: shell rc files, authorized_keys, cron, systemd units, ld.so.preload. */
export function isPersistencePath(value: string): boolean {
  return PERSISTENCE_PATTERNS.some((pattern) => pattern.test(normalizePath(value)));
}

/** Shell history and system logs. */
export function isLogPath(value: string): boolean {
  const path = normalizePath(value);
  return /(^|\/)\.[a-z]*_history$/.test(path) || /^\/var\/log(\/|$)/.test(path) || /^\/var\/(run\/utmp|log\/wtmp|log\/btmp)$/.test(path);
}

/** Raw disks and partitions (`/dev/sda`, `/dev/nvme0n1p1`, `/dev/mmcblk0`). */
export function isDiskDevice(value: string): boolean {
  return /^\/dev\/(sd[a-z]+\d*|hd[a-z]+\d*|vd[a-z]+\d*|xvd[a-z]+\d*|nvme\d+n\d+(p\d+)?|mmcblk\d+(p\d+)?|disk\/|md\d+|dm-\d+|mapper\/)/.test(
    value,
  );
}
