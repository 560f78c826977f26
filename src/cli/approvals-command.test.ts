import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApprovalService } from "../approvals/index.js";
import { readAuditEntries, verifyAuditLog } from "../audit/index.js";
import { systemClock } from "../clock/index.js";
import { SqliteStore } from "../store/index.js";
import { main, type Io } from "./index.js";

describe("localagent approvals without a daemon", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-approvals-cli-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function capture(): Io & { text: () => string } {
    let text = "";
    return { out: (chunk) => void (text += chunk), err: (chunk) => void (text += chunk), isTty: false, text: () => text };
  }

  it("lists pending requests, answers one in the store, and audits the answer", async () => {
    const dataDir = join(dir, "data");
    const common = ["--config", join(dir, "config"), "--data-dir", dataDir];
    const store = new SqliteStore({ path: join(dataDir, "localagent.db") });
    const service = new ApprovalService({ store, clock: systemClock });
    void service.ask({ stepKey: "r1:s", runId: "r1", workflow: "wf", step: "s", command: "make deploy" }).catch(() => undefined);
    const id = service.list()[0]?.id ?? "";
    store.close();

    const list = capture();
    expect(await main(["node", "localagent", "approvals", "list", ...common], list)).toBe(0);
    expect(list.text()).toMatch(new RegExp(`${id}\\s+pending\\s+wf\\s+s\\s+r1\\s+\\S+\\s+make deploy`));

    const deny = capture();
    expect(await main(["node", "localagent", "approvals", "deny", id, "--by", "ada", ...common], deny)).toBe(0);
    expect(deny.text()).toBe(`${id} denied\n`);
    const again = capture();
    expect(await main(["node", "localagent", "approvals", "approve", id, ...common], again)).toBe(1);
    expect(again.text()).toMatch(/already denied/);

    const entries = readAuditEntries(join(dataDir, "audit.log"));
    expect(entries.map((entry) => [entry.type, entry.actor.user, entry.details.decision])).toEqual([
      ["approval-decided", "cli:ada", "denied"],
    ]);
    expect(verifyAuditLog(join(dataDir, "audit.log")).ok).toBe(true);
  });
});
