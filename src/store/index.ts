export { MemoryStore } from "./memory-store.js";
export { SqliteStore, type Durability, type SqliteStoreOptions } from "./sqlite-store.js";
export type {
  DeliveryRecord,
  DeliveryStatus,
  NewRun,
  RunQuery,
  RunRecord,
  StepCompletion,
  StepRecord,
  Store,
  VersionedValue,
} from "./store.js";
