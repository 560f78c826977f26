/**
 * A hand-written classic-BPF seccomp filter for bwrap's `--seccomp FD`: checks the architecture,
 * returns EPERM for syscalls a sandboxed command never needs and an attacker would (namespaces,
 * mounts, kernel modules, tracing, keyrings…), ENOSYS for clone3 (so libc falls back to clone,
 * whose flags can be checked) and EPERM for clone with namespace flags. Everything else is allowed.
 */

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const X32_SYSCALL_BIT = 0x40000000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG0_LOW = 16;

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

export type SeccompArch = "x86_64" | "aarch64";

/** The denied syscalls, by name, so tests and docs can list them. */
export const DENIED_SYSCALLS = [
  "ptrace",
  "mount",
  "umount2",
  "pivot_root",
  "kexec_load",
  "kexec_file_load",
  "init_module",
  "finit_module",
  "delete_module",
  "bpf",
  "perf_event_open",
  "keyctl",
  "add_key",
  "request_key",
  "unshare",
  "setns",
  "swapon",
  "swapoff",
  "reboot",
  "open_by_handle_at",
  "name_to_handle_at",
  "userfaultfd",
  "process_vm_readv",
  "process_vm_writev",
  "acct",
  "quotactl",
  "lookup_dcookie",
  "open_tree",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
] as const;

type Syscall = (typeof DENIED_SYSCALLS)[number] | "clone" | "clone3";

// Numbers from the kernel's syscall tables (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h).
const NUMBERS: Record<SeccompArch, Record<Syscall, number>> = {
  x86_64: {
    ptrace: 101,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    kexec_load: 246,
    kexec_file_load: 320,
    init_module: 175,
    finit_module: 313,
    delete_module: 176,
    bpf: 321,
    perf_event_open: 298,
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    unshare: 272,
    setns: 308,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    open_by_handle_at: 304,
    name_to_handle_at: 303,
    userfaultfd: 323,
    process_vm_readv: 310,
    process_vm_writev: 311,
    acct: 163,
    quotactl: 179,
    lookup_dcookie: 212,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    clone: 56,
    clone3: 435,
  },
  aarch64: {
    ptrace: 117,
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    kexec_load: 104,
    kexec_file_load: 294,
    init_module: 105,
    finit_module: 273,
    delete_module: 106,
    bpf: 280,
    perf_event_open: 241,
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    unshare: 97,
    setns: 268,
    swapon: 224,
    swapoff: 225,
    reboot: 142,
    open_by_handle_at: 265,
    name_to_handle_at: 264,
    userfaultfd: 282,
    process_vm_readv: 270,
    process_vm_writev: 271,
    acct: 89,
    quotactl: 60,
    lookup_dcookie: 18,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    clone: 220,
    clone3: 435,
  },
};

/** The architecture of this process as seccomp names it, or undefined where no filter is built. */
export function hostSeccompArch(arch: string = process.arch): SeccompArch | undefined {
  if (arch === "x64") return "x86_64";
  if (arch === "arm64") return "aarch64";
  return undefined;
}

interface Instruction {
  code: number;
  /** A label or a relative offset. */
  jt?: string;
  jf?: string;
  k: number;
  label?: string;
}

/**
 * The filter as bytes (an array of `struct sock_filter`, host byte order). Syscalls of any other
 * architecture (i386 through int 0x80, x32) get EPERM: they would bypass the number checks.
 */
export function compileSeccompFilter(arch: SeccompArch): Buffer {
  const numbers = NUMBERS[arch];
  const native = arch === "x86_64" ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_AARCH64;
  const program: Instruction[] = [
    { code: BPF_LD_W_ABS, k: OFFSET_ARCH },
    { code: BPF_JEQ_K, k: native, jf: "eperm" },
    { code: BPF_LD_W_ABS, k: OFFSET_NR },
  ];
  if (arch === "x86_64") program.push({ code: BPF_JGE_K, k: X32_SYSCALL_BIT, jt: "eperm" });
  for (const name of DENIED_SYSCALLS) program.push({ code: BPF_JEQ_K, k: numbers[name], jt: "eperm" });
  program.push(
    { code: BPF_JEQ_K, k: numbers.clone3, jt: "enosys" },
    { code: BPF_JEQ_K, k: numbers.clone, jf: "allow" },
    { code: BPF_LD_W_ABS, k: OFFSET_ARG0_LOW },
    { code: BPF_JSET_K, k: CLONE_NAMESPACE_FLAGS, jt: "eperm" },
    { code: BPF_RET_K, k: SECCOMP_RET_ALLOW, label: "allow" },
    { code: BPF_RET_K, k: SECCOMP_RET_ERRNO | EPERM, label: "eperm" },
    { code: BPF_RET_K, k: SECCOMP_RET_ERRNO | ENOSYS, label: "enosys" },
  );
  const labels = new Map<string, number>();
  program.forEach((instruction, index) => instruction.label && labels.set(instruction.label, index));
  const offset = (from: number, label: string | undefined): number => {
    if (label === undefined) return 0;
    const target = labels.get(label);
    if (target === undefined || target <= from || target - from - 1 > 255) throw new Error(`seccomp: bad jump to ${label}`);
    return target - from - 1;
  };
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, index) => {
    const at = index * 8;
    bytes.writeUInt16LE(instruction.code, at);
    bytes.writeUInt8(offset(index, instruction.jt), at + 2);
    bytes.writeUInt8(offset(index, instruction.jf), at + 3);
    bytes.writeUInt32LE(instruction.k >>> 0, at + 4);
  });
  return bytes;
}
