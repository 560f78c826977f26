import { describe, expect, it } from "vitest";
import { HostAllowList, isInternalAddress, normalizeAddress, parseHostPattern } from "./index.js";
import { parseAuthority } from "./index.js";

describe("host patterns", () => {
  it("parses names, wildcards, ports and IP literals", () => {
    expect(parseHostPattern("API.Example.com.")).toEqual({ text: "API.Example.com.", kind: "name", host: "api.example.com" });
    expect(parseHostPattern("*.example.com:443")).toMatchObject({ kind: "wildcard", host: "example.com", port: 443 });
    expect(parseHostPattern("10.0.0.5:8080")).toMatchObject({ kind: "ip", host: "10.0.0.5", port: 8080 });
    expect(parseHostPattern("::1")).toMatchObject({ kind: "ip", host: "0:0:0:0:0:0:0:1" });
    expect(parseHostPattern("[::1]:80")).toMatchObject({ kind: "ip", host: "0:0:0:0:0:0:0:1", port: 80 });
  });

  it("rejects bad entries, naming them", () => {
    expect(() => parseHostPattern("a.*.com")).toThrow(
      'network: "a.*.com" is not a host pattern: a wildcard is only allowed as the first label',
    );
    expect(() => parseHostPattern("host:99999")).toThrow("port 99999 is out of range");
    expect(() => parseHostPattern("bad host")).toThrow('"bad host" is not a host pattern');
    expect(() => parseHostPattern("[::1")).toThrow("missing ]");
    expect(() => parseHostPattern("")).toThrow("empty");
  });

  it("matches exact names case-insensitively, wildcards on subdomains only, and ports when given", () => {
    const list = new HostAllowList(["api.example.com", "*.cdn.example.net:443", "10.1.2.3", "[::1]:8080"]);
    expect(list.match("API.example.com", 443)?.text).toBe("api.example.com");
    expect(list.match("api.example.com.", 80)?.text).toBe("api.example.com");
    expect(list.match("evil-api.example.com", 443)).toBeUndefined();
    expect(list.match("api.example.com.evil.org", 443)).toBeUndefined();
    expect(list.match("a.cdn.example.net", 443)?.text).toBe("*.cdn.example.net:443");
    expect(list.match("a.b.cdn.example.net", 443)?.text).toBe("*.cdn.example.net:443");
    expect(list.match("cdn.example.net", 443)).toBeUndefined();
    expect(list.match("a.cdn.example.net", 80)).toBeUndefined();
    expect(list.match("10.1.2.3", 22)?.text).toBe("10.1.2.3");
    expect(list.match("::1", 8080)?.text).toBe("[::1]:8080");
    expect(list.match("0:0::1", 8080)?.text).toBe("[::1]:8080");
    expect(list.match("::1", 80)).toBeUndefined();
    // A name pattern never matches an address, nor an address pattern a name.
    expect(new HostAllowList(["localhost"]).match("127.0.0.1", 80)).toBeUndefined();
    expect(list.listsAddress("10.1.2.3", 5432)).toBe(true);
    expect(list.listsAddress("::ffff:10.1.2.3", 5432)).toBe(true);
  });

  it("knows loopback, private, link-local and other internal ranges", () => {
    for (const address of [
      "127.0.0.1",
      "127.8.9.1",
      "10.0.0.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
    ]) {
      expect([address, isInternalAddress(address)]).toEqual([address, true]);
    }
    for (const address of ["93.184.215.14", "172.32.0.1", "8.8.8.8", "2606:4700::1111", "100.128.0.1"]) {
      expect([address, isInternalAddress(address)]).toEqual([address, false]);
    }
    expect(normalizeAddress("[::FFFF:10.0.0.1]")).toBe("10.0.0.1");
  });

  it("parses CONNECT authorities", () => {
    expect(parseAuthority("example.com:443")).toEqual({ host: "example.com", port: 443 });
    expect(parseAuthority("[::1]:22")).toEqual({ host: "::1", port: 22 });
    expect(parseAuthority("example.com")).toBeUndefined();
    expect(parseAuthority("example.com:0")).toBeUndefined();
    expect(parseAuthority("[zz]:80")).toBeUndefined();
  });
});
