import { isIP } from "node:net";
import { LocalAgentError } from "../errors/index.js";

/** One entry of a step's `network:` list, parsed. */
export interface HostPattern {
  /** As written, for messages and the audit log. */
  text: string;
  kind: "name" | "wildcard" | "ip";
  /** Lower-case name without a trailing dot; for `wildcard` the suffix after `*.`; for `ip` the normalized address. */
  host: string;
  /** Only this port, when given. */
  port?: number;
}

/**
 * Parses `api.example.com`, `*.example.com`, `host:443`, `10.0.0.5`, `10.0.0.5:8080`, `::1`,
 * `[::1]:8080`. A bad entry throws, naming it.
 */
export function parseHostPattern(text: string): HostPattern {
  const fail = (why: string): never => {
    throw new LocalAgentError("workflow_invalid", `network: "${text}" is not a host pattern: ${why}`);
  };
  let rest = text.trim();
  if (rest === "") fail("empty");
  let port: number | undefined;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) fail("missing ] after an IPv6 address");
    const after = rest.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) fail("expected :PORT after ]");
      port = parsePort(after.slice(1), fail);
    }
    rest = rest.slice(1, close);
    if (isIP(rest) !== 6) fail("not an IPv6 address inside [ ]");
  } else if (isIP(rest) === 6) {
    // A bare IPv6 address: no port (write [::1]:8080 for one).
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon >= 0) {
      port = parsePort(rest.slice(colon + 1), fail);
      rest = rest.slice(0, colon);
    }
  }
  const ipVersion = isIP(rest);
  if (ipVersion !== 0) return { text, kind: "ip", host: normalizeAddress(rest), ...(port === undefined ? {} : { port }) };
  let host = rest.toLowerCase().replace(/\.$/, "");
  let kind: HostPattern["kind"] = "name";
  if (host.startsWith("*.")) {
    kind = "wildcard";
    host = host.slice(2);
  }
  if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(host) || host.length > 253) {
    fail(host.includes("*") ? "a wildcard is only allowed as the first label (*.example.com)" : "not a host name or IP address");
  }
  return { text, kind, host, ...(port === undefined ? {} : { port }) };
}

function parsePort(text: string, fail: (why: string) => never): number {
  if (!/^\d{1,5}$/.test(text)) fail(`bad port "${text}"`);
  const port = Number(text);
  if (port < 1 || port > 65535) fail(`port ${port} is out of range`);
  return port;
}

/** Lower-case, without IPv6 brackets; IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes the IPv4 address. */
export function normalizeAddress(address: string): string {
  let text = address.toLowerCase();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped?.[1]) return mapped[1];
  if (isIP(text) === 6) return expandIpv6(text);
  return text;
}

/** The full eight-group form, so `::1` and `0:0:0:0:0:0:0:1` compare equal. */
function expandIpv6(address: string): string {
  let text = address;
  // A trailing IPv4 part becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill("0"), ...tailGroups];
  return groups.map((group) => parseInt(group, 16).toString(16)).join(":");
}

/** Does a requested host (a name or an address) and port match the pattern? Names never match IP patterns. */
export function matchesPattern(pattern: HostPattern, host: string, port: number): boolean {
  if (pattern.port !== undefined && pattern.port !== port) return false;
  if (pattern.kind === "ip") return isIP(stripBrackets(host)) !== 0 && normalizeAddress(host) === pattern.host;
  const name = host.toLowerCase().replace(/\.$/, "");
  if (pattern.kind === "name") return name === pattern.host;
  return name.endsWith(`.${pattern.host}`);
}

export function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified and other non-public ranges:
 * where a name that resolves there would reach this machine or its network instead of the internet.
 */
export function isInternalAddress(address: string): boolean {
  const ip = normalizeAddress(address);
  if (isIP(ip) === 4) {
    const [a = 0, b = 0] = ip.split(".").map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  const first = parseInt(ip.split(":")[0] ?? "0", 16);
  return (
    ip === "0:0:0:0:0:0:0:0" ||
    ip === "0:0:0:0:0:0:0:1" ||
    (first & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (first & 0xffc0) === 0xfe80 || // fe80::/10 link-local
    (first & 0xff00) === 0xff00 || // multicast
    ip.startsWith("64:ff9b:") // NAT64 may map to anything
  );
}

/** The parsed allow-list of one step. */
export class HostAllowList {
  readonly patterns: readonly HostPattern[];

  constructor(hosts: readonly string[]) {
    this.patterns = hosts.map((host) => parseHostPattern(host));
  }

  /** The first pattern that allows `host:port`, if any. */
  match(host: string, port: number): HostPattern | undefined {
    return this.patterns.find((pattern) => matchesPattern(pattern, host, port));
  }

  /** Is this resolved address itself listed (as an IP pattern) for this port? */
  listsAddress(address: string, port: number): boolean {
    return this.patterns.some((pattern) => pattern.kind === "ip" && matchesPattern(pattern, address, port));
  }
}
