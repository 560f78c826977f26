import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { createBwrapSandbox } from "./bwrap-sandbox.js";
import { createUnsandboxed } from "./direct-launch.js";
import { inspectIsolation } from "./isolation.js";
import { describeSandboxConformance } from "./sandbox.conformance.js";

const temp = makeTempDir("localagent-sandbox-conformance-");
afterAll(() => temp.cleanup());
const isolation = inspectIsolation();

describeSandboxConformance("none", createUnsandboxed, join(temp.dir, "none"));
if (isolation.bwrap.usable) {
  describeSandboxConformance("bwrap", () => createBwrapSandbox({ stateDir: join(temp.dir, "state"), isolation }), join(temp.dir, "bwrap"));
} else {
  describe("Sandbox conformance: bwrap", () => {
    it.skip(`skipped: ${isolation.bwrap.reason ?? "bubblewrap unusable"}`, () => {});
  });
}
