export { DaemonStartSource } from "./daemon-start-source.js";
