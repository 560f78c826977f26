import type { PreparedCommand } from "./types.js";

/** The prepared command of one step attempt, and how it ended (filled in by the runner). */
export interface StepLaunch {
  prepared: PreparedCommand;
  /** How the process ended; `reason` is the sandbox's explanation (none when the step was aborted: timeout, cancel). */
  exit?: { code: number | null; signal: NodeJS.Signals | null; reason: string | undefined; stderr: string; aborted: boolean };
}

const launches = new WeakMap<object, StepLaunch>();

/** Set by the sandbox middleware for the attempt's context; the shell runner spawns what it holds. */
export function attachLaunch(context: object, prepared: PreparedCommand): StepLaunch {
  const launch: StepLaunch = { prepared };
  launches.set(context, launch);
  return launch;
}

/** The launch the sandbox middleware prepared for this attempt, if any (none: the runner spawns directly). */
export function launchOf(context: object): StepLaunch | undefined {
  return launches.get(context);
}
