import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/index.js";

describe("deployment files", () => {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

  it("the Dockerfile passes the dockerfile-utils linter", () => {
    const problems = validate(dockerfile).map((problem) => `${problem.range.start.line + 1}: ${String(problem.message)}`);
    expect(problems).toEqual([]);
  });

  it("the image matches the seed's docker run: config in /etc/localai, port 8080, the start command", () => {
    const instructions = DockerfileParser.parse(dockerfile).getInstructions();
    const text = (keyword: string): string[] =>
      instructions.filter((entry) => entry.getKeyword() === keyword).map((entry) => entry.getArgumentsContent() ?? "");
    expect(text("EXPOSE")).toContain("8080");
    expect(text("ENV").join(" ")).toContain("LOCALAGENT_CONFIG=/etc/localai");
    expect(text("ENV").join(" ")).toContain("LOCALAGENT_HOST=0.0.0.0");
    expect(text("CMD")).toEqual(['["start"]']);
    // Every file the runtime stage copies must exist in the repository.
    const copies = instructions.filter(
      (entry) => entry.getKeyword() === "COPY" && (entry as unknown as { getFlags(): unknown[] }).getFlags().length === 0,
    );
    expect(copies.length).toBeGreaterThan(3);
    for (const copy of copies) {
      const paths = (copy.getArgumentsContent() ?? "").split(/\s+/).slice(0, -1);
      for (const path of paths) expect(existsSync(join(ROOT, path)), path).toBe(true);
    }
  });

  it("the systemd unit starts the daemon and reloads with SIGHUP", () => {
    const unit = readFileSync(join(ROOT, "deploy", "localagent.service"), "utf8");
    expect(unit).toMatch(/^ExecStart=.*localagent start$/m);
    expect(unit).toMatch(/^ExecReload=.*-HUP/m);
    expect(unit).toMatch(/^\[Install\]\nWantedBy=default.target/m);
  });
});
