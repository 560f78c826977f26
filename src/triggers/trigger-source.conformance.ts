import { afterEach, describe, expect, it } from "vitest";
import type { TriggerOutcome, TriggerSource } from "../scheduler/index.js";
import type { TriggerDefinition, WorkflowDefinition } from "../workflow/index.js";

/** A minimal loaded workflow for trigger tests. */
export function testWorkflow(name: string, triggers: TriggerDefinition[], fields: Partial<WorkflowDefinition> = {}): WorkflowDefinition {
  return { name, file: `${name}.yaml`, triggers, inputs: {}, env: {}, steps: [], priority: 0, misfire: "once", enabled: true, ...fields };
}

/** One source under test and the means to make its outside happening occur. */
export interface TriggerSourceHarness {
  source: TriggerSource;
  /** The event name `provoke` must lead to. */
  event: string;
  /** Makes the happening occur: a request, a file write, a connectivity flip, a finished run… It may throw once the source is stopped. */
  provoke: () => void | Promise<void>;
  /** How long an emit may take to arrive (file watches debounce); default 200 ms. */
  waitMs?: number;
  cleanup?: () => void | Promise<void>;
}

interface Emitted {
  event: string;
  payload: unknown;
}

const emptyOutcome = (event: string): TriggerOutcome => ({ event, runs: [], skipped: [], rejected: [] });

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** The behaviour every `TriggerSource` shares; each implementation's test file runs it. */
export function describeTriggerSourceConformance(label: string, create: () => TriggerSourceHarness | Promise<TriggerSourceHarness>): void {
  describe(`TriggerSource conformance: ${label}`, () => {
    let harness: TriggerSourceHarness | undefined;
    const emitted: Emitted[] = [];
    const emit = (event: string, payload: unknown): TriggerOutcome => {
      emitted.push({ event, payload });
      return emptyOutcome(event);
    };
    const open = async (): Promise<TriggerSourceHarness> => {
      emitted.length = 0;
      harness = await create();
      return harness;
    };

    afterEach(async () => {
      await harness?.source.stop();
      await harness?.cleanup?.();
      harness = undefined;
    });

    it("has a stable, non-empty name", async () => {
      const { source } = await open();
      expect(source.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(source.name).toBe(source.name);
    });

    it("takes stop() before start() and a second stop() without complaint", async () => {
      const { source } = await open();
      await source.stop();
      await source.start(emit);
      await source.stop();
      await source.stop();
    });

    it("emits the provoked event with an object payload once started", async () => {
      const { source, event, provoke, waitMs } = await open();
      await source.start(emit);
      await provoke();
      expect(await until(() => emitted.length > 0, waitMs ?? 200)).toBe(true);
      expect(emitted[0]?.event).toBe(event);
      expect(typeof emitted[0]?.payload).toBe("object");
      expect(emitted[0]?.payload).not.toBeNull();
    });

    it("emits nothing after stop()", async () => {
      const { source, provoke, waitMs } = await open();
      await source.start(emit);
      await source.stop();
      try {
        await provoke();
      } catch {
        // A stopped source may refuse the happening outright (HTTP answers 503); that is not an emit.
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs ?? 50, 400)));
      expect(emitted).toEqual([]);
    });
  });
}
