import type { Command } from "commander";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { verifyAuditLog } from "../audit/index.js";
import type { ResolvedConfig } from "../config/index.js";
import { listWorkflowFiles } from "../daemon/index.js";
import { errorMessage } from "../errors/index.js";
import { compileUserRules } from "../policy/index.js";
import { inspectIsolation, resolveSandboxConfig, type IsolationReport } from "../sandbox/index.js";
import { createDefaultRegistry } from "../steps/index.js";
import { loadWorkflowFile } from "../workflow/index.js";
import { addCommonOptions, configOrReport, printJson, type CommonOptions, type Io } from "./context.js";

/** What `localagent doctor --json` prints. */
export interface DoctorReport {
  ok: boolean;
  isolation: IsolationReport;
  sandbox: { mode: string; requiredBy: string[]; available: boolean; reason: string | undefined };
  policy: { ok: boolean; detail: string };
  audit: { enabled: boolean; file: string; ok: boolean; detail: string };
  dataDir: { path: string; writable: boolean; detail: string };
  /** What is configured as required and unavailable: each makes the exit status 1. */
  problems: string[];
}

/** `localagent doctor [--json]`: what isolation this machine offers and whether what the config requires is there. */
export function registerDoctor(program: Command, io: Io, setExit: (code: number) => void): void {
  addCommonOptions(program.command("doctor"))
    .description("report the sandbox (bubblewrap, namespaces, seccomp, cgroups, rlimits), policy, audit log and data directory")
    .option("--json", "print the report as JSON")
    .action((options: CommonOptions) => {
      const config = configOrReport(options, io, setExit);
      if (!config) return;
      const report = diagnose(config);
      if (options.json) printJson(io, report);
      else printReport(report, io);
      setExit(report.ok ? 0 : 1);
    });
}

/** Gathers the report; never throws. */
export function diagnose(config: ResolvedConfig): DoctorReport {
  const problems: string[] = [];
  let sandboxMode = "preferred";
  let bwrap: string | undefined;
  try {
    const sandbox = resolveSandboxConfig(config.extensions.sandbox);
    sandboxMode = sandbox.mode;
    bwrap = sandbox.bwrap;
  } catch (error) {
    problems.push(`sandbox section: ${errorMessage(error)}`);
  }
  const isolation = inspectIsolation(bwrap);
  const requiredBy = [...(sandboxMode === "required" ? ["config.yaml sandbox.mode"] : []), ...stepsRequiringSandbox(config)];
  const reason = isolation.bwrap.usable ? undefined : isolation.bwrap.reason;
  if (requiredBy.length > 0 && reason) problems.push(`sandbox required by ${requiredBy.join(", ")} but unavailable: ${reason}`);
  let policy: DoctorReport["policy"];
  try {
    const rules = compileUserRules(config.extensions.policy);
    policy = {
      ok: true,
      detail: `built-in rules plus ${rules.deny.length} deny, ${rules.ask.length} ask, ${rules.allow.length} allow; default ${rules.defaultDecision}`,
    };
  } catch (error) {
    policy = { ok: false, detail: errorMessage(error) };
    problems.push(`policy: ${policy.detail}`);
  }
  const auditFile = join(config.dataDir, "audit.log");
  let audit: DoctorReport["audit"];
  if (!config.audit.enabled) {
    audit = { enabled: false, file: auditFile, ok: true, detail: "disabled (audit.enabled: false)" };
  } else {
    const verification = verifyAuditLog(auditFile);
    audit = verification.ok
      ? { enabled: true, file: auditFile, ok: true, detail: `${verification.entries} entries, chain intact` }
      : {
          enabled: true,
          file: auditFile,
          ok: false,
          detail: `chain broken at line ${verification.line ?? "?"}: ${verification.reason ?? ""}`,
        };
  }
  const dataDir = checkWritable(config.dataDir);
  if (!dataDir.writable) problems.push(`data directory ${config.dataDir}: ${dataDir.detail}`);
  return {
    ok: problems.length === 0,
    isolation,
    sandbox: { mode: sandboxMode, requiredBy, available: reason === undefined, reason },
    policy,
    audit,
    dataDir,
    problems,
  };
}

function stepsRequiringSandbox(config: ResolvedConfig): string[] {
  const targets = [config.workflowsDir, ...config.workflowPaths].filter((target) => existsSync(target));
  const registry = createDefaultRegistry();
  const found: string[] = [];
  for (const file of listWorkflowFiles(targets)) {
    for (const workflow of loadWorkflowFile(file, registry).workflows) {
      for (const step of workflow.steps) {
        if (step.type === "shell" && step.config.sandbox === "required") found.push(`${workflow.name}.${step.name}`);
      }
    }
  }
  return found;
}

function checkWritable(path: string): DoctorReport["dataDir"] {
  try {
    mkdirSync(path, { recursive: true });
    const probe = join(path, `.doctor-${process.pid}`);
    writeFileSync(probe, "");
    rmSync(probe);
    return { path, writable: true, detail: "writable" };
  } catch (error) {
    return { path, writable: false, detail: `not writable: ${errorMessage(error)}` };
  }
}

function printReport(report: DoctorReport, io: Io): void {
  const { isolation } = report;
  const mark = (ok: boolean): string => (ok ? "ok  " : "--  ");
  const lines = [
    "sandbox",
    `  ${mark(isolation.bwrap.usable)}bubblewrap: ${isolation.bwrap.path ? `${isolation.bwrap.path} ${isolation.bwrap.version ?? ""}`.trim() : "not found"}${isolation.bwrap.reason ? ` (${isolation.bwrap.reason})` : ""}`,
    `  ${mark(isolation.userNamespaces.available || !isolation.userNamespaces.needed)}user namespaces: ${isolation.userNamespaces.detail}${isolation.userNamespaces.needed ? "" : " (not needed as root)"}`,
    `  ${mark(isolation.seccomp.available)}seccomp: ${isolation.seccomp.detail}`,
    `  ${mark(isolation.cgroups.memory !== undefined)}cgroup memory: ${describeController(isolation.cgroups.memory)}`,
    `  ${mark(isolation.cgroups.pids !== undefined)}cgroup pids: ${describeController(isolation.cgroups.pids)}`,
    ...isolation.cgroups.notes.map((note) => `        ${note}`),
    `  ${mark(isolation.prlimit !== undefined)}prlimit (rlimits): ${isolation.prlimit ?? "not found (install util-linux)"}`,
    `  mode: ${report.sandbox.mode}${report.sandbox.requiredBy.length > 0 ? `; required by ${report.sandbox.requiredBy.join(", ")}` : ""}`,
    "policy",
    `  ${mark(report.policy.ok)}${report.policy.detail}`,
    "audit log",
    `  ${mark(report.audit.ok)}${report.audit.file}: ${report.audit.detail}`,
    "data directory",
    `  ${mark(report.dataDir.writable)}${report.dataDir.path}: ${report.dataDir.detail}`,
  ];
  if (report.problems.length > 0) lines.push("problems", ...report.problems.map((problem) => `  ${problem}`));
  io.out(`${lines.join("\n")}\n`);
}

function describeController(controller: IsolationReport["cgroups"]["memory"]): string {
  return controller ? `v${controller.version}, per-step cgroups under ${controller.parent}` : "unavailable (limits fall back to rlimits)";
}
