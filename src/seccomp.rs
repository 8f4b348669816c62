//! The seccomp filter of the command: classic BPF, built at compile time, no libseccomp.
//!
//! It refuses, with EPERM:
//! - every call of another architecture (x32 numbers, and i386 through int 0x80): the list
//!   below is of x86_64 numbers, and a second ABI would walk around it;
//! - calls that reach the kernel as a whole rather than the sandbox: loading kernels and modules
//!   (kexec_load, kexec_file_load, init_module, finit_module, delete_module), the kernel keyring
//!   (keyctl, add_key, request_key), bpf, perf_event_open, userfaultfd (a tool for exploiting
//!   kernel races), swapon/swapoff, acct, reboot, quotactl, iopl/ioperm, io_uring (a second way
//!   into many calls, unfiltered here);
//! - file handles (open_by_handle_at, name_to_handle_at): they open files by inode, past the
//!   root (the "shocker" escape);
//! - changing the mount tree or the namespaces: mount, umount2, pivot_root, the new mount API
//!   (fsopen, fsconfig, fsmount, fspick, move_mount, open_tree, mount_setattr), unshare, setns,
//!   and clone with any CLONE_NEW* flag;
//! - ioctl TIOCSTI and TIOCLINUX on a terminal: they push input into the caller's terminal, which
//!   the sandbox shares (CVE-2017-5226).
//!
//! clone3 gets ENOSYS: its flags are in memory that BPF cannot read, and ENOSYS is what makes
//! C libraries fall back to clone, where the flags are checked (EPERM would break threads).
//! ptrace stays allowed (strace inside works); PID 1 cannot be traced from inside because it is
//! not dumpable and holds capabilities the command lacks.

use syscalls::Sysno;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Offsets in struct seccomp_data: nr, arch, then args[6] from 16 (low halves, little-endian).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0: u32 = 16;
const ARG1: u32 = 24;

/// CLONE_NEW* flags that clone(2) takes (CLONE_NEWTIME shares its bit with the exit signal).
const NS_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u32;

pub const REFUSED: [Sysno; 35] = [
    Sysno::kexec_load,
    Sysno::kexec_file_load,
    Sysno::init_module,
    Sysno::finit_module,
    Sysno::delete_module,
    Sysno::open_by_handle_at,
    Sysno::name_to_handle_at,
    Sysno::keyctl,
    Sysno::add_key,
    Sysno::request_key,
    Sysno::bpf,
    Sysno::perf_event_open,
    Sysno::userfaultfd,
    Sysno::swapon,
    Sysno::swapoff,
    Sysno::acct,
    Sysno::mount,
    Sysno::umount2,
    Sysno::pivot_root,
    Sysno::unshare,
    Sysno::setns,
    Sysno::fsopen,
    Sysno::fsconfig,
    Sysno::fsmount,
    Sysno::fspick,
    Sysno::move_mount,
    Sysno::open_tree,
    Sysno::mount_setattr,
    Sysno::reboot,
    Sysno::quotactl,
    Sysno::iopl,
    Sysno::ioperm,
    Sysno::io_uring_setup,
    Sysno::io_uring_enter,
    Sysno::io_uring_register,
];

/// What the filter does with a call it names.
#[derive(Clone, Copy, PartialEq)]
enum Act {
    Refuse,
    NoSys,
    CheckClone,
    CheckIoctl,
}

/// Every call the filter names, in ascending order of number: the refused ones, and the three
/// it looks closer at.
const N: usize = REFUSED.len() + 3;
const NAMED: [(u32, Act); N] = sorted();

const fn sorted() -> [(u32, Act); N] {
    let mut t = [(Sysno::clone as u32, Act::CheckClone); N];
    t[1] = (Sysno::clone3 as u32, Act::NoSys);
    t[2] = (Sysno::ioctl as u32, Act::CheckIoctl);
    let mut i = 0;
    while i < REFUSED.len() {
        t[3 + i] = (REFUSED[i] as u32, Act::Refuse);
        i += 1;
    }
    // Insertion sort: const fns have no sort.
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 && t[j - 1].0 > t[j].0 {
            let x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
            j -= 1;
        }
        i += 1;
    }
    t
}

/// The calls are found by a binary search of JGE tests down to leaves of at most LEAF JEQ
/// tests. The kernel runs the filter once per system call number when it installs it, to find
/// the calls it can allow without running it again; a linear list of 38 tests made that cost
/// 0.3 ms of every start, the tree a fifth of it.
const LEAF: usize = 3;

/// Instructions of the search over `n` calls.
const fn tree_len(n: usize) -> usize {
    if n <= LEAF {
        n + 1
    } else {
        1 + tree_len(n / 2) + tree_len(n - n / 2)
    }
}

/// Instruction indices of the program's parts.
const TREE: usize = 5;
const CLONE: usize = TREE + tree_len(N);
const IOCTL: usize = CLONE + 3;
const EPERM: usize = IOCTL + 4;
const ENOSYS: usize = EPERM + 1;
pub const LEN: usize = ENOSYS + 1;

const fn stmt(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

/// A conditional jump at `at` to `to` when true, on to the next instruction when false.
const fn jump_to(code: u16, k: u32, at: usize, to: usize) -> Insn {
    Insn { code, jt: (to - at - 1) as u8, jf: 0, k }
}

/// Emit the search over NAMED[lo..hi] at `at`, with the number in the accumulator.
const fn tree(p: &mut [Insn; LEN], at: usize, lo: usize, hi: usize) {
    let n = hi - lo;
    if n <= LEAF {
        let mut i = 0;
        while i < n {
            let (nr, act) = NAMED[lo + i];
            let to = match act {
                Act::Refuse => EPERM,
                Act::NoSys => ENOSYS,
                Act::CheckClone => CLONE,
                Act::CheckIoctl => IOCTL,
            };
            p[at + i] = jump_to(JEQ, nr, at + i, to);
            i += 1;
        }
        p[at + n] = stmt(RET, RET_ALLOW);
        return;
    }
    let mid = lo + n / 2;
    // Numbers from NAMED[mid] up are searched on the right, after the left's instructions.
    p[at] = jump_to(JGE, NAMED[mid].0, at, at + 1 + tree_len(n / 2));
    tree(p, at + 1, lo, mid);
    tree(p, at + 1 + tree_len(n / 2), mid, hi);
}

const fn build() -> [Insn; LEN] {
    let mut p = [stmt(RET, RET_ALLOW); LEN];
    p[0] = stmt(LD_W_ABS, ARCH);
    p[1] = Insn { code: JEQ, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 };
    p[2] = stmt(RET, RET_ERRNO | libc::EPERM as u32);
    p[3] = stmt(LD_W_ABS, NR);
    p[4] = jump_to(JGE, X32_SYSCALL_BIT, 4, EPERM);
    tree(&mut p, TREE, 0, N);
    p[CLONE] = stmt(LD_W_ABS, ARG0);
    p[CLONE + 1] = jump_to(JSET, NS_FLAGS, CLONE + 1, EPERM);
    p[CLONE + 2] = stmt(RET, RET_ALLOW);
    p[IOCTL] = stmt(LD_W_ABS, ARG1);
    p[IOCTL + 1] = jump_to(JEQ, libc::TIOCSTI as u32, IOCTL + 1, EPERM);
    p[IOCTL + 2] = jump_to(JEQ, libc::TIOCLINUX as u32, IOCTL + 2, EPERM);
    p[IOCTL + 3] = stmt(RET, RET_ALLOW);
    p[EPERM] = stmt(RET, RET_ERRNO | libc::EPERM as u32);
    p[ENOSYS] = stmt(RET, RET_ERRNO | libc::ENOSYS as u32);
    p
}

pub static FILTER: [Insn; LEN] = build();

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter of the instructions used, to check the program's answers.
    fn run(nr: u32, arch: u32, a0: u32, a1: u32) -> u32 {
        let mut pc = 0;
        let mut acc = 0u32;
        loop {
            let i = FILTER[pc];
            match i.code {
                c if c == LD_W_ABS => {
                    acc = match i.k {
                        NR => nr,
                        ARCH => arch,
                        ARG0 => a0,
                        ARG1 => a1,
                        _ => panic!("load"),
                    };
                    pc += 1
                }
                c if c == RET => return i.k,
                c => {
                    let t = match c {
                        c if c == JEQ => acc == i.k,
                        c if c == JGE => acc >= i.k,
                        c if c == JSET => acc & i.k != 0,
                        _ => panic!("op"),
                    };
                    pc += 1 + if t { i.jt } else { i.jf } as usize;
                }
            }
        }
    }

    const X: u32 = AUDIT_ARCH_X86_64;
    const EPERM_RET: u32 = RET_ERRNO | 1;

    #[test]
    fn refuses_the_list_and_allows_the_rest() {
        for s in REFUSED {
            assert_eq!(run(s as u32, X, 0, 0), EPERM_RET, "{s:?}");
        }
        for s in [Sysno::read, Sysno::write, Sysno::execve, Sysno::ptrace, Sysno::openat, Sysno::wait4] {
            assert_eq!(run(s as u32, X, 0, 0), RET_ALLOW, "{s:?}");
        }
    }

    #[test]
    fn every_number_gets_what_the_list_says() {
        for nr in 0..1024u32 {
            let want = if REFUSED.iter().any(|&s| s as u32 == nr) {
                EPERM_RET
            } else if nr == Sysno::clone3 as u32 {
                RET_ERRNO | libc::ENOSYS as u32
            } else {
                RET_ALLOW
            };
            assert_eq!(run(nr, X, 0, 0), want, "{nr}");
        }
    }

    #[test]
    fn the_search_is_short() {
        // Steps of the longest path through the program, for any number.
        let mut longest = 0;
        for nr in 0..1024u32 {
            let (mut pc, mut steps) = (3, 0);
            loop {
                let i = FILTER[pc];
                steps += 1;
                if i.code == RET {
                    break;
                }
                let t = match i.code {
                    c if c == JEQ => nr == i.k,
                    c if c == JGE => nr >= i.k,
                    _ => break, // the argument checks: a few steps more
                };
                pc += 1 + if t { i.jt } else { i.jf } as usize;
            }
            longest = longest.max(steps);
        }
        assert!(longest <= 12, "{longest} steps");
        const { assert!(LEN < 100) };
    }

    #[test]
    fn other_abis_are_refused() {
        assert_eq!(run(Sysno::read as u32, 0x4000_0003, 0, 0), EPERM_RET); // i386
        assert_eq!(run(X32_SYSCALL_BIT, X, 0, 0), EPERM_RET); // x32 read
    }

    #[test]
    fn clone_with_namespaces_and_terminal_injection() {
        let c = Sysno::clone as u32;
        assert_eq!(run(c, X, libc::SIGCHLD as u32, 0), RET_ALLOW);
        assert_eq!(run(c, X, 0x3d0f00, 0), RET_ALLOW); // pthread_create's flags
        assert_eq!(run(c, X, libc::CLONE_NEWNS as u32 | 17, 0), EPERM_RET);
        assert_eq!(run(c, X, libc::CLONE_NEWUSER as u32, 0), EPERM_RET);
        assert_eq!(run(Sysno::clone3 as u32, X, 0, 0), RET_ERRNO | libc::ENOSYS as u32);
        let io = Sysno::ioctl as u32;
        assert_eq!(run(io, X, 0, libc::TIOCSTI as u32), EPERM_RET);
        assert_eq!(run(io, X, 0, libc::TIOCLINUX as u32), EPERM_RET);
        assert_eq!(run(io, X, 0, libc::TIOCGWINSZ as u32), RET_ALLOW);
    }
}
