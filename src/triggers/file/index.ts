export { FileSource, type FileChangePayload, type FileSourceOptions } from "./file-source.js";
export { compileGlob, globBase } from "./glob.js";
