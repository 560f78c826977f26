import { Cron } from "croner";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.js";
import type { TriggerDefinition, WorkflowDefinition } from "../workflow/index.js";
import type { Fire } from "./scheduler.js";
import { WheelScheduler } from "./wheel-scheduler.js";

const HOUR = 3_600_000;

function workflow(name: string, triggers: TriggerDefinition[], misfire: WorkflowDefinition["misfire"] = "once"): WorkflowDefinition {
  return { name, file: `${name}.yaml`, triggers, inputs: {}, env: {}, steps: [], priority: 0, misfire, enabled: true };
}

function run(options: { start: number; triggers: TriggerDefinition[]; misfire?: WorkflowDefinition["misfire"]; lastFire?: number }) {
  const clock = new ManualClock(options.start);
  const scheduler = new WheelScheduler({ clock, lastFire: () => options.lastFire });
  const fires: Fire[] = [];
  scheduler.setWorkflows([workflow("job", options.triggers, options.misfire)]);
  scheduler.start((fire) => fires.push(fire));
  const iso = () => fires.map((fire) => new Date(fire.scheduledAt).toISOString());
  return { clock, scheduler, fires, iso };
}

/** The fire times croner itself computes for the same expression, for comparison. */
function cronerTimes(expression: string, timezone: string | undefined, from: number, until: number): string[] {
  const cron = new Cron(expression, { paused: true, ...(timezone ? { timezone } : {}) });
  const times: string[] = [];
  for (let next = cron.nextRun(new Date(from)); next && next.getTime() <= until; next = cron.nextRun(next)) times.push(next.toISOString());
  return times;
}

describe("WheelScheduler: cron", () => {
  it("runs a month of a 5-field schedule in milliseconds, firing exactly at croner's times", () => {
    const start = Date.UTC(2026, 0, 1);
    const { clock, fires, iso } = run({ start, triggers: [{ kind: "cron", expression: "0 3 * * *" }] });
    clock.advance(31 * 24 * HOUR);
    expect(fires).toHaveLength(31);
    expect(iso()).toEqual(cronerTimes("0 3 * * *", undefined, start, start + 31 * 24 * HOUR));
    for (const fire of fires) expect(fire.trigger).toBe("cron");
  });

  it("6-field (seconds) expressions and @nicknames", () => {
    const start = Date.UTC(2026, 5, 1, 12, 0, 0);
    const seconds = run({ start, triggers: [{ kind: "cron", expression: "*/15 * * * * *" }] });
    seconds.clock.advance(60_000);
    expect(seconds.fires.map((fire) => (fire.scheduledAt - start) / 1000)).toEqual([15, 30, 45, 60]);
    const daily = run({ start, triggers: [{ kind: "cron", expression: "@daily" }] });
    daily.clock.advance(3 * 24 * HOUR);
    expect(daily.iso()).toEqual(["2026-06-02T00:00:00.000Z", "2026-06-03T00:00:00.000Z", "2026-06-04T00:00:00.000Z"]);
  });

  it.each([
    // Spring forward: 02:00–03:00 does not exist; the 02:30 fire is not lost (it runs once, at 03:00 local).
    ["Europe/Berlin", "30 2 * * *", Date.UTC(2026, 2, 27), 4],
    // Fall back: 02:00–03:00 happens twice; the 02:30 fire runs once.
    ["Europe/Berlin", "30 2 * * *", Date.UTC(2026, 9, 23), 4],
    ["America/New_York", "30 2 * * *", Date.UTC(2026, 2, 6), 4],
    ["America/New_York", "30 1 * * *", Date.UTC(2026, 9, 30), 4],
  ])("across DST in %s (%s): one fire per day, as croner computes", (timezone, expression, start, days) => {
    const { clock, iso } = run({ start, triggers: [{ kind: "cron", expression, timezone }] });
    clock.advance(days * 24 * HOUR);
    expect(iso()).toHaveLength(days);
    expect(iso()).toEqual(cronerTimes(expression, timezone, start, start + days * 24 * HOUR));
    // One fire per local calendar day: no double fire in the repeated hour, none lost in the skipped one.
    const localDays = iso().map((time) => new Date(time).toLocaleDateString("en-CA", { timeZone: timezone }));
    expect(new Set(localDays).size).toBe(days);
  });

  it("leap day, last day of the month (L) and the nth weekday (#)", () => {
    const start = Date.UTC(2028, 0, 1);
    const year = 366 * 24 * HOUR;
    const leap = run({ start, triggers: [{ kind: "cron", expression: "0 12 29 2 *" }] });
    leap.clock.advance(year);
    expect(leap.iso()).toEqual(["2028-02-29T12:00:00.000Z"]);
    const last = run({ start, triggers: [{ kind: "cron", expression: "0 12 L * *" }] });
    last.clock.advance(91 * 24 * HOUR);
    expect(last.iso()).toEqual(["2028-01-31T12:00:00.000Z", "2028-02-29T12:00:00.000Z", "2028-03-31T12:00:00.000Z"]);
    const second = run({ start, triggers: [{ kind: "cron", expression: "0 12 * * 5#2" }] });
    second.clock.advance(60 * 24 * HOUR);
    expect(second.iso()).toEqual(cronerTimes("0 12 * * 5#2", undefined, start, start + 60 * 24 * HOUR));
    expect(second.iso()).toEqual(["2028-01-14T12:00:00.000Z", "2028-02-11T12:00:00.000Z"]);
  });

  it("nextFireAt is the armed fire", () => {
    const start = Date.UTC(2026, 0, 1, 10, 15);
    const { scheduler } = run({ start, triggers: [{ kind: "cron", expression: "0 * * * *" }] });
    expect(scheduler.nextFireAt("job")).toBe(Date.UTC(2026, 0, 1, 11, 0));
    expect(scheduler.nextFireAt("unknown")).toBeNull();
  });
});

describe("WheelScheduler: every", () => {
  it("fires on a fixed grid that does not drift and survives a reload", () => {
    const start = Date.UTC(2026, 0, 1, 0, 0, 7);
    const { clock, scheduler, fires } = run({ start, triggers: [{ kind: "every", intervalMs: 30_000 }] });
    clock.advance(95_000);
    expect(fires.map((fire) => (fire.scheduledAt - Date.UTC(2026, 0, 1)) / 1000)).toEqual([30, 60, 90]);
    scheduler.setWorkflows([workflow("job", [{ kind: "every", intervalMs: 30_000 }])]);
    clock.advance(30_000);
    expect(fires.map((fire) => (fire.scheduledAt - Date.UTC(2026, 0, 1)) / 1000)).toEqual([30, 60, 90, 120]);
  });
});

describe("WheelScheduler: misfires", () => {
  const lastFire = Date.UTC(2026, 0, 1, 10, 0);
  const start = lastFire + 3 * HOUR + 30 * 60_000; // down from 10:00 to 13:30
  const hourly: TriggerDefinition[] = [{ kind: "cron", expression: "0 * * * *" }];

  it.each([
    ["once", ["2026-01-01T13:00:00.000Z"]],
    ["all", ["2026-01-01T11:00:00.000Z", "2026-01-01T12:00:00.000Z", "2026-01-01T13:00:00.000Z"]],
    ["skip", []],
  ] as const)("at start-up after 3 hours down, misfire: %s", (misfire, expected) => {
    const { clock, iso } = run({ start, triggers: hourly, misfire, lastFire });
    expect(iso()).toEqual(expected);
    clock.advance(HOUR);
    expect(iso()).toEqual([...expected, "2026-01-01T14:00:00.000Z"]);
  });

  it.each([
    ["once", 1],
    ["all", 4],
    ["skip", 0],
  ] as const)("after a clock jump forward of 3.5 hours, misfire: %s fires %i", (misfire, count) => {
    const begin = Date.UTC(2026, 0, 1, 9, 30);
    const { clock, fires } = run({ start: begin, triggers: hourly, misfire });
    clock.set(begin + 3.5 * HOUR); // a suspend: the armed Node timer still waits its old delay
    clock.advance(31_000); // the wheel wakes within its 30 s cap and reads the wall clock
    expect(fires).toHaveLength(count);
    clock.advance(HOUR);
    expect(fires).toHaveLength(count + 1);
  });

  it("a clock jump back does not fire the same time twice", () => {
    const begin = Date.UTC(2026, 0, 1, 9, 59, 50);
    const { clock, iso } = run({ start: begin, triggers: hourly });
    clock.advance(20_000);
    expect(iso()).toEqual(["2026-01-01T10:00:00.000Z"]);
    clock.set(begin); // back before 10:00
    clock.advance(40_000);
    expect(iso()).toEqual(["2026-01-01T10:00:00.000Z"]);
  });
});
