export { HttpEventSource } from "./http-event-source.js";
