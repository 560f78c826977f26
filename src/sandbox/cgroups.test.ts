import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { detectCgroups } from "./cgroups.js";

const temp = makeTempDir("localagent-cgroups-");
afterAll(() => temp.cleanup());

/** A cgroup directory with the given `cgroup.subtree_control`. */
function cgroup(path: string, subtree: string): string {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "cgroup.subtree_control"), `${subtree}\n`);
  writeFileSync(join(path, "cgroup.procs"), "");
  return path;
}

const mountLine = (point: string, type: string, options: string, root = "/") =>
  `30 25 0:26 ${root} ${point} rw,nosuid,nodev,noexec,relatime shared:4 - ${type} ${type} ${options}`;

describe("cgroup detection", () => {
  it("v2 (unified): our own cgroup holds processes and delegates nothing, so step cgroups go under the root", () => {
    const root = cgroup(join(temp.dir, "v2"), "cpuset cpu io memory hugetlb pids");
    cgroup(join(root, "process_api"), "");
    cgroup(join(root, "process_api", "abc"), "");
    const support = detectCgroups({ mountinfo: () => mountLine(root, "cgroup2", "rw,nsdelegate"), cgroup: () => "0::/process_api/abc\n" });
    expect(support.memory).toEqual({ version: 2, controller: "memory", parent: root });
    expect(support.pids).toEqual({ version: 2, controller: "pids", parent: root });
  });

  it("v2 with a delegated service cgroup (systemd Delegate=yes): step cgroups go under our own", () => {
    const root = cgroup(join(temp.dir, "v2-delegated"), "memory pids");
    const service = cgroup(join(root, "system.slice", "localagent.service"), "memory pids");
    cgroup(join(root, "system.slice"), "memory pids");
    const support = detectCgroups({
      mountinfo: () => mountLine(root, "cgroup2", "rw"),
      cgroup: () => "0::/system.slice/localagent.service\n",
    });
    expect(support.memory?.parent).toBe(service);
    expect(support.pids?.parent).toBe(service);
  });

  it("hybrid: v1 memory and pids hierarchies, our own cgroup in each (a v2 mount without controllers is skipped)", () => {
    const unified = cgroup(join(temp.dir, "hybrid", "unified"), "");
    const memory = cgroup(join(temp.dir, "hybrid", "memory"), "");
    const own = cgroup(join(memory, "process_api", "abc"), "");
    const pids = cgroup(join(temp.dir, "hybrid", "pids"), "");
    const support = detectCgroups({
      mountinfo: () =>
        [
          mountLine(unified, "cgroup2", "rw"),
          mountLine(memory, "cgroup", "rw,memory"),
          mountLine(pids, "cgroup", "rw,pids"),
          mountLine(join(temp.dir, "hybrid", "cpu"), "cgroup", "rw,cpu,cpuacct"),
        ].join("\n"),
      cgroup: () => "8:pids:/\n4:memory:/process_api/abc\n0::/\n",
    });
    expect(support.memory).toEqual({ version: 1, controller: "memory", parent: own });
    expect(support.pids).toEqual({ version: 1, controller: "pids", parent: join(pids, "/") });
  });

  it("nothing usable: no cgroup mounts at all", () => {
    const support = detectCgroups({ mountinfo: () => mountLine("/proc", "proc", "rw"), cgroup: () => "" });
    expect(support).toMatchObject({ memory: undefined, pids: undefined });
    expect(support.notes.join("\n")).toContain("no v1 hierarchy");
  });
});
