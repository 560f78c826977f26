export { shellStep, type ShellConfig } from "./shell-step.js";
