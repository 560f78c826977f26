import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { errorMessage } from "../errors/index.js";
import { isInternalAddress, normalizeAddress, stripBrackets, type HostAllowList } from "./host-pattern.js";

/** Resolves a name to all its addresses (dns.lookup with `all: true`, so /etc/hosts counts). Injectable for tests. */
export type EgressLookup = (host: string) => Promise<{ address: string; family: number }[]>;

export const systemLookup: EgressLookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * What the proxy does with one connection attempt: `allow` (connect to `address`, the one checked,
 * never a second lookup), `deny` (not listed, or a listed name that resolves inside), `error` (no
 * such name).
 */
export type EgressDecision =
  | { decision: "allow"; address: string; rule: string }
  | { decision: "deny"; reason: string; address?: string }
  | { decision: "error"; reason: string };

/** Checks `host:port` against the allow-list, then resolves a name and applies the DNS-rebinding guard. */
export async function decideEgress(allowList: HostAllowList, host: string, port: number, lookup: EgressLookup): Promise<EgressDecision> {
  const bare = stripBrackets(host);
  const pattern = allowList.match(bare, port);
  if (!pattern) {
    if (allowList.patterns.length === 0) return { decision: "deny", reason: `the step has network: false (${displayHost(bare)}:${port})` };
    const listed = allowList.patterns.map((item) => item.text).join(", ");
    return { decision: "deny", reason: `${displayHost(bare)}:${port} is not in the step's network allow-list (${listed})` };
  }
  if (isIP(bare) !== 0) return { decision: "allow", address: normalizeAddress(bare), rule: pattern.text };
  let addresses: { address: string; family: number }[];
  try {
    addresses = await lookup(bare);
  } catch (error) {
    const code = (error as { code?: string }).code;
    return { decision: "error", reason: `${bare} does not resolve (${code ?? errorMessage(error)})` };
  }
  if (addresses.length === 0) return { decision: "error", reason: `${bare} does not resolve (no addresses)` };
  // Every address the name has must be acceptable: a name that also points inside could be
  // answered differently on the next lookup (DNS rebinding).
  for (const { address } of addresses) {
    if (isInternalAddress(address) && !allowList.listsAddress(address, port)) {
      return {
        decision: "deny",
        address: normalizeAddress(address),
        reason: `${bare} resolves to ${address}, a loopback/private address that is not itself in the allow-list (DNS rebinding guard)`,
      };
    }
  }
  const first = addresses[0] as { address: string };
  return { decision: "allow", address: normalizeAddress(first.address), rule: pattern.text };
}

function displayHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
