import { createConnection, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface Socks5ServerOptions {
  /** When set, clients must authenticate with username/password (RFC 1929); else "no authentication". */
  username?: string;
  password?: string;
}

/**
 * A tiny SOCKS5 proxy (RFC 1928) for tests: CONNECT only, IPv4 / domain / IPv6 addresses, no
 * authentication or username/password. It counts the tunnels it opened and records their targets,
 * so a test can assert that traffic really went through it.
 */
export class Socks5Server {
  /** One entry per CONNECT that was tunnelled: `host:port`. */
  readonly connections: string[] = [];
  /** Handshakes refused (bad credentials, unsupported command). */
  refused = 0;
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: Socks5ServerOptions = {}) {}

  get url(): string {
    const auth = this.options.username
      ? `${encodeURIComponent(this.options.username)}:${encodeURIComponent(this.options.password ?? "")}@`
      : "";
    return `socks5://${auth}127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((socket) => this.handle(socket));
    await new Promise<void>((done) => this.server?.listen(0, "127.0.0.1", done));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }

  private handle(client: Socket): void {
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => client.destroy());
    let buffer = Buffer.alloc(0);
    let stage: "greeting" | "auth" | "request" = "greeting";
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (stage === "greeting") {
          if (buffer.length < 2 || buffer.length < 2 + buffer[1]!) return;
          const methods = [...buffer.subarray(2, 2 + buffer[1]!)];
          buffer = buffer.subarray(2 + buffer[1]!);
          const wanted = this.options.username ? 0x02 : 0x00;
          if (!methods.includes(wanted)) {
            this.refused += 1;
            client.end(Buffer.from([0x05, 0xff]));
            return;
          }
          client.write(Buffer.from([0x05, wanted]));
          stage = wanted === 0x02 ? "auth" : "request";
        } else if (stage === "auth") {
          if (buffer.length < 2) return;
          const userLength = buffer[1]!;
          if (buffer.length < 3 + userLength) return;
          const passLength = buffer[2 + userLength]!;
          if (buffer.length < 3 + userLength + passLength) return;
          const user = buffer.subarray(2, 2 + userLength).toString();
          const pass = buffer.subarray(3 + userLength, 3 + userLength + passLength).toString();
          buffer = buffer.subarray(3 + userLength + passLength);
          if (user !== this.options.username || pass !== this.options.password) {
            this.refused += 1;
            client.end(Buffer.from([0x01, 0x01]));
            return;
          }
          client.write(Buffer.from([0x01, 0x00]));
          stage = "request";
        } else {
          if (buffer.length < 5) return;
          const [version, command, , type] = buffer;
          let host: string;
          let offset: number;
          if (type === 0x01) {
            if (buffer.length < 10) return;
            host = [...buffer.subarray(4, 8)].join(".");
            offset = 8;
          } else if (type === 0x03) {
            const length = buffer[4]!;
            if (buffer.length < 7 + length) return;
            host = buffer.subarray(5, 5 + length).toString();
            offset = 5 + length;
          } else if (type === 0x04) {
            if (buffer.length < 22) return;
            host = (buffer.subarray(4, 20).toString("hex").match(/.{4}/g) ?? []).join(":");
            offset = 20;
          } else {
            this.refused += 1;
            client.end(Buffer.from([0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
            return;
          }
          const port = buffer.readUInt16BE(offset);
          const rest = buffer.subarray(offset + 2);
          client.off("data", onData);
          if (version !== 0x05 || command !== 0x01) {
            this.refused += 1;
            client.end(Buffer.from([0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
            return;
          }
          this.tunnel(client, host, port, rest);
          return;
        }
      }
    };
    client.on("data", onData);
  }

  private tunnel(client: Socket, host: string, port: number, rest: Buffer): void {
    const upstream = createConnection({ host, port }, () => {
      this.connections.push(`${host}:${port}`);
      client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0, 0]));
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream).pipe(client);
    });
    this.sockets.add(upstream);
    upstream.on("close", () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => {
      if (!client.destroyed) client.end(Buffer.from([0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
    });
    client.on("close", () => upstream.destroy());
  }
}
