import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadWorkflowFile, type StepTypeCatalog, type WorkflowDefinition, type WorkflowIssue } from "../workflow/index.js";

export interface WorkflowSet {
  workflows: Map<string, WorkflowDefinition>;
  /** Problems per file; those files loaded nothing, everything else still runs. */
  issues: WorkflowIssue[];
  files: string[];
}

/** Lists `*.yaml`/`*.yml` files of folders (not recursive) and plain files, sorted. */
export function listWorkflowFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    const absolute = resolve(path);
    if (!existsSync(absolute)) continue;
    if (statSync(absolute).isDirectory()) {
      for (const name of readdirSync(absolute).sort()) {
        if (/\.ya?ml$/i.test(name) && !name.startsWith(".")) files.push(join(absolute, name));
      }
    } else files.push(absolute);
  }
  return [...new Set(files)];
}

/** Loads every workflow file; a broken file or a duplicate name is an issue, never a reason to stop. */
export function loadWorkflowSet(paths: readonly string[], catalog: StepTypeCatalog): WorkflowSet {
  const workflows = new Map<string, WorkflowDefinition>();
  const issues: WorkflowIssue[] = [];
  const files = listWorkflowFiles(paths);
  for (const file of files) {
    const result = loadWorkflowFile(file, catalog);
    issues.push(...result.issues);
    for (const workflow of result.workflows) {
      const existing = workflows.get(workflow.name);
      if (existing) {
        issues.push({
          file,
          line: workflow.position?.line ?? 1,
          column: workflow.position?.column ?? 1,
          message: `workflow "${workflow.name}" is already defined in ${existing.file}; this one is ignored`,
        });
        continue;
      }
      workflows.set(workflow.name, workflow);
    }
  }
  return { workflows, issues, files };
}
