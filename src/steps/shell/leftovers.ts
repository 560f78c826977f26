import { existsSync, readdirSync, readFileSync } from "node:fs";

/**
 * Process groups still running an earlier attempt of a step: after a kill -9 of the daemon the
 * shell it started lives on (it has its own process group). They are found by the step key in
 * their environment (Linux /proc; elsewhere nothing is found). Zombies are ignored.
 */
export function findLeftoverGroups(stepKey: string): number[] {
  if (!existsSync("/proc/self/environ")) return [];
  const needle = Buffer.from(`\0LOCALAGENT_STEP_KEY=${stepKey}\0`);
  const groups = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${entry}/environ`), Buffer.from([0])]);
      if (!environ.includes(needle)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , group] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state !== "Z" && group !== undefined && Number(group) > 1) groups.add(Number(group));
    } catch {
      // The process ended while we looked, or belongs to someone else.
    }
  }
  return [...groups];
}

/** Kills the leftover groups of a step and waits (up to `timeoutMs`) until they are gone. */
export async function killLeftovers(stepKey: string, timeoutMs = 3000): Promise<number> {
  const groups = findLeftoverGroups(stepKey);
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (groups.length > 0 && findLeftoverGroups(stepKey).length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return groups.length;
}
