import type { Command } from "commander";
import { describeTrigger, loadWorkflowSet } from "../daemon/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import { formatIssue } from "../workflow/index.js";
import { systemClock } from "../clock/index.js";
import { WheelScheduler } from "../scheduler/index.js";
import { addCommonOptions, openStoreForReading, printJson, printTable, resolveConfig, type CommonOptions, type Io } from "./context.js";

/** `localagent workflows list`: each workflow's triggers, next fire time and last run. */
export function registerWorkflows(program: Command, io: Io, setExit: (code: number) => void): void {
  const workflows = program.command("workflows").description("list the configured workflows");
  addCommonOptions(workflows.command("list", { isDefault: true }))
    .description("workflows with their triggers, next fire and last run")
    .option("--json", "print JSON")
    .action((options: CommonOptions) => {
      const config = resolveConfig(options);
      const set = loadWorkflowSet([config.workflowsDir, ...config.workflowPaths], createDefaultRegistry());
      const store = openStoreForReading(config);
      // The daemon's own scheduler computes the times (not started: it arms nothing).
      const scheduler = new WheelScheduler({ clock: systemClock });
      scheduler.setWorkflows([...set.workflows.values()]);
      try {
        const rows = [...set.workflows.values()].map((workflow) => {
          const last = store.listRuns({ workflow: workflow.name, limit: 1 })[0];
          return {
            name: workflow.name,
            triggers: workflow.triggers.map(describeTrigger),
            next_fire_at: iso(scheduler.nextFireAt(workflow.name)),
            last_run: last ? { id: last.id, status: last.status, at: new Date(last.createdAt).toISOString() } : null,
            file: workflow.file,
          };
        });
        if (options.json) printJson(io, { workflows: rows, problems: set.issues.map(formatIssue) });
        else {
          printTable(
            io,
            ["NAME", "TRIGGER", "NEXT FIRE", "LAST RUN"],
            rows.map((row) => [
              row.name,
              row.triggers.join(", ") || "manual",
              row.next_fire_at ?? "-",
              row.last_run ? `${row.last_run.status} ${row.last_run.at}` : "-",
            ]),
          );
          for (const issue of set.issues) io.err(`${formatIssue(issue)}\n`);
        }
        setExit(set.issues.length > 0 ? 1 : 0);
      } finally {
        store.close();
      }
    });
}

function iso(at: number | null): string | null {
  return at === null ? null : new Date(at).toISOString();
}
