export { shellStep, type ShellConfig } from "./shell-step.js";
export { shellCommandOf } from "./shell-command.js";
