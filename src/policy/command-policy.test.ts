import { describe, expect, it } from "vitest";
import { LocalAgentError } from "../errors/index.js";
import { createCommandPolicy } from "./index.js";

describe("CommandPolicy", () => {
  it("names the rule and reason of the strictest simple command", async () => {
    const policy = await createCommandPolicy();
    expect(policy.check("ls && git push --force && cat ~/.ssh/id_rsa")).toMatchObject({
      decision: "deny",
      rule: "credentials.read",
      reason: expect.stringContaining("credentials"),
    });
    expect(policy.check("ls -la")).toMatchObject({ decision: "allow", rule: "default" });
  });

  it("denies what it cannot parse", async () => {
    const policy = await createCommandPolicy();
    expect(policy.check("echo 'unterminated")).toMatchObject({ decision: "deny", rule: "parse.error" });
  });

  it("tracks literal assignments and asks for names known only at run time", async () => {
    const policy = await createCommandPolicy();
    expect(policy.check("x=rm; y=/; $x -rf $y").decision).toBe("deny");
    expect(policy.check("x=ls; $x -la").decision).toBe("allow");
    expect(policy.check('"$TOOL" --version')).toMatchObject({ decision: "ask", rule: "parse.dynamic-command" });
  });

  it("applies user rules: deny beats everything, allow lifts asks, a built-in deny only by its rule id", async () => {
    const policy = await createCommandPolicy({
      config: {
        deny: ["/pastebin\\.com/i", { program: "npm", args: "publish*" }],
        ask: ["make deploy*"],
        allow: [
          "git push --force-with-lease *",
          { program: "rm", args: "-rf node_modules" },
          { rule: "privilege.sudo", program: "sudo", args: "systemctl restart *" },
        ],
      },
    });
    expect(policy.check("curl https://PASTEBIN.com/raw/x")).toMatchObject({ decision: "deny", rule: "user.deny[0]" });
    expect(policy.check("npm publish --access public")).toMatchObject({ decision: "deny", rule: "user.deny[1]" });
    expect(policy.check("make deploy ENV=prod")).toMatchObject({ decision: "ask", rule: "user.ask[0]" });
    expect(policy.check("git push --force-with-lease origin main").decision).toBe("allow");
    expect(policy.check("rm -rf node_modules").decision).toBe("allow");
    expect(policy.check("rm -rf build").decision).toBe("ask");
    expect(policy.check("sudo systemctl restart nginx").decision).toBe("allow");
    expect(policy.check("sudo rm -rf /var/tmp")).toMatchObject({ decision: "deny", rule: "privilege.sudo" });
  });

  it("uses the configured default for commands no rule matches", async () => {
    const policy = await createCommandPolicy({ config: { default: "deny", allow: ["git *", "ls*"] } });
    expect(policy.check("git status").decision).toBe("allow");
    expect(policy.check("ls -la | wc -l")).toMatchObject({ decision: "deny", rule: "default" });
  });

  it("stays fast on long input (no quadratic regexes)", async () => {
    const policy = await createCommandPolicy();
    const started = performance.now();
    expect(policy.check(`echo ${"a".repeat(100_000)}`).decision).toBe("allow");
    expect(policy.check(`python3 -c "${"'a".repeat(20_000)}"`).decision).toBe("allow");
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("rejects an invalid policy section naming the field", async () => {
    await expect(createCommandPolicy({ config: { default: "maybe" } })).rejects.toThrow(LocalAgentError);
    await expect(createCommandPolicy({ config: { deny: ["/(/"] } })).rejects.toThrow(/user\.deny\[0\]/);
  });
});
