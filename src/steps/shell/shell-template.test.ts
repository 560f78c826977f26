import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { renderShellCommand } from "./shell-template.js";

const hostile = `it's "quoted" $(id) \`id\` $HOME \\ ; rm -rf x`;
const echo = (command: string): string => execFileSync("/bin/sh", ["-c", command], { encoding: "utf8" }).replace(/\n$/, "");

describe("renderShellCommand", () => {
  it.each([
    ["bare", "printf %s {{ v }}"],
    ["inside single quotes", "printf %s '<{{ v }}>'"],
    ["inside double quotes", 'printf %s "<{{ v }}>"'],
    ["after an escaped quote", "printf %s \\' {{ v }}"],
    ["twice in a row", "printf %s {{ v }}{{ v }}"],
  ])("keeps the value exact %s", (_name, template) => {
    const expected = template.includes("<") ? `<${hostile}>` : template.includes("}}{{") ? hostile + hostile : hostile;
    const output = echo(renderShellCommand(template, { v: hostile }));
    expect(output.endsWith(expected)).toBe(true);
  });

  it("passes | raw through untouched and leaves plain commands alone", () => {
    expect(renderShellCommand("ls {{ dirs | raw }}", { dirs: "/a /b" })).toBe("ls /a /b");
    expect(renderShellCommand("tail -n 100 /var/log/app.log | grep -i error", {})).toBe("tail -n 100 /var/log/app.log | grep -i error");
  });
});
