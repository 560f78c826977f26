import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, waitFor } from "../../test/helpers/index.js";
import { systemClock } from "../clock/index.js";
import { EventBus, type LocalAgentEvent } from "../events/index.js";
import { createLogger, createSilentLogger } from "../logger/index.js";
import { MemoryStore, type DeliveryRecord } from "../store/index.js";
import { LocalAgentError } from "../errors/index.js";
import {
  createLogDeliverer,
  createWebhookDeliverer,
  MAX_RETRY_AFTER_MS,
  Outbox,
  parseRetryAfter,
  redactDestination,
  retryAfterMsOf,
  type Deliverer,
} from "./index.js";

interface Hit {
  message: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  status: number;
  at: number;
}

/** A webhook endpoint on 127.0.0.1 that records every attempt and answers what `respond` says. */
class Endpoint {
  readonly hits: Hit[] = [];
  respond: (message: string, attempt: number) => number | Promise<number> = () => 200;
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        const message = String(body.message);
        const attempt = this.hits.filter((hit) => hit.message === message).length + 1;
        void Promise.resolve(this.respond(message, attempt)).then((status) => {
          this.hits.push({ message, headers: request.headers, body, status, at: Date.now() });
          response.writeHead(status).end();
        });
      });
    });
    await new Promise<void>((done) => this.server?.listen(port, "127.0.0.1", done));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path = "/hook"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  delivered(): string[] {
    return this.hits.filter((hit) => hit.status < 300).map((hit) => hit.message);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    server?.closeAllConnections();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function createOutbox(options: { deliverers?: Deliverer[]; maxAttempts?: number; backoffMs?: number; store?: MemoryStore } = {}) {
  const store = options.store ?? new MemoryStore();
  const events: LocalAgentEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  const outbox = new Outbox({
    store,
    clock: systemClock,
    events: bus,
    logger: createSilentLogger(),
    deliverers: options.deliverers ?? [createWebhookDeliverer()],
    backoffMs: options.backoffMs ?? 20,
    maxBackoffMs: 1000,
    maxAttempts: options.maxAttempts ?? 3,
  });
  cleanups.push(() => outbox.stop());
  const send = (url: string, message: string, key = message): number | undefined =>
    outbox.enqueue({ destination: `webhook:${url}`, kind: "webhook", payload: { url, message }, idempotencyKey: key });
  return { outbox, store, events, send };
}

async function endpoint(port?: number): Promise<Endpoint> {
  const server = await new Endpoint().start(port);
  cleanups.push(() => server.stop());
  return server;
}

const byMessage = (store: MemoryStore, message: string): DeliveryRecord | undefined =>
  store.listDeliveries().find((delivery) => (delivery.payload as { message: string }).message === message);

describe("outbox", () => {
  it("delivers a webhook with the idempotency key, once per key", async () => {
    const server = await endpoint();
    const { outbox, store, events, send } = createOutbox();
    const id = send(server.url(), "hello", "run_1:notify");
    expect(send(server.url(), "hello again", "run_1:notify")).toBeUndefined();
    outbox.start();
    await waitFor(() => store.listDeliveries({ status: "delivered" }).length === 1);
    expect(server.hits).toHaveLength(1);
    expect(server.hits[0]?.headers["idempotency-key"]).toBe("run_1:notify");
    expect(server.hits[0]?.headers["content-type"]).toBe("application/json");
    expect(server.hits[0]?.body).toEqual({ message: "hello", delivery_id: id, idempotency_key: "run_1:notify" });
    expect(store.listDeliveries()[0]).toMatchObject({ status: "delivered", attempts: 1, lastError: null });
    expect(events.map((event) => event.type)).toEqual(["delivery-queued", "delivery-sent"]);
  });

  it("keeps strict order per destination, through failures, while other destinations go on", async () => {
    const slow = await endpoint();
    const other = await endpoint();
    slow.respond = (message, attempt) => (message === "1" && attempt <= 2 ? 500 : 200);
    const { outbox, store, send } = createOutbox();
    outbox.start();
    for (const message of ["1", "2", "3", "4"]) send(slow.url(), message);
    send(other.url(), "elsewhere");
    await waitFor(() => store.listDeliveries({ status: "delivered" }).length === 5);
    expect(slow.hits.map((hit) => `${hit.message}:${hit.status}`)).toEqual(["1:500", "1:500", "1:200", "2:200", "3:200", "4:200"]);
    // The other destination did not wait for the first one's retries.
    expect(other.hits[0]!.at).toBeLessThan(slow.hits[2]!.at);
  });

  it("retries with growing backoff after 500s", async () => {
    const server = await endpoint();
    server.respond = (_message, attempt) => (attempt <= 3 ? 500 : 200);
    const { outbox, store, events, send } = createOutbox({ backoffMs: 30 });
    send(server.url(), "m");
    outbox.start();
    await waitFor(() => byMessage(store, "m")?.status === "delivered");
    expect(byMessage(store, "m")).toMatchObject({ attempts: 4, lastError: null });
    const gaps = server.hits.slice(1).map((hit, index) => hit.at - server.hits[index]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(25);
    expect(gaps[1]).toBeGreaterThanOrEqual(55);
    expect(gaps[2]).toBeGreaterThanOrEqual(115);
    const failures = events.flatMap((event) => (event.type === "delivery-failed" ? [[event.attempts, event.error]] : []));
    expect(failures).toEqual([1, 2, 3].map((attempt) => [attempt, `http://127.0.0.1:${server.port} answered 500`]));
  });

  it("waits as long as a 429's Retry-After asks before the next attempt, even when its own backoff is shorter", async () => {
    const hits: number[] = [];
    const server = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        hits.push(Date.now());
        if (hits.length === 1) response.writeHead(429, { "retry-after": "1" }).end();
        else response.writeHead(200).end();
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const { outbox, store, send } = createOutbox({ backoffMs: 20 });
    send(url, "later");
    outbox.start();
    await waitFor(() => byMessage(store, "later")?.status === "delivered", 5000);
    expect(hits).toHaveLength(2);
    expect(hits[1]! - hits[0]!).toBeGreaterThanOrEqual(950);
  });

  it("reads Retry-After as seconds or an HTTP date, and caps what a deliverer asks for", () => {
    expect(parseRetryAfter("7")).toBe(7000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const date = parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())!;
    expect(date).toBeGreaterThan(55_000);
    expect(date).toBeLessThanOrEqual(60_000);
    const asked = (ms: unknown) => new LocalAgentError("delivery_failed", "x", { retryable: true, details: { retryAfterMs: ms } });
    expect(retryAfterMsOf(asked(2500))).toBe(2500);
    expect(retryAfterMsOf(asked(10 * MAX_RETRY_AFTER_MS))).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMsOf(asked("1"))).toBe(0);
    expect(retryAfterMsOf(new Error("plain"))).toBe(0);
  });

  it("retries while the connection is refused and delivers when the endpoint comes up", async () => {
    const port = await freePort();
    const { outbox, store, send } = createOutbox({ maxAttempts: 2 });
    send(`http://127.0.0.1:${port}/hook`, "m");
    outbox.start();
    await waitFor(() => (byMessage(store, "m")?.attempts ?? 0) >= 3);
    expect(byMessage(store, "m")).toMatchObject({ status: "pending", lastError: `http://127.0.0.1:${port} unreachable: ECONNREFUSED` });
    const server = await endpoint(port);
    await waitFor(() => byMessage(store, "m")?.status === "delivered", 5000);
    expect(server.delivered()).toEqual(["m"]);
  });

  it("sets a delivery answered 4xx aside as dead after maxAttempts, and moves on", async () => {
    const server = await endpoint();
    server.respond = (message) => (message === "bad" ? 404 : 200);
    const { outbox, store, send } = createOutbox({ maxAttempts: 3 });
    send(server.url(), "bad");
    send(server.url(), "good");
    outbox.start();
    await waitFor(() => byMessage(store, "good")?.status === "delivered");
    expect(byMessage(store, "bad")).toMatchObject({
      status: "dead",
      attempts: 3,
      lastError: `http://127.0.0.1:${server.port} answered 404`,
    });
    expect(server.hits.map((hit) => hit.message)).toEqual(["bad", "bad", "bad", "good"]);
  });

  it("while offline holds deliveries that need the network, and sends them at once when it returns", async () => {
    const sent: string[] = [];
    const chat: Deliverer = {
      kind: "chat",
      needsNetwork: () => true,
      deliver: (delivery) => {
        sent.push(String((delivery.payload as { message: string }).message));
        return Promise.resolve();
      },
    };
    const server = await endpoint();
    const { outbox, store, send } = createOutbox({ deliverers: [chat, createWebhookDeliverer()] });
    outbox.setOnline(false);
    outbox.start();
    outbox.enqueue({ destination: "chat:ops", kind: "chat", payload: { message: "held" }, idempotencyKey: "c1" });
    send(server.url(), "local");
    await waitFor(() => byMessage(store, "local")?.status === "delivered");
    await new Promise((done) => setTimeout(done, 100));
    expect(sent).toEqual([]);
    expect(byMessage(store, "held")).toMatchObject({ status: "pending", attempts: 0 });
    outbox.setOnline(true);
    await waitFor(() => byMessage(store, "held")?.status === "delivered", 1000);
    expect(sent).toEqual(["held"]);
  });

  it("retries a kind without a deliverer with backoff, delivers once one is registered, else sets it aside", async () => {
    const { outbox, store } = createOutbox({ deliverers: [], maxAttempts: 3, backoffMs: 20 });
    outbox.start();
    outbox.enqueue({ destination: "chat:a", kind: "chat", payload: { message: "a" }, idempotencyKey: "a" });
    outbox.enqueue({ destination: "sms:b", kind: "sms", payload: { message: "b" }, idempotencyKey: "b" });
    await waitFor(() => (byMessage(store, "a")?.attempts ?? 0) >= 1);
    const sent: string[] = [];
    outbox.register({
      kind: "chat",
      needsNetwork: () => false,
      deliver: (delivery) => {
        sent.push(delivery.idempotencyKey);
        return Promise.resolve();
      },
    });
    await waitFor(() => byMessage(store, "a")?.status === "delivered", 2000);
    expect(sent).toEqual(["a"]);
    await waitFor(() => byMessage(store, "b")?.status === "dead", 2000);
    expect(byMessage(store, "b")).toMatchObject({ attempts: 3, lastError: 'no deliverer for kind "sms"' });
  });

  it("delivers again after stop() and start()", async () => {
    const server = await endpoint();
    const { outbox, store, send } = createOutbox();
    outbox.start();
    await outbox.stop();
    outbox.start();
    send(server.url(), "after restart");
    await waitFor(() => store.listDeliveries({ status: "delivered" }).length === 1, 2000);
    expect(server.delivered()).toEqual(["after restart"]);
  });

  it("a new outbox on the same store delivers what a stopped one left pending", async () => {
    const server = await endpoint();
    const first = createOutbox();
    first.send(server.url(), "left over");
    await first.outbox.stop();
    const second = createOutbox({ store: first.store });
    second.outbox.start();
    await waitFor(() => server.delivered().length === 1);
    expect(server.hits[0]?.headers["idempotency-key"]).toBe("left over");
  });
});

describe("deliverers", () => {
  it("webhook deliveries need the network unless they go to a loopback address", () => {
    const webhook = createWebhookDeliverer();
    const needs = (url: string): boolean => webhook.needsNetwork({ payload: { url } } as DeliveryRecord);
    expect(needs("https://hooks.example.com/x")).toBe(true);
    expect(needs("http://10.0.0.5/x")).toBe(true);
    expect(needs("http://127.0.0.1:9000/x")).toBe(false);
    expect(needs("http://localhost/x")).toBe(false);
    expect(needs("http://[::1]:8080/x")).toBe(false);
  });

  it("the log deliverer writes the message and payload to the daemon log, without the network", async () => {
    let written = "";
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        done();
      },
    });
    const deliverer = createLogDeliverer(createLogger({ destination }));
    const { outbox, store } = createOutbox({ deliverers: [deliverer] });
    expect(deliverer.needsNetwork({} as DeliveryRecord)).toBe(false);
    outbox.setOnline(false);
    outbox.start();
    outbox.enqueue({ destination: "log", kind: "log", payload: { message: "disk 95% full", workflow: "disk" }, idempotencyKey: "k" });
    await waitFor(() => store.listDeliveries({ status: "delivered" }).length === 1);
    const line = JSON.parse(written.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 30,
      msg: "disk 95% full",
      notification: { message: "disk 95% full", workflow: "disk", delivery: 1 },
    });
  });

  it("redacts credentials from destinations before they are logged", () => {
    expect(redactDestination("webhook:https://user:secret@hooks.example.com/path?token=abc")).toBe(
      "webhook:https://hooks.example.com/path",
    );
    expect(redactDestination("log")).toBe("log");
  });
});
