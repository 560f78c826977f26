import { describe, expect, it } from "vitest";
import { compileSeccompFilter, DENIED_SYSCALLS, hostSeccompArch } from "./seccomp.js";

/** Runs the classic-BPF program on one `struct seccomp_data`, as the kernel would. */
function evaluate(program: Buffer, data: { nr: number; arch: number; arg0?: number }): number {
  const input = Buffer.alloc(64);
  input.writeInt32LE(data.nr, 0);
  input.writeUInt32LE(data.arch, 4);
  input.writeUInt32LE((data.arg0 ?? 0) >>> 0, 16);
  let accumulator = 0;
  for (let pc = 0; pc < program.length / 8;) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    if (code === 0x20) accumulator = input.readUInt32LE(k);
    else if (code === 0x06) return k;
    else if (code === 0x15) pc += accumulator === k ? jt : jf;
    else if (code === 0x35) pc += accumulator >= k ? jt : jf;
    else if (code === 0x45) pc += (accumulator & k) !== 0 ? jt : jf;
    else throw new Error(`unknown opcode ${code}`);
    pc += 1;
  }
  throw new Error("fell off the end of the program");
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const X86_64 = 0xc000003e;
const AARCH64 = 0xc00000b7;

describe("seccomp filter", () => {
  it("knows this machine's architecture", () => {
    expect(hostSeccompArch("x64")).toBe("x86_64");
    expect(hostSeccompArch("arm64")).toBe("aarch64");
    expect(hostSeccompArch("riscv64")).toBeUndefined();
  });

  it("x86_64: EPERM for the dangerous syscalls, ENOSYS for clone3, EPERM for namespace clones, the rest allowed", () => {
    const program = compileSeccompFilter("x86_64");
    expect(program.length % 8).toBe(0);
    const x86 = (nr: number, arg0?: number) => evaluate(program, { nr, arch: X86_64, ...(arg0 === undefined ? {} : { arg0 }) });
    for (const nr of [101, 165, 166, 155, 246, 175, 313, 176, 321, 298, 250, 248, 249, 272, 308, 167, 169, 304, 323])
      expect(x86(nr)).toBe(EPERM);
    for (const nr of [0, 1, 2, 59, 57, 60, 231]) expect(x86(nr)).toBe(ALLOW); // read, write, open, execve, fork, exit, exit_group
    expect(x86(435)).toBe(ENOSYS);
    expect(x86(56, 0x01200011)).toBe(ALLOW); // clone as fork() does it
    expect(x86(56, 0x10000000 | 0x11)).toBe(EPERM); // clone(CLONE_NEWUSER)
    expect(x86(0x40000000 + 1)).toBe(EPERM); // x32 ABI
    expect(evaluate(program, { nr: 1, arch: 0x40000003 })).toBe(EPERM); // i386 through int 0x80
  });

  it("aarch64 has its own numbers", () => {
    const program = compileSeccompFilter("aarch64");
    const arm = (nr: number) => evaluate(program, { nr, arch: AARCH64 });
    for (const nr of [117, 40, 39, 41, 104, 105, 273, 106, 280, 241, 219, 217, 218, 97, 268, 224, 142, 265, 282])
      expect(arm(nr)).toBe(EPERM);
    for (const nr of [63, 64, 221, 93, 94]) expect(arm(nr)).toBe(ALLOW); // read, write, execve, exit, exit_group
    expect(evaluate(program, { nr: 63, arch: X86_64 })).toBe(EPERM);
    expect(DENIED_SYSCALLS).toContain("userfaultfd");
  });
});
