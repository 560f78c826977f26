import { describe, expect, it } from "vitest";
import type { TriggerOutcome } from "../../scheduler/index.js";
import { describeTriggerSourceConformance } from "../trigger-source.conformance.js";
import { DaemonStartSource } from "./daemon-start-source.js";

describeTriggerSourceConformance("DaemonStartSource", () => {
  const source = new DaemonStartSource();
  return { source, event: "daemon.start", provoke: () => source.ready(1234) };
});

describe("DaemonStartSource", () => {
  it("fires daemon.start once, when the daemon says it is ready, not when it starts", () => {
    const source = new DaemonStartSource();
    const emitted: unknown[][] = [];
    source.ready(1);
    source.start((event, payload): TriggerOutcome => {
      emitted.push([event, payload]);
      return { event, runs: [], skipped: [], rejected: [] };
    });
    expect(emitted).toEqual([]);
    source.ready(1000);
    source.ready(2000);
    expect(emitted).toEqual([["daemon.start", { at: 1000 }]]);
  });
});
