import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer, connect, type AddressInfo, type Server as NetServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { LocalAgentError } from "../errors/index.js";
import { createBwrapSandbox } from "./bwrap-sandbox.js";
import { inspectIsolation } from "./isolation.js";
import { createSandboxRunner } from "./sandbox-test-kit.js";

const isolation = inspectIsolation();
const unavailable = isolation.bwrap.usable ? undefined : isolation.bwrap.reason;
if (unavailable) console.warn(`skipping the bubblewrap escape tests: ${unavailable}`);

const temp = makeTempDir("localagent-sandbox-");
afterAll(() => temp.cleanup());
const dataDir = join(temp.dir, "data");

async function failure(promise: Promise<unknown>): Promise<LocalAgentError> {
  const error: unknown = await promise.then(
    () => expect.unreachable("the step should fail"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LocalAgentError);
  return error as LocalAgentError;
}

/** Per-step cgroups this process created and left behind (none, after every step). */
function leftoverCgroups(): string[] {
  const parents = [isolation.cgroups.memory?.parent, isolation.cgroups.pids?.parent].filter((path): path is string => path !== undefined);
  return parents.flatMap((parent) => readdirSync(parent).filter((name) => name.startsWith(`localagent-${process.pid}-`)));
}

describe.skipIf(unavailable !== undefined)("bubblewrap sandbox, for real", () => {
  const runner = createSandboxRunner({ dataDir, config: { mode: "required" } });
  const run = async (config: Parameters<typeof runner.run>[0], extra?: Parameters<typeof runner.run>[1]) =>
    (await runner.run(config, extra)).output;
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    server = createHttpServer((_, response) => response.end("secret from the host network\n"));
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());

  it("runs with no capabilities, no new privileges, a seccomp filter, its own PID namespace and an empty HOME", async () => {
    const output = String(await run({ command: "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; echo pid=$$ home=$HOME; pwd" }));
    expect(output).toContain("CapEff:\t0000000000000000");
    expect(output).toContain("NoNewPrivs:\t1");
    expect(output).toContain("Seccomp:\t2");
    expect(output).toContain(`pid=2 home=/home/sandbox`);
    expect(output).toContain(join(dataDir, "workspaces", "wf"));
    const entry = runner.audit.at(-1);
    expect(entry?.type).toBe("command-executed");
    expect(entry?.details).toMatchObject({ exitCode: 0 });
    // Where a cgroup controller is missing the profile says which rlimit (or nothing) stands in.
    expect(String(entry?.details?.sandbox)).toMatch(
      /^bwrap\(net=none,mem=1g(\([a-z-]+\))?,pids=256(\([a-z-]+\))?,fsize=1g,nofile=1024,seccomp\)$/,
    );
    if (isolation.cgroups.memory && isolation.cgroups.pids) expect(entry?.details?.sandbox).toContain("mem=1g,pids=256,");
  });

  it("writes in the workflow's workspace, and nowhere else (read-only file system)", async () => {
    await run({ command: "echo kept > result.txt" }, { workflow: "report" });
    expect(readFileSync(join(dataDir, "workspaces", "report", "result.txt"), "utf8")).toBe("kept\n");
    for (const command of [`echo x > /etc/evil`, `echo x > /usr/evil`, `touch /evil`, `mkdir /home/evil`]) {
      const error = await failure(runner.run({ command }));
      expect(error.message).toContain("sandbox: the sandbox is read-only outside the workspace");
      expect(error.message).toContain("Read-only file system");
      expect(error.retryable).toBe(false);
    }
    // The data directory beside the workspace lives in the host's /tmp here: inside, /tmp is private.
    await run({ command: `echo x > ${dataDir}/evil 2>/dev/null; echo x > /tmp/evil` });
    expect(existsSync("/etc/evil") || existsSync("/evil") || existsSync(join(dataDir, "evil")) || existsSync("/tmp/evil")).toBe(false);
  });

  it("sees configured read_only and writable paths (missing ones are left out), /var/log by default", async () => {
    const logs = join(temp.dir, "logs");
    const backups = join(temp.dir, "backups");
    mkdirSync(logs);
    mkdirSync(backups);
    writeFileSync(join(logs, "app.log"), "ERROR disk full\n");
    const configured = createSandboxRunner({
      dataDir,
      config: { mode: "required", read_only: [logs, join(temp.dir, "missing")], writable: [backups] },
    });
    expect(await configured.run({ command: `grep -i error ${logs}/app.log > ${backups}/found.txt && cat ${backups}/found.txt` })).toEqual({
      output: "ERROR disk full",
    });
    expect(readFileSync(join(backups, "found.txt"), "utf8")).toBe("ERROR disk full\n");
    expect((await failure(configured.run({ command: `echo x >> ${logs}/app.log` }))).message).toContain("Read-only file system");
    expect(await run({ command: "test -d /var/log && echo visible" })).toBe(existsSync("/var/log") ? "visible" : "");
  });

  it("cannot read the user's ~/.ssh (HOME is not the user's; the real one is not mounted)", async () => {
    const home = join(temp.dir, "home");
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(join(home, ".ssh", "id_ed25519"), "-----BEGIN OPENSSH PRIVATE KEY----- fake\n");
    const error = await failure(runner.run({ command: `cat ${home}/.ssh/id_ed25519` }));
    expect(error.message).toContain("No such file or directory");
    expect(error.message).not.toContain("PRIVATE KEY");
    expect(await run({ command: "ls -A ~ | wc -l; ls /root 2>&1 | head -1" })).toMatch(/^0\n.*No such file or directory/);
  });

  it("reaches no server on 127.0.0.1 without network:, and does with network: true", async () => {
    const command = `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`;
    const error = await failure(runner.run({ command }));
    expect(error.message).toContain("network unreachable: the sandbox has no network");
    expect(String(await run({ command, network: true }))).toContain("secret from the host network");
    expect(runner.audit.at(-1)?.details?.sandbox).toMatch(/^bwrap\(net=full,/);
  });

  // As root without a pids cgroup nothing would hold a fork bomb (RLIMIT_NPROC does not bind root): not run.
  it.skipIf(isolation.cgroups.pids === undefined && process.getuid?.() === 0)(
    "contains a fork bomb with the pids limit, says so, and the host carries on",
    async () => {
      const error = await failure(runner.run({ command: "bomb() { bomb | bomb; }; bomb", limits: { processes: 32 } }, { timeoutMs: 4000 }));
      expect(error.message).toMatch(/reached the process limit of 32 \(pids cgroup\)|RLIMIT_NPROC reached \(process limit 32\)/);
      expect(leftoverCgroups()).toEqual([]);
      expect(await run({ command: "echo still fine" })).toBe("still fine");
    },
  );

  it("contains a memory bomb with the memory limit and says the step was killed for it", async () => {
    const error = await failure(
      runner.run({ command: "x=$(head -c 400000000 /dev/zero | tr '\\0' x); echo ${#x}", limits: { memory: "64m" } }),
    );
    if (isolation.cgroups.memory) {
      expect(error.message).toContain("killed by SIGKILL after reaching the memory limit of 64m (cgroup)");
      expect(error.details).toMatchObject({ exitCode: 137, sandboxReason: expect.stringContaining("memory limit") });
    } else {
      // RLIMIT_AS instead: the allocation fails and the shell says so.
      expect(error.message).toContain("memory limit of 64m reached");
    }
    expect(leftoverCgroups()).toEqual([]);
  });

  it("cannot kill its parent: kill -9 $PPID and kill -9 1 reach only the sandbox's own init", async () => {
    expect(await run({ command: "kill -9 $PPID; kill -9 1; echo alive" })).toBe("alive");
    expect(process.kill(process.pid, 0)).toBe(true);
  });

  it("cannot raise its limits", async () => {
    for (const command of ["ulimit -n unlimited", "ulimit -Hn 4096", "ulimit -f unlimited"]) {
      const error = await failure(runner.run({ command }));
      expect(error.message).toMatch(/cannot modify limit: Operation not permitted/);
    }
  });

  it("reports CPU time and file size limits by their signals", async () => {
    const cpu = await failure(runner.run({ command: "while :; do :; done", limits: { cpu_time: "1s" } }));
    expect(cpu.message).toContain("CPU time limit of 1s exceeded (SIGXCPU)");
    const size = await failure(runner.run({ command: "head -c 3000000 /dev/zero > big.bin", limits: { file_size: "1m" } }));
    expect(size.message).toContain("file size limit of 1m reached (SIGXFSZ)");
  });

  it("the seccomp filter is what refuses unshare (EPERM), mount and ptrace-style syscalls", async () => {
    const error = await failure(runner.run({ command: "unshare -U true" }));
    expect(error.message).toContain("unshare failed: Operation not permitted");
    expect(error.message).toContain("seccomp filter");
    // The same command in the same sandbox without the filter succeeds: the filter made the difference.
    const unfiltered = createSandboxRunner({
      dataDir,
      config: { mode: "required" },
      sandbox: createBwrapSandbox({
        stateDir: join(temp.dir, "state"),
        isolation: { ...isolation, seccomp: { ...isolation.seccomp, available: false } },
      }),
    });
    expect(await unfiltered.run({ command: "unshare -U true && echo unshared" })).toEqual({ output: "unshared" });
    expect(unfiltered.audit.at(-1)?.details?.sandbox).not.toContain("seccomp");
    await failure(runner.run({ command: "mount -t tmpfs none /tmp" }));
  });
});

describe("sandbox modes where bubblewrap is missing", () => {
  const missing = { mode: "required", bwrap: join(temp.dir, "no-such-bwrap") };

  it("required refuses to run and says exactly why", async () => {
    const runner = createSandboxRunner({ dataDir, config: missing });
    const marker = join(temp.dir, "ran");
    const error = await failure(runner.run({ command: `touch ${marker}` }));
    expect(error.code).toBe("sandbox_unavailable");
    expect(error.message).toBe(
      `step "sh" of workflow "wf" needs a sandbox (sandbox: required), but none is possible here: bubblewrap not found at ${missing.bwrap} (install the bubblewrap package, or set sandbox.bwrap in config.yaml)`,
    );
    expect(existsSync(marker)).toBe(false);
    expect(runner.audit.at(-1)).toMatchObject({
      type: "command-executed",
      details: { refused: true, sandbox: expect.stringMatching(/^none: bubblewrap not found/) },
    });
  });

  it("preferred runs unsandboxed with a warning and records why; off runs directly", async () => {
    const runner = createSandboxRunner({ dataDir, config: { ...missing, mode: "preferred" } });
    expect(await runner.run({ command: "echo ran" })).toEqual({ output: "ran" });
    expect(runner.warnings.join("\n")).toContain("running unsandboxed (sandbox: preferred): bubblewrap not found");
    expect(runner.audit.at(-1)?.details).toMatchObject({ sandbox: expect.stringMatching(/^none: bubblewrap not found/), exitCode: 0 });
    expect(await runner.run({ command: "echo direct", sandbox: "off" })).toEqual({ output: "direct" });
    expect(runner.audit.at(-1)?.details?.sandbox).toBe("none: sandbox: off");
    // A step's own `sandbox: required` wins over the preferred default.
    expect((await failure(runner.run({ command: "echo no", sandbox: "required" }))).code).toBe("sandbox_unavailable");
  });
});

describe.skipIf(unavailable !== undefined)("network: [hosts] through the egress proxy's unix socket", () => {
  let proxy: NetServer;
  let target: Server;
  // Where the egress middleware puts its sockets: DATA_DIR/egress.
  const socketPath = join(dataDir, "egress", "step.sock");
  const connects: string[] = [];

  beforeAll(async () => {
    target = createHttpServer((_, response) => response.end("through the proxy\n"));
    await new Promise<void>((done) => target.listen(0, "127.0.0.1", done));
    const targetPort = (target.address() as AddressInfo).port;
    // A minimal CONNECT proxy on a unix socket: allows api.example.test only, tunnels to the local target.
    proxy = createNetServer((client) => {
      client.once("data", (head) => {
        const line = head.toString("latin1").split("\r\n")[0] ?? "";
        connects.push(line);
        if (!line.startsWith("CONNECT api.example.test:443 ")) {
          client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
          return;
        }
        const upstream = connect(targetPort, "127.0.0.1", () => {
          client.write("HTTP/1.1 200 Connection established\r\n\r\n");
          client.pipe(upstream).pipe(client);
        });
        upstream.on("error", () => client.destroy());
      });
    });
    mkdirSync(join(dataDir, "egress"), { recursive: true });
    await new Promise<void>((done) => proxy.listen(socketPath, done));
  });
  afterAll(() => {
    proxy.close();
    target.close();
  });

  it("reaches allowed hosts through the proxy, and nothing directly", async () => {
    let closed = 0;
    const runner = createSandboxRunner({
      dataDir,
      config: { mode: "required" },
      egress: { forStep: () => ({ socketPath, close: () => void (closed += 1) }) },
    });
    const tunnel = [
      "proxy=${HTTPS_PROXY#http://}; exec 3<>/dev/tcp/${proxy%:*}/${proxy##*:}",
      'printf \'CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n\' "$TARGET" "$TARGET" >&3',
      'read -r status <&3; echo "$status"',
    ].join("; ");
    const allowed = String(
      await runner
        .run({ command: `TARGET=api.example.test:443; ${tunnel}`, network: ["api.example.test"] })
        .then((result) => result.output),
    );
    expect(allowed).toContain("HTTP/1.1 200 Connection established");
    const refused = String(
      await runner.run({ command: `TARGET=evil.test:443; ${tunnel}`, network: ["api.example.test"] }).then((result) => result.output),
    );
    expect(refused).toContain("403 Forbidden");
    expect(connects.map((line) => line.split(" ")[1])).toEqual(["api.example.test:443", "evil.test:443"]);
    expect(runner.audit.at(-1)?.details?.sandbox).toMatch(/^bwrap\(net=proxy\(api\.example\.test\),/);
    expect(closed).toBe(2);
    const direct = await failure(
      runner.run({ command: `exec 3<>/dev/tcp/127.0.0.1/${(target.address() as AddressInfo).port}`, network: ["api.example.test"] }),
    );
    expect(direct.message).toMatch(/Connection refused|Network is unreachable/);
  });

  it("uses the proxy the egress middleware opened for the step (LOCALAGENT_EGRESS_SOCKET)", async () => {
    const runner = createSandboxRunner({ dataDir, config: { mode: "required" } });
    const command = [
      "proxy=${HTTPS_PROXY#http://}; exec 3<>/dev/tcp/${proxy%:*}/${proxy##*:}",
      "printf 'CONNECT api.example.test:443 HTTP/1.1\\r\\n\\r\\n' >&3",
      'read -r status <&3; echo "$status $LOCALAGENT_EGRESS_SOCKET"',
    ].join("; ");
    const egressEnv = { HTTPS_PROXY: "http://127.0.0.1:1", LOCALAGENT_EGRESS_SOCKET: socketPath };
    const output = String((await runner.run({ command, network: ["api.example.test"] }, { env: egressEnv })).output);
    expect(output).toMatch(/^HTTP\/1\.1 200 Connection established\r? \/run\/localagent\/egress\.sock$/);
    // A socket elsewhere (a workflow's env: naming docker.sock, say) is never bound in.
    const elsewhere = join(temp.dir, "other.sock");
    const other = createNetServer();
    await new Promise<void>((done) => other.listen(elsewhere, done));
    try {
      const error = await failure(
        runner.run({ command: "true", network: ["api.example.test"] }, { env: { LOCALAGENT_EGRESS_SOCKET: elsewhere } }),
      );
      expect(error.message).toContain("needs the egress proxy");
    } finally {
      other.close();
    }
  });

  it("without an egress proxy, a host list is refused rather than opened up", async () => {
    const runner = createSandboxRunner({ dataDir, config: { mode: "preferred" } });
    const error = await failure(runner.run({ command: "true", network: ["api.example.test"] }));
    expect(error.message).toContain("network: [api.example.test] needs the egress proxy");
  });
});

describe.skipIf(unavailable !== undefined || isolation.cgroups.pids === undefined)("cgroups left by a killed daemon", () => {
  it("are removed at the next start; those of live daemons are left alone", async () => {
    const parent = isolation.cgroups.pids?.parent ?? "";
    // A pid that is not running: a daemon killed with -9.
    const dead = join(parent, `localagent-999999999-run_x-sh-stale`);
    const live = join(parent, `localagent-1-run_y-sh-live`);
    mkdirSync(dead);
    mkdirSync(live);
    try {
      const runner = createSandboxRunner({ dataDir, config: { mode: "required" } });
      expect(await runner.run({ command: "echo ok" })).toEqual({ output: "ok" });
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      for (const path of [dead, live]) if (existsSync(path)) rmdirSync(path);
    }
  });
});
