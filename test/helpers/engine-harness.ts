import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { systemClock } from "../../src/clock/index.js";
import { Engine } from "../../src/engine/index.js";
import { EventBus, type LocalAgentEvent } from "../../src/events/index.js";
import { createSilentLogger } from "../../src/logger/index.js";
import { Outbox } from "../../src/outbox/index.js";
import { createDefaultRegistry } from "../../src/steps/index.js";
import { SqliteStore, type Store } from "../../src/store/index.js";
import { formatIssue, loadWorkflowText, type WorkflowDefinition } from "../../src/workflow/index.js";
import { makeTempDir } from "./index.js";

/** An engine on a SQLite store in a temp dir, with the default steps, a silent logger and the real clock. */
export interface EngineHarness {
  engine: Engine;
  store: Store;
  /** Every event emitted so far. */
  events: LocalAgentEvent[];
  /** The bus the engine emits on (for components that listen beside it, such as the dispatcher). */
  bus: EventBus;
  /** The temp dir: the workspace shell steps run in. */
  dir: string;
  /** Loads a workflow from YAML; fails the test on any issue. */
  load(yaml: string): WorkflowDefinition;
  /** A second engine on the same store, as after a daemon restart. */
  restart(): Engine;
  path(name: string): string;
  cleanup(): void;
}

export function createEngineHarness(): EngineHarness {
  const temp = makeTempDir("localagent-engine-");
  const store = new SqliteStore({ path: join(temp.dir, "data", "localagent.db") });
  const registry = createDefaultRegistry();
  const events: LocalAgentEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  const logger = createSilentLogger();
  const outbox = new Outbox({ store, clock: systemClock, events: bus, logger, deliverers: [] });
  const createEngine = (): Engine =>
    new Engine({
      store,
      registry,
      services: {
        clock: systemClock,
        logger,
        events: bus,
        deliveries: outbox,
        settings: { maxOutputBytes: 1024 * 1024, notificationPlatforms: {}, workspaceDir: temp.dir },
      },
    });
  return {
    engine: createEngine(),
    store,
    events,
    bus,
    dir: temp.dir,
    load(yaml) {
      const result = loadWorkflowText("test.yaml", yaml, registry);
      expect(result.issues.map(formatIssue)).toEqual([]);
      const workflow = result.workflows[0];
      if (!workflow) throw new Error("no workflow in test YAML");
      return workflow;
    },
    restart: createEngine,
    path: (name) => join(temp.dir, name),
    cleanup() {
      store.close();
      temp.cleanup();
    },
  };
}

/**
 * Whether any process of the group led by `pid` is still alive. Killed processes whose parent died
 * wait as zombies until PID 1 reaps them (slowly in some containers); on Linux those count as dead.
 */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
  } catch {
    return false;
  }
  if (!existsSync("/proc/self/stat")) return true;
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .some((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const [state, , group] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(group) === pid && state !== "Z";
      } catch {
        return false;
      }
    });
}
