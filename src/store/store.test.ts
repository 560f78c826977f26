import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { MemoryStore, SqliteStore, type Store } from "./index.js";
import { describeStoreConformance } from "./store.conformance.js";

const temp = makeTempDir("localagent-store-");
afterAll(() => temp.cleanup());

let databases = 0;
const paths = new WeakMap<Store, string>();

function createSqliteStore(): Store {
  const path = join(temp.dir, `store-${++databases}`, "localagent.db");
  const store = new SqliteStore({ path });
  paths.set(store, path);
  return store;
}

describeStoreConformance("SqliteStore (temp file)", createSqliteStore, {
  reopen: (store) => {
    const path = paths.get(store);
    if (!path) throw new Error("not a store of this test");
    store.close();
    const reopened = new SqliteStore({ path });
    paths.set(reopened, path);
    return reopened;
  },
});
describeStoreConformance("SqliteStore (:memory:, durability power)", () => new SqliteStore({ path: ":memory:", durability: "power" }));
describeStoreConformance("MemoryStore", () => new MemoryStore());

describe("SqliteStore", () => {
  it("creates the folder of its database file and reopens it", () => {
    const store = createSqliteStore();
    store.createRun({ id: "r", workflow: "w", trigger: "manual", inputs: {}, createdAt: 1 });
    store.close();
    const reopened = new SqliteStore({ path: join(temp.dir, `store-${databases}`, "localagent.db") });
    expect(reopened.getRun("r")?.workflow).toBe("w");
    reopened.close();
    expect(() => reopened.close()).not.toThrow();
  });
});
