import { describe, expect, it } from "vitest";
import { ManualClock } from "../../clock/index.js";
import type { TriggerOutcome } from "../../scheduler/index.js";
import { describeTriggerSourceConformance } from "../trigger-source.conformance.js";
import { NetworkSource } from "./network-source.js";

describeTriggerSourceConformance("NetworkSource", () => {
  let online = true;
  const source = new NetworkSource({ clock: new ManualClock(0), probe: () => online });
  return {
    source,
    event: "network.offline",
    provoke: async () => {
      online = false;
      await source.check();
    },
  };
});

describe("NetworkSource", () => {
  it("probes at start, then polls on the clock: each change tells onChange first, then fires network.online/offline", async () => {
    const clock = new ManualClock(0);
    let online = false;
    const order: string[] = [];
    const source = new NetworkSource({ clock, intervalMs: 1000, probe: () => online, onChange: (value) => order.push(`change:${value}`) });
    expect(source.online).toBe(true);
    await source.start((event, payload): TriggerOutcome => {
      order.push(`${event}:${JSON.stringify(payload)}`);
      return { event, runs: [], skipped: [], rejected: [] };
    });
    expect(source.online).toBe(false);
    expect(order).toEqual([]);
    online = true;
    clock.advance(1000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(["change:true", 'network.online:{"online":true}']);
    online = false;
    clock.advance(1000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(order.slice(2)).toEqual(["change:false", 'network.offline:{"online":false}']);
    source.stop();
    online = true;
    clock.advance(5000);
    expect(order).toHaveLength(4);
  });
});
