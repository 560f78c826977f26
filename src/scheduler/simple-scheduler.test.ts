import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.js";
import type { TriggerDefinition, WorkflowDefinition } from "../workflow/index.js";
import type { Fire } from "./index.js";
import { SimpleScheduler } from "./index.js";

function workflow(name: string, triggers: TriggerDefinition[], enabled = true): WorkflowDefinition {
  return { name, file: `${name}.yaml`, triggers, inputs: {}, env: {}, steps: [], priority: 0, misfire: "once", enabled };
}

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

describe("SimpleScheduler", () => {
  it("fires every: intervals at exact multiples of the interval", () => {
    const clock = new ManualClock(T0);
    const scheduler = new SimpleScheduler(clock);
    const fires: Fire[] = [];
    scheduler.setWorkflows([workflow("tick", [{ kind: "every", intervalMs: 30_000 }])]);
    expect(scheduler.nextFireAt("tick")).toBe(T0 + 30_000);
    scheduler.start((fire) => fires.push(fire));
    clock.advance(95_000);
    expect(fires.map((fire) => [fire.trigger, fire.scheduledAt - T0])).toEqual([
      ["every", 30_000],
      ["every", 60_000],
      ["every", 90_000],
    ]);
    expect(scheduler.nextFireAt("tick")).toBe(T0 + 120_000);
    scheduler.stop();
    clock.advance(120_000);
    expect(fires).toHaveLength(3);
  });

  it("after a late fire, keeps to the original grid and skips the missed slots", () => {
    const clock = new ManualClock(T0);
    const scheduler = new SimpleScheduler(clock);
    const fires: number[] = [];
    scheduler.setWorkflows([workflow("tick", [{ kind: "every", intervalMs: 10_000 }])]);
    scheduler.start((fire) => fires.push(fire.scheduledAt - T0));
    clock.jump(35_000);
    clock.advance(0);
    expect(fires).toEqual([10_000]);
    expect(scheduler.nextFireAt("tick")).toBe(T0 + 40_000);
    clock.advance(5_000);
    expect(fires).toEqual([10_000, 40_000]);
    scheduler.stop();
  });

  it("computes the next cron fire time in the workflow's time zone", () => {
    const clock = new ManualClock(T0);
    const scheduler = new SimpleScheduler(clock);
    scheduler.setWorkflows([
      workflow("utc", [{ kind: "cron", expression: "0 3 * * *", timezone: "UTC" }]),
      workflow("tokyo", [{ kind: "cron", expression: "0 3 * * *", timezone: "Asia/Tokyo" }]),
      workflow("seconds", [{ kind: "cron", expression: "*/15 * * * * *", timezone: "UTC" }]),
      workflow("off", [{ kind: "cron", expression: "* * * * *" }], false),
      workflow("manual", [{ kind: "manual" }, { kind: "event", name: "deploy" }]),
    ]);
    expect(scheduler.nextFireAt("utc")).toBe(Date.UTC(2026, 0, 1, 3));
    expect(scheduler.nextFireAt("tokyo")).toBe(Date.UTC(2026, 0, 1, 18));
    expect(scheduler.nextFireAt("seconds")).toBe(T0 + 15_000);
    expect(scheduler.nextFireAt("off")).toBeNull();
    expect(scheduler.nextFireAt("manual")).toBeNull();
    expect(scheduler.nextFireAt("unknown")).toBeNull();
    scheduler.stop();
  });

  it("replacing the workflows cancels the old timers", () => {
    const clock = new ManualClock(T0);
    const scheduler = new SimpleScheduler(clock);
    const fires: string[] = [];
    scheduler.start((fire) => fires.push(fire.workflow.name));
    scheduler.setWorkflows([workflow("old", [{ kind: "every", intervalMs: 1000 }])]);
    clock.advance(1000);
    scheduler.setWorkflows([workflow("new", [{ kind: "every", intervalMs: 1500 }])]);
    clock.advance(3000);
    expect(fires).toEqual(["old", "new", "new"]);
    scheduler.stop();
  });
});
