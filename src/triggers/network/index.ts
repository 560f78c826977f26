export { NetworkSource, type NetworkSourceOptions } from "./network-source.js";
