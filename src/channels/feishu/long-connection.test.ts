import { afterEach, describe, expect, it } from "vitest";
import { FeishuServer, messageEvent } from "../../../test/helpers/feishu-server.js";
import { waitFor } from "../../../test/helpers/index.js";
import { decodeFrame, encodeFrame, frameHeader } from "./frame.js";

/** Encoded by protobufjs from the pbbp2.Frame definition (SeqID 300, LogID 1234567890123, service 7, method 1, two headers, a UTF-8 payload). */
const REFERENCE_FRAME = "08ac0210cb89ec8ff723180720012a0d0a047479706512056576656e742a080a0373756d120131420a7b2261223a22c3a9227d";

describe("long connection frame codec", () => {
  it("matches protobufjs byte for byte, both ways", () => {
    const frame = {
      seqId: 300,
      logId: 1234567890123,
      service: 7,
      method: 1,
      headers: [
        ["type", "event"],
        ["sum", "1"],
      ] as [string, string][],
      payload: Buffer.from('{"a":"é"}'),
    };
    expect(encodeFrame(frame).toString("hex")).toBe(REFERENCE_FRAME);
    const decoded = decodeFrame(Buffer.from(REFERENCE_FRAME, "hex"));
    expect(decoded).toEqual(frame);
    expect(frameHeader(decoded, "type")).toBe("event");
  });

  it("refuses truncated and malformed frames", () => {
    const bytes = Buffer.from(REFERENCE_FRAME, "hex");
    expect(() => decodeFrame(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    expect(() => decodeFrame(Buffer.from([0xff, 0xff, 0xff]))).toThrow();
    expect(() => decodeFrame(Buffer.from([0x0b]))).toThrow(/wire type/);
  });
});

describe("the local Feishu server speaks the official SDK's protocol", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("the SDK's WSClient connects, pings, and acknowledges a pushed event", async () => {
    const sdk = await import("@larksuiteoapi/node-sdk").catch(() => undefined);
    if (!sdk) return; // optional dependency absent: the adapter does not need it
    const server = await new FeishuServer("cli_a1b2c3d4e5f6a7b8", "sdk-secret").start();
    cleanups.push(() => server.stop());
    const events: unknown[] = [];
    const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined };
    const client = new sdk.WSClient({ appId: server.appId, appSecret: server.appSecret, domain: server.baseUrl, logger: silent });
    cleanups.push(() => client.close({ force: true }));
    await client.start({
      eventDispatcher: {
        invoke: (data: unknown) => {
          events.push(data);
          return Promise.resolve(undefined);
        },
      } as never,
    });
    await waitFor(() => server.pings > 0);
    const event = messageEvent({ text: "from the platform", messageId: "om_sdk" });
    expect((await server.pushEvent(event, 3)).code).toBe(200);
    expect(events).toEqual([event]);
  });
});
