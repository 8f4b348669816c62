//! The seccomp filter of the command: classic BPF, no libseccomp. An allowlist, as Docker's
//! default profile is: a call the filter does not allow is refused, and a call a later kernel
//! adds is unknown to it, so refused too.
//!
//! - Allowed: the calls a program uses (Docker's list, x86_64 names), ptrace and
//!   process_vm_readv/writev among them (strace inside works on the command's own processes).
//! - Allowed with a capability, as Docker's profile does: with CAP_SYS_ADMIN the mount calls,
//!   unshare, setns, sethostname, clone with namespace flags and clone3; with CAP_SYS_MODULE
//!   the module calls; CAP_SYS_CHROOT (in the default set) chroot; and so on (BY_CAP). The filter
//!   is made for the capabilities the command gets (`for_caps`): --cap-add keeps its meaning.
//! - Looked at closer: clone with a CLONE_NEW* flag is refused (without CAP_SYS_ADMIN);
//!   personality only to the values Docker allows (0, PER_LINUX32, UNAME26, both, and the query
//!   0xffffffff); socket not for AF_VSOCK (the host's hypervisor sockets); ioctl TIOCSTI and
//!   TIOCLINUX never (they push input into the caller's terminal, which the sandbox shares:
//!   CVE-2017-5226). The kernel reads these arguments as 32-bit, and so does the filter.
//! - EPERM for the calls it knows and refuses; ENOSYS for numbers it does not know (newer
//!   calls, and those the kernel no longer has), so that C libraries fall back as they do on an
//!   older kernel. clone3 gets ENOSYS without CAP_SYS_ADMIN: its flags are in memory BPF cannot
//!   read, and ENOSYS makes C libraries fall back to clone, whose flags are checked.
//! - Every call of another ABI is refused (x32 numbers, i386 through int 0x80): the numbers here
//!   are x86_64's, and a second ABI would walk around them.
//!
//! An OCI profile (config.json's linux.seccomp) is compiled at run time by `compile`, to the
//! same kind of program: see the comment above `Action`.

use crate::caps::bit;
use syscalls::{Errno, Sysno};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

impl Insn {
    /// An instruction to fill a program's room with.
    pub const ZERO: Insn = Insn { code: 0, jt: 0, jf: 0, k: 0 };
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

/// The personalities Docker allows: PER_LINUX (0), PER_LINUX32, UNAME26, both, and 0xffffffff,
/// which only reads the current one.
const PERSONALITY_BITS: u32 = 0x8 | 0x2_0000;
const PERSONALITY_QUERY: u32 = 0xffff_ffff;
const AF_VSOCK: u32 = 40;

/// Allowed to every command: Docker's list, the names x86_64 has.
const ALLOWED: [Sysno; 309] = {
    use Sysno::*;
    [
        accept, accept4, access, adjtimex, alarm, arch_prctl, bind, brk, cachestat, capget, capset,
        chdir, chmod, chown, clock_adjtime, clock_getres, clock_gettime, clock_nanosleep, close,
        close_range, connect, copy_file_range, creat, dup, dup2, dup3, epoll_create, epoll_create1,
        epoll_ctl, epoll_ctl_old, epoll_pwait, epoll_pwait2, epoll_wait, epoll_wait_old, eventfd,
        eventfd2, execve, execveat, exit, exit_group, faccessat, faccessat2, fadvise64, fallocate,
        fanotify_mark, fchdir, fchmod, fchmodat, fchmodat2, fchown, fchownat, fcntl, fdatasync,
        fgetxattr, flistxattr, flock, fork, fremovexattr, fsetxattr, fstat, fstatfs, fsync,
        ftruncate, futex, futex_requeue, futex_wait, futex_waitv, futex_wake, futimesat, getcpu,
        getcwd, getdents, getdents64, getegid, geteuid, getgid, getgroups, getitimer, getpeername,
        getpgid, getpgrp, getpid, getppid, getpriority, getrandom, getresgid, getresuid, getrlimit,
        get_robust_list, getrusage, getsid, getsockname, getsockopt, get_thread_area, gettid,
        gettimeofday, getuid, getxattr, getxattrat, inotify_add_watch, inotify_init, inotify_init1,
        inotify_rm_watch, io_cancel, io_destroy, io_getevents, io_pgetevents, ioprio_get,
        ioprio_set, io_setup, io_submit, kill, landlock_add_rule, landlock_create_ruleset,
        landlock_restrict_self, lchown, lgetxattr, link, linkat, listen, listmount, listxattr,
        listxattrat, llistxattr, lremovexattr, lseek, lsetxattr, lsm_get_self_attr,
        lsm_list_modules, lsm_set_self_attr, lstat, madvise, map_shadow_stack, membarrier,
        memfd_create, memfd_secret, mincore, mkdir, mkdirat, mknod, mknodat, mlock, mlock2,
        mlockall, mmap, modify_ldt, mprotect, mq_getsetattr, mq_notify, mq_open, mq_timedreceive,
        mq_timedsend, mq_unlink, mremap, mseal, msgctl, msgget, msgrcv, msgsnd, msync, munlock,
        munlockall, munmap, nanosleep, newfstatat, open, openat, openat2, pause, pidfd_open,
        pidfd_send_signal, pipe, pipe2, pkey_alloc, pkey_free, pkey_mprotect, poll, ppoll, prctl,
        pread64, preadv, preadv2, prlimit64, process_mrelease, process_vm_readv,
        process_vm_writev, pselect6, ptrace, pwrite64, pwritev, pwritev2, read, readahead,
        readlink, readlinkat, readv, recvfrom, recvmmsg, recvmsg, remap_file_pages, removexattr,
        removexattrat, rename, renameat, renameat2, restart_syscall, rmdir, rseq, rt_sigaction,
        rt_sigpending, rt_sigprocmask, rt_sigqueueinfo, rt_sigreturn, rt_sigsuspend,
        rt_sigtimedwait, rt_tgsigqueueinfo, sched_getaffinity, sched_getattr, sched_getparam,
        sched_get_priority_max, sched_get_priority_min, sched_getscheduler,
        sched_rr_get_interval, sched_setaffinity, sched_setattr, sched_setparam,
        sched_setscheduler, sched_yield, seccomp, select, semctl, semget, semop, semtimedop,
        sendfile, sendmmsg, sendmsg, sendto, setfsgid, setfsuid, setgid, setgroups, setitimer,
        setpgid, setpriority, setregid, setresgid, setresuid, setreuid, setrlimit,
        set_robust_list, setsid, setsockopt, set_thread_area, set_tid_address, setuid, setxattr,
        setxattrat, shmat, shmctl, shmdt, shmget, shutdown, sigaltstack, signalfd, signalfd4,
        socketpair, splice, stat, statfs, statmount, statx, symlink, symlinkat, sync,
        sync_file_range, syncfs, sysinfo, tee, tgkill, time, timer_create, timer_delete,
        timer_getoverrun, timer_gettime, timer_settime, timerfd_create, timerfd_gettime,
        timerfd_settime, times, tkill, truncate, umask, uname, unlink, unlinkat, utime, utimensat,
        utimes, vfork, vmsplice, wait4, waitid, write, writev,
        // Newer than Docker's list: what ioctl FS_IOC_FSGETXATTR/FSSETXATTR (allowed) do.
        file_getattr, file_setattr,
        // Only the kernel's own trampolines can make these (and it lets them past filters).
        uretprobe, uprobe,
    ]
};

/// Allowed with any of the capabilities named, refused (EPERM) without, as Docker's profile
/// has them. The kernel checks the capability too; the filter keeps the code that checks it out
/// of reach of a command without it.
const BY_CAP: [(u64, &[Sysno]); 14] = {
    use Sysno::*;
    let admin = bit(b"SYS_ADMIN");
    [
        // The mount tree and the namespaces. Docker leaves pivot_root out even here; with mount
        // allowed it adds nothing, and a sandbox or container run inside needs it.
        (admin, &[
            mount, umount2, pivot_root, fsopen, fsconfig, fsmount, fspick, move_mount, open_tree,
            open_tree_attr, mount_setattr, unshare, setns, sethostname, setdomainname, quotactl,
            quotactl_fd, fanotify_init, lookup_dcookie,
        ]),
        (admin | bit(b"BPF"), &[bpf]),
        (admin | bit(b"PERFMON"), &[perf_event_open]),
        (admin | bit(b"SYSLOG"), &[syslog]),
        // Opening files by inode reaches past the root (the "shocker" escape).
        (bit(b"DAC_READ_SEARCH"), &[open_by_handle_at, name_to_handle_at]),
        (bit(b"SYS_BOOT"), &[reboot]),
        (bit(b"SYS_CHROOT"), &[chroot]),
        (bit(b"SYS_MODULE"), &[init_module, finit_module, delete_module]),
        (bit(b"SYS_PACCT"), &[acct]),
        (bit(b"SYS_PTRACE"), &[kcmp, pidfd_getfd, process_madvise]),
        (bit(b"SYS_RAWIO"), &[iopl, ioperm]),
        (bit(b"SYS_TIME"), &[settimeofday, clock_settime]),
        (bit(b"SYS_TTY_CONFIG"), &[vhangup]),
        (bit(b"SYS_NICE"), &[get_mempolicy, mbind, set_mempolicy, set_mempolicy_home_node]),
    ]
};

/// Refused by name (EPERM) whatever the capabilities: the kernel as a whole rather than the
/// sandbox (kexec, the keyring, swap), other processes' memory (migrate_pages, move_pages),
/// a tool for exploiting kernel races (userfaultfd), and io_uring, a second way into many calls
/// that the filter would not see.
const REFUSED: [Sysno; 16] = {
    use Sysno::*;
    [
        kexec_load, kexec_file_load, add_key, request_key, keyctl, swapon, swapoff, userfaultfd,
        migrate_pages, move_pages, io_uring_setup, io_uring_enter, io_uring_register, uselib,
        ustat, sysfs,
    ]
};

/// What the filter does with a number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Act {
    Allow,
    /// EPERM.
    Refuse,
    /// ENOSYS.
    NoSys,
    /// Refuse CLONE_NEW* flags.
    Clone,
    /// Refuse TIOCSTI and TIOCLINUX.
    Ioctl,
    /// Refuse AF_VSOCK.
    Socket,
    /// Allow PERSONALITY_BITS and PERSONALITY_QUERY only.
    Personality,
}

/// The calls whose arguments are looked at, and the capability that allows them whole.
const CHECKED: [(Sysno, u64, Act); 5] = [
    (Sysno::clone, bit(b"SYS_ADMIN"), Act::Clone),
    (Sysno::clone3, bit(b"SYS_ADMIN"), Act::NoSys),
    (Sysno::ioctl, 0, Act::Ioctl),
    (Sysno::socket, 0, Act::Socket),
    (Sysno::personality, 0, Act::Personality),
];

/// What a number gets: Allow with any capability of `caps`, `act` without.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Rule {
    caps: u64,
    act: Act,
}

const NOSYS: Rule = Rule { caps: 0, act: Act::NoSys };

const fn same(a: Rule, b: Rule) -> bool {
    a.caps == b.caps && a.act as u8 == b.act as u8
}

const fn answer(r: Rule, caps: u64) -> Act {
    if r.caps & caps != 0 {
        Act::Allow
    } else {
        r.act
    }
}

/// One past the highest number of `list`, or `n` if that is higher.
const fn past(list: &[Sysno], mut n: usize) -> usize {
    let mut i = 0;
    while i < list.len() {
        n = if list[i] as usize >= n { list[i] as usize + 1 } else { n };
        i += 1;
    }
    n
}

/// Numbers from N up are unknown to the filter: ENOSYS.
const N: usize = {
    let mut n = past(&ALLOWED, past(&REFUSED, 0));
    let mut i = 0;
    while i < BY_CAP.len() {
        n = past(BY_CAP[i].1, n);
        i += 1;
    }
    let mut i = 0;
    while i < CHECKED.len() {
        n = past(&[CHECKED[i].0], n);
        i += 1;
    }
    n
};

/// Give the calls of `list` the rule `rule`; each call is named once.
const fn name(t: &mut [Rule; N], list: &[Sysno], rule: Rule) {
    let mut i = 0;
    while i < list.len() {
        assert!(same(t[list[i] as usize], NOSYS), "named twice");
        t[list[i] as usize] = rule;
        i += 1;
    }
}

/// The rule of every number below N; unnamed ones get ENOSYS (compile time only).
const fn table() -> [Rule; N] {
    let mut t = [NOSYS; N];
    name(&mut t, &ALLOWED, Rule { caps: 0, act: Act::Allow });
    name(&mut t, &REFUSED, Rule { caps: 0, act: Act::Refuse });
    let mut i = 0;
    while i < CHECKED.len() {
        let (nr, caps, act) = CHECKED[i];
        name(&mut t, &[nr], Rule { caps, act });
        i += 1;
    }
    let mut i = 0;
    while i < BY_CAP.len() {
        name(&mut t, BY_CAP[i].1, Rule { caps: BY_CAP[i].0, act: Act::Refuse });
        i += 1;
    }
    t
}

/// Runs of numbers with one rule: the table's, then the numbers past it, then x32's.
const RUNS: usize = {
    let t = table();
    let (mut n, mut nr) = (1, 1);
    while nr < N {
        if !same(t[nr], t[nr - 1]) {
            n += 1;
        }
        nr += 1;
    }
    n + 2
};

/// Each run's first number and rule.
const RUN: [(u32, Rule); RUNS] = {
    let t = table();
    let mut r = [(0, NOSYS); RUNS];
    let (mut n, mut nr) = (0, 0);
    while nr < N {
        if nr == 0 || !same(t[nr], t[nr - 1]) {
            r[n] = (nr as u32, t[nr]);
            n += 1;
        }
        nr += 1;
    }
    assert!(!same(t[N - 1], NOSYS));
    r[n] = (N as u32, NOSYS);
    r[n + 1] = (X32_SYSCALL_BIT, Rule { caps: 0, act: Act::Refuse });
    r
};

/// What the search tells apart: a run, or a run with one number inside that has a rule of its
/// own (ioctl among the calls allowed, say), which a JEQ takes out: one test where two runs
/// more would take two.
#[derive(Clone, Copy)]
struct Seg {
    first: u32,
    rule: Rule,
    one: Option<(u32, Rule)>,
}

const fn segs() -> ([Seg; RUNS], usize) {
    let mut s = [Seg { first: 0, rule: NOSYS, one: None }; RUNS];
    let (mut n, mut i) = (0, 0);
    while i < RUNS {
        let (first, rule) = RUN[i];
        if i + 2 < RUNS && RUN[i + 2].0 - RUN[i + 1].0 == 1 && same(rule, RUN[i + 2].1) {
            s[n] = Seg { first, rule, one: Some(RUN[i + 1]) };
            i += 3;
        } else {
            s[n] = Seg { first, rule, one: None };
            i += 1;
        }
        n += 1;
    }
    (s, n)
}
const SEGS: usize = segs().1;
const SEG: [Seg; SEGS] = {
    let (all, _) = segs();
    let mut s = [all[0]; SEGS];
    let mut i = 0;
    while i < SEGS {
        s[i] = all[i];
        i += 1;
    }
    s
};
/// The segments with one number taken out.
const ONES: usize = {
    let (mut n, mut i) = (0, 0);
    while i < SEGS {
        n += SEG[i].one.is_some() as usize;
        i += 1;
    }
    n
};

/// The program: the architecture, the number, a binary search over the segments (SEGS - 1
/// JGE tests, ONES JEQ tests; a test whose half is one segment jumps to its answer), then the
/// argument checks and the answers. Every filter has this one shape; the capabilities change
/// only the answers the search jumps to.
///
/// The kernel runs the filter once for every number when it installs it, to find the calls it
/// may allow without running it again (the argument checks stop that, and run on every call of
/// those few), and compiles it: both cost, the length of the program more than that of the
/// paths through it (about 0.4 us an instruction, 3.6 ns a step here). The calls allowed are
/// mostly runs of consecutive numbers: 86 instructions, at most 14 steps for any number, where
/// a list would take hundreds of each.
const TREE: usize = 3;
const CLONE: usize = TREE + SEGS - 1 + ONES;
const IOCTL: usize = CLONE + 2;
const SOCKET: usize = IOCTL + 3;
const PERSONALITY: usize = SOCKET + 2;
const ALLOW: usize = PERSONALITY + 3;
const EPERM: usize = ALLOW + 1;
const ENOSYS: usize = EPERM + 1;
pub const LEN: usize = ENOSYS + 1;
// Every jump is forward by less than LEN: within reach of a jump's 8-bit offset.
const _: () = assert!(LEN <= 256);

const fn target(a: Act) -> usize {
    match a {
        Act::Allow => ALLOW,
        Act::Refuse => EPERM,
        Act::NoSys => ENOSYS,
        Act::Clone => CLONE,
        Act::Ioctl => IOCTL,
        Act::Socket => SOCKET,
        Act::Personality => PERSONALITY,
    }
}

const fn stmt(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

/// A conditional jump at `at` to `t` when true and `f` when false (both further on).
const fn jump(code: u16, k: u32, at: usize, t: usize, f: usize) -> Insn {
    Insn { code, jt: (t - at - 1) as u8, jf: (f - at - 1) as u8, k }
}

/// Where an answer is jumped to from: an instruction, and its false side or true side.
#[derive(Clone, Copy)]
struct Leaf {
    at: u8,
    jf: bool,
}

/// Point `leaf` at `to`.
const fn point(p: &mut [Insn; LEN], leaf: Leaf, to: usize) {
    let i = leaf.at as usize;
    let off = (to - i - 1) as u8;
    if leaf.jf {
        p[i].jf = off;
    } else {
        p[i].jt = off;
    }
}

/// The leaves of the search, each with its rule.
const LEAVES: usize = SEGS + ONES;
struct Leaves {
    at: [(Leaf, Rule); LEAVES],
    n: usize,
}

impl Leaves {
    const fn add(&mut self, leaf: Leaf, rule: Rule) {
        self.at[self.n] = (leaf, rule);
        self.n += 1;
    }
}

/// Emit at `at` the search over segments lo..hi (at least two): a JGE on the middle segment's
/// first number, then the lower half, then the upper half; below CHAIN segments, a chain of
/// JGEs instead. Returns where the instructions end.
///
/// A test whose two ways out both jump (to answers) is compiled to two instructions, one that
/// goes on to the next is one; a balanced tree's last level is all of the first kind, a chain
/// has one. Chains of 8 cost the kernel's run over every number a few steps and save 9 of
/// the 118 instructions it compiles.
const CHAIN: usize = 8;
const fn tree(p: &mut [Insn; LEN], l: &mut Leaves, at: usize, lo: usize, hi: usize) -> usize {
    let mid = if hi - lo <= CHAIN { lo + 1 } else { lo + (hi - lo) / 2 };
    p[at] = stmt(JGE, SEG[mid].first);
    let next = half(p, l, Leaf { at: at as u8, jf: true }, at + 1, lo, mid);
    half(p, l, Leaf { at: at as u8, jf: false }, next, mid, hi)
}

/// Emit at `next` the search over segments lo..hi, reached from `from`: nothing for one segment
/// (`from` is its leaf), a JEQ for one with a number taken out.
const fn half(p: &mut [Insn; LEN], l: &mut Leaves, from: Leaf, next: usize, lo: usize, hi: usize) -> usize {
    if hi - lo > 1 {
        point(p, from, next);
        return tree(p, l, next, lo, hi);
    }
    match SEG[lo].one {
        None => {
            l.add(from, SEG[lo].rule);
            next
        }
        Some((nr, rule)) => {
            point(p, from, next);
            p[next] = stmt(JEQ, nr);
            l.add(Leaf { at: next as u8, jf: false }, rule);
            l.add(Leaf { at: next as u8, jf: true }, SEG[lo].rule);
            next + 1
        }
    }
}

/// The program with the search's answers not filled in, and its leaves.
const SHAPE: ([Insn; LEN], [(Leaf, Rule); LEAVES]) = {
    let mut p = [stmt(RET, RET_ALLOW); LEN];
    let mut l = Leaves { at: [(Leaf { at: 0, jf: false }, NOSYS); LEAVES], n: 0 };
    p[0] = stmt(LD_W_ABS, ARCH);
    p[1] = jump(JEQ, AUDIT_ARCH_X86_64, 1, 2, EPERM);
    p[2] = stmt(LD_W_ABS, NR);
    assert!(tree(&mut p, &mut l, TREE, 0, SEGS) == CLONE && l.n == LEAVES);
    p[CLONE] = stmt(LD_W_ABS, ARG0);
    p[CLONE + 1] = jump(JSET, NS_FLAGS, CLONE + 1, EPERM, ALLOW);
    p[IOCTL] = stmt(LD_W_ABS, ARG1);
    p[IOCTL + 1] = jump(JEQ, libc::TIOCSTI as u32, IOCTL + 1, EPERM, IOCTL + 2);
    p[IOCTL + 2] = jump(JEQ, libc::TIOCLINUX as u32, IOCTL + 2, EPERM, ALLOW);
    p[SOCKET] = stmt(LD_W_ABS, ARG0);
    p[SOCKET + 1] = jump(JEQ, AF_VSOCK, SOCKET + 1, EPERM, ALLOW);
    // 0xffffffff, or no bit but PER_LINUX32's and UNAME26's.
    p[PERSONALITY] = stmt(LD_W_ABS, ARG0);
    p[PERSONALITY + 1] = jump(JEQ, PERSONALITY_QUERY, PERSONALITY + 1, ALLOW, PERSONALITY + 2);
    p[PERSONALITY + 2] = jump(JSET, !PERSONALITY_BITS, PERSONALITY + 2, EPERM, ALLOW);
    p[ALLOW] = stmt(RET, RET_ALLOW);
    p[EPERM] = stmt(RET, RET_ERRNO | libc::EPERM as u32);
    p[ENOSYS] = stmt(RET, RET_ERRNO | libc::ENOSYS as u32);
    (p, l.at)
};

/// The filter for a command with the capabilities `caps` (compile time).
const fn build(caps: u64) -> [Insn; LEN] {
    let (mut p, leaves) = SHAPE;
    let mut i = 0;
    while i < LEAVES {
        point(&mut p, leaves[i].0, target(answer(leaves[i].1, caps)));
        i += 1;
    }
    p
}

/// The filter for Docker's default set of capabilities, built at compile time.
pub static DEFAULT: [Insn; LEN] = build(crate::caps::DEFAULT);

/// A leaf whose answer depends on the capabilities: the answer without them, and the
/// capabilities (an index in MASKS).
#[derive(Clone, Copy)]
struct Patch {
    leaf: Leaf,
    act: Act,
    mask: u8,
}

const PATCHES: usize = {
    let (mut n, mut i) = (0, 0);
    while i < LEAVES {
        n += (SHAPE.1[i].1.caps != 0) as usize;
        i += 1;
    }
    n
};

/// The sets of capabilities that allow calls.
const MASKS: [u64; BY_CAP.len() + 1] = {
    let mut m = [0; BY_CAP.len() + 1];
    let mut i = 0;
    while i < BY_CAP.len() {
        m[i] = BY_CAP[i].0;
        i += 1;
    }
    m[i] = bit(b"SYS_ADMIN");
    m
};

const PATCH: [Patch; PATCHES] = {
    let mut p = [Patch { leaf: Leaf { at: 0, jf: false }, act: Act::Refuse, mask: 0 }; PATCHES];
    let (mut n, mut i) = (0, 0);
    while i < LEAVES {
        let (leaf, rule) = SHAPE.1[i];
        if rule.caps != 0 {
            let mut m = 0;
            while MASKS[m] != rule.caps {
                m += 1;
            }
            p[n] = Patch { leaf, act: rule.act, mask: m as u8 };
            n += 1;
        }
        i += 1;
    }
    p
};

/// The filter for a command with the capabilities `caps`: the default one, with the answers
/// of the calls a capability allows set for `caps`.
pub fn for_caps(caps: u64) -> [Insn; LEN] {
    let mut p = DEFAULT;
    for x in PATCH {
        let act = if caps & MASKS[x.mask as usize] != 0 { Act::Allow } else { x.act };
        point(&mut p, x.leaf, target(act));
    }
    p
}

// The OCI profile (config.json's linux.seccomp), compiled at run time by `compile`: the same
// classic BPF, no libseccomp, with libseccomp's meaning where the spec leaves it to it.
//
// - Numbers are x86_64's (`number`); names x86_64 lacks are the caller's to leave out, as runc
//   and crun do.
// - Per call, the rules in the profile's order: the first whose checks all hold decides; none,
//   the default action.
// - Argument checks compare the 64-bit argument, high word then low, unsigned, as libseccomp
//   does on x86_64. So a rule that refuses an exact value of a 32-bit argument (a socket
//   family, an ioctl request) is walked around by setting high bits the kernel ignores, as it
//   is under runc and crun; allowing exact values (Docker's personality rules) is safe. The
//   CLI's own filter above compares the low word, for that reason.
// - Other ABIs: a call through i386's entry (another AUDIT_ARCH, int 0x80), or with an x32
//   number (X32_SYSCALL_BIT), or a number past that, gets the default action when the default
//   refuses (ERRNO, KILL, TRAP), and EPERM when it would let the call through (ALLOW, LOG,
//   TRACE): the rules name x86_64 numbers, and another ABI's numbers would walk around them.
//   A profile's `architectures` add nothing: no rules are made for i386 or x32.
// - The program: the architecture, the x32 test, a binary search over the numbers (runs of
//   numbers with one answer are one segment), then each checked call's chain of comparisons.
//   It is written backwards, so every jump's target is known: conditional jumps reach 255
//   instructions, and one that must go further goes to a JA (or a copy of the return) placed
//   next to it. Docker's default profile: 118 instructions, at most 22 steps.

/// What a rule, or the profile's default, does with a call: OCI's SCMP_ACT_*.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Log,
    Allow,
}

/// OCI's SCMP_CMP_*: how argument `index` is compared with `value`; MaskedEq(mask) holds when
/// `arg & mask == value`. Comparisons are on the 64-bit argument. For SCMP_CMP_MASKED_EQ, OCI's
/// (and libseccomp's) `value` is the mask and `valueTwo` the value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cmp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq(u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ArgCheck {
    pub index: u8,
    pub value: u64,
    pub cmp: Cmp,
}

pub const MAX_CHECKS: usize = 6;

/// One call (its x86_64 number) and the action taken when every check holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OciRule {
    pub nr: u32,
    pub action: Action,
    pub checks: [ArgCheck; MAX_CHECKS],
    pub nchecks: u8,
}

/// A whole profile: the rules in the order config.json gives them (the first rule of a call
/// whose checks all hold decides), and the action for every other call.
pub struct Profile<'a> {
    pub default: Action,
    pub rules: &'a [OciRule],
}

/// The names of the x86_64 calls, for `number`: each name's characters in six bits (a-z, 0-9,
/// _), then a 0, for every number in turn (a number without a call is a lone 0). 3 KB where the
/// crate's own name lookup is a `match` of many times that.
const NAME_CHARS: &[u8; 38] = b"\0abcdefghijklmnopqrstuvwxyz0123456789_";
const NAME_CODES: usize = {
    let (mut n, mut nr) = (0, 0);
    while nr <= Sysno::last() as usize {
        if let Some(s) = Sysno::new(nr) {
            n += s.name().len();
        }
        n += 1;
        nr += 1;
    }
    n
};
const NAMES: [u8; NAME_CODES * 6 / 8 + 2] = {
    let mut t = [0u8; NAME_CODES * 6 / 8 + 2];
    let (mut at, mut nr) = (0, 0);
    while nr <= Sysno::last() as usize {
        if let Some(s) = Sysno::new(nr) {
            let name = s.name().as_bytes();
            let mut i = 0;
            while i < name.len() {
                let mut c = 1;
                while NAME_CHARS[c] != name[i] {
                    c += 1;
                }
                let w = (c as u16) << (at % 8);
                t[at / 8] |= w as u8;
                t[at / 8 + 1] |= (w >> 8) as u8;
                at += 6;
                i += 1;
            }
        }
        at += 6;
        nr += 1;
    }
    t
};

/// The x86_64 number of the call `name`, as libseccomp names them; None for a name that x86_64
/// does not have (socketcall, mmap2, the *_time64 calls of 32-bit ABIs): runc and crun leave
/// those out of the filter, and so does the caller.
pub fn number(name: &[u8]) -> Option<u32> {
    let (mut nr, mut at, mut same) = (0, 0, true);
    for i in 0..NAME_CODES {
        let bit = i * 6;
        let w = NAMES[bit / 8] as u16 | (NAMES[bit / 8 + 1] as u16) << 8;
        let c = (w >> (bit % 8)) as usize & 63;
        if c == 0 {
            if same && at == name.len() && at > 0 {
                return Some(nr);
            }
            (nr, at, same) = (nr + 1, 0, true);
        } else {
            same &= name.get(at) == Some(&NAME_CHARS[c]);
            at += 1;
        }
    }
    None
}

/// The bit of an OCI `flags` name (SECCOMP_FILTER_FLAG_*) that `install` passes on.
pub fn flag(name: &[u8]) -> Option<u32> {
    // TSYNC, LOG and SPEC_ALLOW are bits 0, 1 and 2 (SECCOMP_FILTER_FLAG_*).
    let i = crate::out::word_at(b"TSYNC LOG SPEC_ALLOW", name.strip_prefix(b"SECCOMP_FILTER_FLAG_")?)?;
    Some(1 << i)
}

/// The longest program the kernel takes (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;
/// The most rules a profile may have, and the most calls they may name: x86_64 has fewer than
/// 400 calls. More is E2BIG.
pub const MAX_RULES: usize = 2048;
const MAX_CALLS: usize = 512;

const LD_ALU_AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JGT: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;

/// What the kernel is told to do: SECCOMP_RET_*.
fn ret(a: Action) -> u32 {
    match a {
        Action::KillThread => 0,
        Action::KillProcess => 0x8000_0000,
        Action::Trap => 0x0003_0000,
        Action::Errno(e) => RET_ERRNO | e as u32,
        Action::Trace(m) => 0x7ff0_0000 | m as u32,
        Action::Log => 0x7ffc_0000,
        Action::Allow => RET_ALLOW,
    }
}

/// Where a jump goes: a return of this value (any copy of it will do), or an instruction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    Ret(u32),
    At(u32),
}

/// The program, written from its end backwards into the end of `out`, so that every jump is to
/// an instruction already written. An instruction's label is its distance from the end (1 for
/// the last one): a jump from label `a` to label `b` skips a - b - 1. Past the room there is,
/// instructions are counted but not written (E2BIG at the end).
struct Code<'a> {
    out: &'a mut [Insn],
    n: usize,
    /// The latest copy of each return value.
    rets: [(u32, usize); 8],
}

impl Code<'_> {
    fn put(&mut self, code: u16, jt: u8, jf: u8, k: u32) -> To {
        self.n += 1;
        if let Some(at) = self.out.len().checked_sub(self.n) {
            self.out[at] = Insn { code, jt, jf, k };
        }
        To::At(self.n as u32)
    }

    /// Whether a conditional jump written after at most two more instructions reaches `label`.
    fn reaches(&self, label: usize) -> bool {
        self.n + 2 - label <= 255
    }

    /// A label for `to` that a conditional jump written next reaches: `to` itself, or a copy of
    /// the return, or a JA to it (an unconditional jump goes as far as it likes).
    fn near(&mut self, to: To) -> usize {
        match to {
            To::At(l) if self.reaches(l as usize) => l as usize,
            To::At(l) => {
                self.put(JA, 0, 0, self.n as u32 - l);
                self.n
            }
            To::Ret(v) => {
                let i = self.rets.iter().position(|r| r.0 == v && r.1 != 0).unwrap_or(v as usize % self.rets.len());
                let (value, label) = self.rets[i];
                if label == 0 || value != v || !self.reaches(label) {
                    self.put(RET, 0, 0, v);
                    self.rets[i] = (v, self.n);
                }
                self.rets[i].1
            }
        }
    }

    /// `code k`: on to `t` when it holds, `f` when not.
    fn jump(&mut self, code: u16, k: u32, t: To, f: To) -> To {
        let (t, f) = (self.near(t), self.near(f));
        self.put(code, (self.n - t) as u8, (self.n - f) as u8, k)
    }

    /// `to`, as the instruction that the one written next goes on to.
    fn then(&mut self, to: To) -> To {
        match to {
            To::At(l) if l as usize == self.n => to,
            To::At(l) => self.put(JA, 0, 0, self.n as u32 - l),
            To::Ret(v) => self.put(RET, 0, 0, v),
        }
    }

    /// The test of one argument, as libseccomp makes it: the high words first, then the low
    /// ones; written from the end.
    fn check(&mut self, c: &ArgCheck, pass: To, fail: To) -> To {
        let lo_at = ARG0 + 8 * c.index as u32;
        let (lo, hi) = (c.value as u32, (c.value >> 32) as u32);
        // Lt and Le are Ge and Gt with the ways out swapped, Ne is Eq's.
        let (code, swap) = match c.cmp {
            Cmp::Eq | Cmp::MaskedEq(_) => (JEQ, false),
            Cmp::Ne => (JEQ, true),
            Cmp::Gt => (JGT, false),
            Cmp::Ge => (JGE, false),
            Cmp::Lt => (JGE, true),
            Cmp::Le => (JGT, true),
        };
        let (t, f) = if swap { (fail, pass) } else { (pass, fail) };
        self.jump(code, lo, t, f);
        let mask = match c.cmp {
            Cmp::MaskedEq(m) => Some(m),
            _ => None,
        };
        if let Some(m) = mask {
            self.put(LD_ALU_AND, 0, 0, m as u32);
        }
        let low = self.put(LD_W_ABS, 0, 0, lo_at);
        // Equal high words go on to the low ones; others decide: fail for Eq, and for Gt and
        // Ge the lower ones (the higher ones pass).
        let eq = self.jump(JEQ, hi, low, if code == JEQ { f } else { fail });
        if code != JEQ {
            // JGT: higher passes (Gt, Ge); JGE: higher or equal goes on, lower passes (Lt, Le).
            if swap {
                self.jump(JGE, hi, eq, pass);
            } else {
                self.jump(JGT, hi, pass, eq);
            }
        }
        if let Some(m) = mask {
            self.put(LD_ALU_AND, 0, 0, (m >> 32) as u32);
        }
        self.put(LD_W_ABS, 0, 0, lo_at + 4)
    }

    /// The binary search over the segments: a JGE on the middle one's first number.
    fn tree(&mut self, first: &[u32], to: &[To]) -> To {
        if first.len() == 1 {
            return to[0];
        }
        let mid = first.len() / 2;
        let upper = self.tree(&first[mid..], &to[mid..]);
        let lower = self.tree(&first[..mid], &to[..mid]);
        self.jump(JGE, first[mid], upper, lower)
    }
}

/// Whether the kernel lets a call with this answer through (TRACE does without a tracer too).
fn lets_through(a: Action) -> bool {
    matches!(a, Action::Allow | Action::Log | Action::Trace(_))
}

/// The program for `p` in `out` (its start); returns its length. E2BIG when it takes more than
/// MAX_INSNS instructions (or `out`), or the profile more than MAX_RULES rules or MAX_CALLS
/// calls; EINVAL for a rule of a number of x32 or past, or of an argument past the sixth.
///
/// The program: the architecture and ABI, a binary search over the numbers (runs of numbers
/// with one answer are one segment: Docker's allowed calls are mostly runs), and for each call
/// with argument checks its rules in order, each a chain of 64-bit comparisons, the first whose
/// checks all hold deciding, the default action after the last.
pub fn compile(p: &Profile, out: &mut [Insn]) -> Result<usize, Errno> {
    if p.rules.len() > MAX_RULES {
        return Err(Errno::E2BIG);
    }
    for r in p.rules {
        let checks = r.checks.get(..r.nchecks as usize).ok_or(Errno::EINVAL)?;
        if r.nr >= X32_SYSCALL_BIT || checks.iter().any(|c| c.index >= 6) {
            return Err(Errno::EINVAL);
        }
    }
    // The rules in the order of their numbers, and of the profile for one number (stable).
    let mut order = [0u16; MAX_RULES];
    let order = &mut order[..p.rules.len()];
    for i in 0..order.len() {
        let mut j = i;
        while j > 0 && p.rules[order[j - 1] as usize].nr > p.rules[i].nr {
            order[j] = order[j - 1];
            j -= 1;
        }
        order[j] = i as u16;
    }
    let default = ret(p.default);
    let foreign = if lets_through(p.default) { RET_ERRNO | libc::EPERM as u32 } else { default };
    let mut c = Code { out, n: 0, rets: [(0, 0); 8] };
    c.near(To::Ret(default));
    // The segments: the first number of each and where the search sends it. A call adds at
    // most two: its own and the numbers after it that no rule names.
    let mut first = [0u32; 2 * MAX_CALLS + 1];
    let mut to = [To::Ret(0); 2 * MAX_CALLS + 1];
    let mut segs = 0;
    let mut add = |start: u32, t: To| {
        if segs == 0 || to[segs - 1] != t {
            (first[segs], to[segs]) = (start, t);
            segs += 1;
        }
    };
    let (mut next_nr, mut i, mut calls) = (0, 0, 0);
    while i < order.len() {
        let nr = p.rules[order[i] as usize].nr;
        let mut end = i;
        while end < order.len() && p.rules[order[end] as usize].nr == nr {
            end += 1;
        }
        calls += 1;
        if calls > MAX_CALLS {
            return Err(Errno::E2BIG);
        }
        // The rules that can decide: up to the first without checks. From the last one back,
        // each jumps to the one after it when a check fails; the last ones that do what the
        // default does are left out.
        let rules = &order[i..end];
        let stop = rules.iter().position(|&r| p.rules[r as usize].nchecks == 0).map_or(rules.len(), |s| s + 1);
        let mut after = To::Ret(default);
        for &r in rules[..stop].iter().rev() {
            let r = &p.rules[r as usize];
            let act = ret(r.action);
            if after == To::Ret(default) && act == default {
                continue;
            }
            let mut pass = To::Ret(act);
            for ch in r.checks[..r.nchecks as usize].iter().rev() {
                pass = c.check(ch, pass, after);
            }
            after = pass;
        }
        if nr > next_nr {
            add(next_nr, To::Ret(default));
        }
        add(nr, after);
        next_nr = nr + 1;
        i = end;
    }
    add(next_nr, To::Ret(default));
    let search = c.tree(&first[..segs], &to[..segs]);
    // Every call of another ABI is refused: i386's (another AUDIT_ARCH), x32's (numbers with
    // X32_SYSCALL_BIT), and numbers past (no call). Needless when the default refuses anyway.
    if foreign == default {
        c.then(search);
    } else {
        c.jump(JGE, X32_SYSCALL_BIT, To::Ret(foreign), search);
    }
    let nr = c.put(LD_W_ABS, 0, 0, NR);
    c.jump(JEQ, AUDIT_ARCH_X86_64, nr, To::Ret(foreign));
    c.put(LD_W_ABS, 0, 0, ARCH);
    let (n, len) = (c.n, c.out.len());
    if n > len.min(MAX_INSNS) {
        return Err(Errno::E2BIG);
    }
    out.copy_within(len - n.., 0);
    Ok(n)
}

/// Install `prog` on this thread with SECCOMP_FILTER_FLAG_* `flags`; without SPEC_ALLOW where
/// the kernel does not know it (before 4.17), as `caps::confine` does. The caller has set
/// no_new_privs, or has CAP_SYS_ADMIN.
pub fn install(prog: &[Insn], flags: u32) -> Result<(), Errno> {
    const SPEC_ALLOW: u32 = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32;
    match crate::sys::seccomp_filter(prog, flags) {
        Err(Errno::EINVAL) if flags & SPEC_ALLOW != 0 => crate::sys::seccomp_filter(prog, flags & !SPEC_ALLOW),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{caps, sys};

    /// The program's answer and the steps taken, the first two arguments given (see `eval`).
    fn run_steps(f: &[Insn], nr: u32, arch: u32, a0: u32, a1: u32) -> (u32, usize) {
        eval(f, nr, arch, [a0 as u64, a1 as u64, 0, 0, 0, 0])
    }

    fn run(f: &[Insn], nr: u32, a0: u32, a1: u32) -> u32 {
        run_steps(f, nr, X, a0, a1).0
    }

    const X: u32 = AUDIT_ARCH_X86_64;
    const OK: u32 = RET_ALLOW;
    const EPERM_RET: u32 = RET_ERRNO | libc::EPERM as u32;
    const ENOSYS_RET: u32 = RET_ERRNO | libc::ENOSYS as u32;
    const ADMIN: u64 = 1 << 21;

    /// The capability sets tried: the default, none, the default with SYS_ADMIN, without
    /// SYS_CHROOT, each single capability added, all.
    fn cap_sets() -> Vec<u64> {
        let mut v = vec![caps::DEFAULT, 0, caps::DEFAULT | ADMIN, caps::DEFAULT & !(1 << 18), caps::ALL];
        v.extend((0..caps::COUNT).map(|c| caps::DEFAULT | 1 << c));
        v
    }

    fn nr(s: Sysno) -> u32 {
        s as u32
    }

    /// What the lists say a number gets with `caps`, its arguments 0.
    fn listed(n: u32, caps: u64) -> u32 {
        let has = |s: &[Sysno]| s.iter().any(|&s| s as u32 == n);
        if n >= X32_SYSCALL_BIT {
            return EPERM_RET;
        }
        if has(&ALLOWED) || [Sysno::ioctl, Sysno::socket, Sysno::personality].iter().any(|&s| s as u32 == n) {
            return OK;
        }
        if let Some((need, _)) = BY_CAP.iter().find(|(_, s)| has(s)) {
            return if caps & need != 0 { OK } else { EPERM_RET };
        }
        if n == nr(Sysno::clone) {
            return OK; // flags 0
        }
        if n == nr(Sysno::clone3) {
            return if caps & ADMIN != 0 { OK } else { ENOSYS_RET };
        }
        if has(&REFUSED) {
            return EPERM_RET;
        }
        ENOSYS_RET
    }

    #[test]
    fn every_number_gets_what_the_lists_say() {
        for caps in cap_sets() {
            let f = for_caps(caps);
            for n in (0..1024u32).chain([0x3fff_ffff, 0x4000_0000, 0x4000_0001, u32::MAX]) {
                assert_eq!(run(&f, n, 0, 0), listed(n, caps), "{n} with {caps:x}");
            }
        }
    }

    #[test]
    fn the_filters_are_the_built_ones() {
        assert!(bytes(&for_caps(caps::DEFAULT)) == bytes(&DEFAULT));
        for caps in cap_sets() {
            assert!(bytes(&for_caps(caps)) == bytes(&build(caps)), "{caps:x}");
        }
    }

    fn bytes(p: &[Insn; LEN]) -> Vec<(u16, u8, u8, u32)> {
        p.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
    }

    #[test]
    fn by_default() {
        let f = &DEFAULT;
        for s in [Sysno::read, Sysno::execve, Sysno::ptrace, Sysno::process_vm_readv, Sysno::modify_ldt, Sysno::chroot, Sysno::listmount, Sysno::fork] {
            assert_eq!(run(f, nr(s), 0, 0), OK, "{s:?}");
        }
        // Refused by name, or for want of a capability.
        for s in [
            Sysno::mount,
            Sysno::umount2,
            Sysno::pivot_root,
            Sysno::unshare,
            Sysno::setns,
            Sysno::open_tree,
            Sysno::open_tree_attr,
            Sysno::quotactl_fd,
            Sysno::keyctl,
            Sysno::bpf,
            Sysno::io_uring_setup,
            Sysno::kexec_load,
            Sysno::init_module,
            Sysno::reboot,
            Sysno::iopl,
            Sysno::open_by_handle_at,
            Sysno::name_to_handle_at,
            Sysno::kcmp,
            Sysno::settimeofday,
            Sysno::sethostname,
        ] {
            assert_eq!(run(f, nr(s), 0, 0), EPERM_RET, "{s:?}");
        }
        // Unknown: numbers the kernel dropped, the gap before 424, past the end.
        for n in [156, 174, 236, 337, 400, 423, N as u32, 1000, 0x3fff_ffff] {
            assert_eq!(run(f, n, 0, 0), ENOSYS_RET, "{n}");
        }
        assert_eq!(run(f, nr(Sysno::clone3), 0, 0), ENOSYS_RET);
        // Without SYS_CHROOT, chroot goes too.
        assert_eq!(run(&for_caps(caps::DEFAULT & !(1 << 18)), nr(Sysno::chroot), 0, 0), EPERM_RET);
    }

    #[test]
    fn capabilities_allow_their_calls() {
        let f = for_caps(caps::DEFAULT | ADMIN);
        for s in [Sysno::mount, Sysno::umount2, Sysno::pivot_root, Sysno::unshare, Sysno::setns, Sysno::fsopen, Sysno::open_tree_attr, Sysno::clone3, Sysno::bpf, Sysno::syslog] {
            assert_eq!(run(&f, nr(s), 0, 0), OK, "{s:?}");
        }
        assert_eq!(run(&f, nr(Sysno::clone), libc::CLONE_NEWUSER as u32, 0), OK);
        for s in [Sysno::init_module, Sysno::reboot, Sysno::kcmp, Sysno::keyctl, Sysno::io_uring_setup] {
            assert_eq!(run(&f, nr(s), 0, 0), EPERM_RET, "{s:?}");
        }
        let f = for_caps(caps::DEFAULT | 1 << 19); // SYS_PTRACE
        assert_eq!(run(&f, nr(Sysno::kcmp), 0, 0), OK);
        assert_eq!(run(&f, nr(Sysno::pidfd_getfd), 0, 0), OK);
        assert_eq!(run(&f, nr(Sysno::mount), 0, 0), EPERM_RET);
        let f = for_caps(caps::ALL);
        for s in [Sysno::init_module, Sysno::reboot, Sysno::acct, Sysno::iopl, Sysno::vhangup, Sysno::mbind, Sysno::open_by_handle_at] {
            assert_eq!(run(&f, nr(s), 0, 0), OK, "{s:?}");
        }
        // Never, whatever the capabilities.
        for s in [Sysno::kexec_load, Sysno::keyctl, Sysno::add_key, Sysno::userfaultfd, Sysno::swapon, Sysno::io_uring_setup] {
            assert_eq!(run(&f, nr(s), 0, 0), EPERM_RET, "{s:?}");
        }
        assert_eq!(run(&f, nr(Sysno::ioctl), 0, libc::TIOCSTI as u32), EPERM_RET);
    }

    #[test]
    fn arguments() {
        for caps in [caps::DEFAULT, caps::ALL] {
            let f = for_caps(caps);
            let c = nr(Sysno::clone);
            assert_eq!(run(&f, c, libc::SIGCHLD as u32, 0), OK);
            assert_eq!(run(&f, c, 0x3d0f00, 0), OK); // pthread_create's flags
            let ns = if caps & ADMIN != 0 { OK } else { EPERM_RET };
            assert_eq!(run(&f, c, libc::CLONE_NEWNS as u32 | 17, 0), ns);
            assert_eq!(run(&f, c, libc::CLONE_NEWUSER as u32, 0), ns);
            assert_eq!(run(&f, c, libc::CLONE_NEWCGROUP as u32, 0), ns);
            let io = nr(Sysno::ioctl);
            assert_eq!(run(&f, io, 0, libc::TIOCSTI as u32), EPERM_RET);
            assert_eq!(run(&f, io, 0, libc::TIOCLINUX as u32), EPERM_RET);
            assert_eq!(run(&f, io, 0, libc::TIOCGWINSZ as u32), OK);
            let so = nr(Sysno::socket);
            assert_eq!(run(&f, so, 40, 0), EPERM_RET);
            for family in [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6, libc::AF_NETLINK, libc::AF_PACKET] {
                assert_eq!(run(&f, so, family as u32, 0), OK);
            }
            let pe = nr(Sysno::personality);
            for p in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
                assert_eq!(run(&f, pe, p, 0), OK, "{p:x}");
            }
            for p in [0x0040_0000 /* ADDR_NO_RANDOMIZE */, 0x1, 0x0010_0000 /* MMAP_PAGE_ZERO */, 0x0400_0000 /* READ_IMPLIES_EXEC */] {
                assert_eq!(run(&f, pe, p, 0), EPERM_RET, "{p:x}");
            }
        }
    }

    #[test]
    fn other_abis_are_refused() {
        for caps in [caps::DEFAULT, caps::ALL] {
            let f = for_caps(caps);
            assert_eq!(run_steps(&f, nr(Sysno::read), 0x4000_0003, 0, 0).0, EPERM_RET); // i386
            assert_eq!(run(&f, X32_SYSCALL_BIT, 0, 0), EPERM_RET); // x32 read
            assert_eq!(run(&f, X32_SYSCALL_BIT | nr(Sysno::mount), 0, 0), EPERM_RET);
        }
    }

    #[test]
    fn the_search_is_short() {
        // Steps of the longest path to an answer that needs no argument: the kernel takes as
        // many for every number when it installs the filter.
        let mut longest = 0;
        for n in 0..1024u32 {
            let (r, steps) = run_steps(&DEFAULT, n, X, 0, 0);
            if n != nr(Sysno::clone) && ![Sysno::ioctl, Sysno::socket, Sysno::personality].iter().any(|&s| s as u32 == n) {
                longest = longest.max(steps);
            }
            assert!(r == OK || r == EPERM_RET || r == ENOSYS_RET);
        }
        assert!(longest <= 14, "{longest} steps");
        const { assert!(LEN <= 90) };
    }

    #[test]
    fn every_call_of_the_kernel_is_named() {
        // The x86_64 numbers the kernel has no call for (any more): left to ENOSYS.
        let gone = ["_sysctl", "create_module", "get_kernel_syms", "query_module", "nfsservctl", "getpmsg", "putpmsg", "afs_syscall", "tuxcall", "security", "vserver"];
        for s in Sysno::iter() {
            let named = ALLOWED.contains(&s)
                || REFUSED.contains(&s)
                || CHECKED.iter().any(|c| c.0 == s)
                || BY_CAP.iter().any(|(_, l)| l.contains(&s));
            assert_eq!(named, !gone.contains(&s.name()), "{s:?}");
        }
    }

    // ---- the OCI profile compiler ----

    /// What `f` answers for a call, run as the kernel runs it, and the steps taken; first the
    /// checks the kernel makes when it installs a program (jumps inside, a return last, loads
    /// of aligned words of struct seccomp_data).
    fn eval(f: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> (u32, usize) {
        assert!(!f.is_empty() && f.len() <= MAX_INSNS && f[f.len() - 1].code == RET);
        for (at, i) in f.iter().enumerate() {
            let past = match i.code {
                JA => at + 1 + i.k as usize,
                JEQ | JGT | JGE | JSET => at + 1 + i.jt.max(i.jf) as usize,
                LD_W_ABS => {
                    assert!(i.k % 4 == 0 && i.k < 64, "load {}", i.k);
                    at
                }
                LD_ALU_AND | RET => at,
                c => panic!("op {c:#x}"),
            };
            assert!(past < f.len(), "jump past the end at {at}");
        }
        let mut data = [0u32; 16];
        (data[0], data[1]) = (nr, arch);
        for (i, a) in args.iter().enumerate() {
            (data[4 + 2 * i], data[5 + 2 * i]) = (*a as u32, (a >> 32) as u32);
        }
        let (mut pc, mut acc, mut steps) = (0, 0u32, 0);
        loop {
            let i = f[pc];
            steps += 1;
            pc += 1;
            match i.code {
                LD_W_ABS => acc = data[i.k as usize / 4],
                LD_ALU_AND => acc &= i.k,
                JA => pc += i.k as usize,
                RET => return (i.k, steps),
                c => {
                    let t = match c {
                        JEQ => acc == i.k,
                        JGT => acc > i.k,
                        JGE => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += if t { i.jt } else { i.jf } as usize;
                }
            }
        }
    }

    fn check(index: u8, value: u64, cmp: Cmp) -> ArgCheck {
        ArgCheck { index, value, cmp }
    }

    fn rule(nr: u32, action: Action, checks: &[ArgCheck]) -> OciRule {
        let mut c = [check(0, 0, Cmp::Eq); MAX_CHECKS];
        c[..checks.len()].copy_from_slice(checks);
        OciRule { nr, action, checks: c, nchecks: checks.len() as u8 }
    }

    fn compiled(default: Action, rules: &[OciRule]) -> Vec<Insn> {
        let mut out = [stmt(RET, 0); MAX_INSNS];
        let n = compile(&Profile { default, rules }, &mut out).expect("compiles");
        out[..n].to_vec()
    }

    fn on(f: &[Insn], nr: u32, args: [u64; 6]) -> u32 {
        eval(f, nr, X, args).0
    }

    const I386: u32 = 0x4000_0003;
    const ALL_ACTIONS: [Action; 8] = [
        Action::KillThread,
        Action::KillProcess,
        Action::Trap,
        Action::Errno(1),
        Action::Errno(38),
        Action::Trace(7),
        Action::Log,
        Action::Allow,
    ];

    #[test]
    fn actions_are_the_kernels() {
        let want = [0, 0x8000_0000, 0x0003_0000, 0x0005_0001, 0x0005_0026, 0x7ff0_0007, 0x7ffc_0000, 0x7fff_0000];
        for (a, w) in ALL_ACTIONS.iter().zip(want) {
            assert_eq!(ret(*a), w, "{a:?}");
        }
    }

    #[test]
    fn without_rules_every_call_gets_the_default() {
        for d in ALL_ACTIONS {
            let f = compiled(d, &[]);
            for n in [0, 1, 39, 435, 1000, 0x3fff_ffff] {
                assert_eq!(on(&f, n, [0; 6]), ret(d), "{d:?} {n}");
            }
        }
    }

    #[test]
    fn other_abis_never_walk_around_the_rules() {
        let mkdir = nr(Sysno::mkdir);
        for d in ALL_ACTIONS {
            // The default refuses: the other ABIs get it. It lets calls through: EPERM.
            let refused = if matches!(d, Action::Allow | Action::Log | Action::Trace(_)) { EPERM_RET } else { ret(d) };
            for rules in [&[][..], &[rule(mkdir, Action::Allow, &[]), rule(mkdir + 1, Action::Errno(5), &[])]] {
                let f = compiled(d, rules);
                for n in [0, mkdir, mkdir + 1, 1000] {
                    assert_eq!(eval(&f, n, I386, [0; 6]).0, refused, "i386 {n} {d:?}");
                    assert_eq!(eval(&f, n, 0, [0; 6]).0, refused, "arch 0 {n} {d:?}");
                    assert_eq!(on(&f, X32_SYSCALL_BIT | n, [0; 6]), refused, "x32 {n} {d:?}");
                    assert_eq!(on(&f, 0x8000_0000 | n, [0; 6]), refused, "{n} {d:?}");
                }
                assert_eq!(on(&f, u32::MAX, [0; 6]), refused);
            }
        }
    }

    #[test]
    fn errno_values_and_defaults() {
        let (mkdir, getpid) = (nr(Sysno::mkdir), nr(Sysno::getpid));
        let f = compiled(Action::Errno(1), &[rule(mkdir, Action::Errno(38), &[]), rule(getpid, Action::Allow, &[])]);
        assert_eq!(on(&f, mkdir, [0; 6]), RET_ERRNO | 38);
        assert_eq!(on(&f, getpid, [0; 6]), OK);
        assert_eq!(on(&f, getpid + 1, [0; 6]), RET_ERRNO | 1);
        assert_eq!(on(&f, 0, [0; 6]), RET_ERRNO | 1);
        let f = compiled(Action::Allow, &[rule(mkdir, Action::Errno(38), &[]), rule(getpid, Action::KillProcess, &[])]);
        assert_eq!(on(&f, mkdir, [0; 6]), RET_ERRNO | 38);
        assert_eq!(on(&f, getpid, [0; 6]), 0x8000_0000);
        assert_eq!(on(&f, mkdir - 1, [0; 6]), OK);
        assert_eq!(on(&f, mkdir + 1, [0; 6]), OK);
    }

    /// What libseccomp's comparison says (unsigned 64-bit).
    fn holds(c: &ArgCheck, arg: u64) -> bool {
        let v = c.value;
        match c.cmp {
            Cmp::Ne => arg != v,
            Cmp::Lt => arg < v,
            Cmp::Le => arg <= v,
            Cmp::Eq => arg == v,
            Cmp::Ge => arg >= v,
            Cmp::Gt => arg > v,
            Cmp::MaskedEq(m) => arg & m == v,
        }
    }

    /// 64-bit values around the edges of both halves.
    fn edges() -> Vec<u64> {
        let mut v = vec![];
        for hi in [0u64, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff] {
            for lo in [0u64, 1, 2, 0x28, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff] {
                v.push(hi << 32 | lo);
            }
        }
        v
    }

    #[test]
    fn each_comparison_on_64_bits() {
        let n = nr(Sysno::personality);
        let vals = edges();
        let mut cmps = vec![Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Eq, Cmp::Ge, Cmp::Gt];
        cmps.extend([0u64, 0xff, 0xffff_ffff, 0xffff_ffff_0000_0000, 0x1_0000_00ff, u64::MAX, 0x7e02_0000].map(Cmp::MaskedEq));
        for (k, cmp) in cmps.into_iter().enumerate() {
            for (j, &v) in vals.iter().enumerate().filter(|(j, _)| j % 3 == k % 3) {
                let index = ((j + k) % 6) as u8;
                let c = check(index, v, cmp);
                let f = compiled(Action::Errno(1), &[rule(n, Action::Allow, &[c])]);
                for &a in &vals {
                    let mut args = [0x5555_5555_5555_5555; 6];
                    args[index as usize] = a;
                    let want = if holds(&c, a) { OK } else { EPERM_RET };
                    assert_eq!(on(&f, n, args), want, "{cmp:?} {v:#x} arg{index}={a:#x}");
                }
            }
        }
    }

    #[test]
    fn masked_eq_as_oci_gives_it() {
        // Docker's clone rule: "value": 2114060288 (the mask), "valueTwo" 0 (the datum).
        let clone = nr(Sysno::clone);
        let f = compiled(Action::Errno(1), &[rule(clone, Action::Allow, &[check(0, 0, Cmp::MaskedEq(0x7e02_0000))])]);
        assert_eq!(on(&f, clone, [0x3d0f00, 0, 0, 0, 0, 0]), OK);
        assert_eq!(on(&f, clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]), OK);
        assert_eq!(on(&f, clone, [libc::CLONE_NEWUSER as u64 | 17, 0, 0, 0, 0, 0]), EPERM_RET);
        assert_eq!(on(&f, clone, [libc::CLONE_NEWNS as u64, 0, 0, 0, 0, 0]), EPERM_RET);
        assert_eq!(on(&f, clone, [1 << 32, 0, 0, 0, 0, 0]), OK); // the mask has no high bits
    }

    #[test]
    fn rules_decide_in_order() {
        let (read, socket) = (nr(Sysno::read), nr(Sysno::socket));
        let rules = [
            // podman's socket rules: AF_NETLINK (16) NETLINK_AUDIT (9) EINVAL, else allowed.
            rule(socket, Action::Errno(22), &[check(0, 16, Cmp::Eq), check(2, 9, Cmp::Eq)]),
            rule(socket, Action::Allow, &[check(2, 9, Cmp::Ne)]),
            rule(socket, Action::Allow, &[check(0, 16, Cmp::Ne)]),
            rule(read, Action::Errno(5), &[check(0, 3, Cmp::Eq)]),
            rule(read, Action::Log, &[check(0, 4, Cmp::Le)]),
            rule(read, Action::Errno(6), &[check(0, 4, Cmp::Le)]),
            rule(read, Action::Allow, &[]),
            // Never reached: the rule before has no checks.
            rule(read, Action::KillProcess, &[]),
        ];
        let f = compiled(Action::Errno(38), &rules);
        let a = |x: u64, z: u64| [x, 1, z, 0, 0, 0];
        assert_eq!(on(&f, socket, a(16, 9)), RET_ERRNO | 22);
        assert_eq!(on(&f, socket, a(16, 0)), OK);
        assert_eq!(on(&f, socket, a(2, 9)), OK);
        assert_eq!(on(&f, socket, a(1 << 32 | 16, 9)), OK); // 64-bit: not 16
        assert_eq!(on(&f, read, a(3, 0)), RET_ERRNO | 5);
        assert_eq!(on(&f, read, a(2, 0)), 0x7ffc_0000);
        assert_eq!(on(&f, read, a(4, 0)), 0x7ffc_0000);
        assert_eq!(on(&f, read, a(5, 0)), OK);
        assert_eq!(on(&f, read + 2, a(5, 0)), RET_ERRNO | 38);
        // All checks of a rule must hold; a rule that fails goes on to the next.
        let f = compiled(Action::Allow, &[
            rule(read, Action::Errno(1), &[check(0, 1, Cmp::Eq), check(1, 2, Cmp::Eq), check(5, 3, Cmp::Ge)]),
            rule(read, Action::Errno(2), &[check(5, 3, Cmp::Ge)]),
        ]);
        assert_eq!(on(&f, read, [1, 2, 0, 0, 0, 3]), RET_ERRNO | 1);
        assert_eq!(on(&f, read, [1, 3, 0, 0, 0, 3]), RET_ERRNO | 2);
        assert_eq!(on(&f, read, [1, 2, 0, 0, 0, 2]), OK);
    }

    #[test]
    fn bad_profiles_are_refused() {
        let mut out = [stmt(RET, 0); MAX_INSNS];
        let bad = |r: OciRule, out: &mut [Insn]| compile(&Profile { default: Action::Allow, rules: &[r] }, out);
        assert_eq!(bad(rule(X32_SYSCALL_BIT, Action::Errno(1), &[]), &mut out), Err(Errno::EINVAL));
        assert_eq!(bad(rule(0, Action::Errno(1), &[check(6, 0, Cmp::Eq)]), &mut out), Err(Errno::EINVAL));
        let mut r = rule(0, Action::Errno(1), &[]);
        r.nchecks = 7;
        assert_eq!(bad(r, &mut out), Err(Errno::EINVAL));
        // Too small a buffer; too long a program.
        assert_eq!(bad(rule(0, Action::Errno(1), &[]), &mut out[..3]), Err(Errno::E2BIG));
        let many: Vec<OciRule> = (0..400).flat_map(|n| (0..3).map(move |v| rule(n, Action::Errno(n as u16), &[check(0, v, Cmp::Eq)]))).collect();
        assert_eq!(compile(&Profile { default: Action::Allow, rules: &many }, &mut out), Err(Errno::E2BIG));
    }

    #[test]
    fn long_jumps_go_through_trampolines() {
        // Many calls, each with checks: the search's jumps reach past 255 instructions.
        let rules: Vec<OciRule> = (0..300u32)
            .flat_map(|n| [rule(n, Action::Errno(n as u16 + 1), &[check(1, n as u64, Cmp::Eq)]), rule(n, Action::Allow, &[check(0, 7, Cmp::Gt)])])
            .collect();
        for d in [Action::Errno(99), Action::Allow] {
            let f = compiled(d, &rules);
            assert!(f.len() > 2000 && f.iter().any(|i| i.code == JA), "{}", f.len());
            for n in 0..310u32 {
                let want = |a: u32| if n >= 300 { ret(d) } else { a };
                assert_eq!(on(&f, n, [0, n as u64, 0, 0, 0, 0]), want(RET_ERRNO | (n + 1)), "{n}");
                assert_eq!(on(&f, n, [8, n as u64 + 1, 0, 0, 0, 0]), want(OK), "{n}");
                assert_eq!(on(&f, n, [7, n as u64 + 1, 0, 0, 0, 0]), ret(d), "{n}");
            }
            assert_eq!(eval(&f, 5, I386, [0; 6]).0, if d == Action::Allow { EPERM_RET } else { ret(d) });
        }
    }

    #[test]
    fn names() {
        for s in Sysno::iter() {
            assert_eq!(number(s.name().as_bytes()), Some(s as u32), "{s:?}");
        }
        for n in ["", "socketcall", "mmap2", "_llseek", "clock_gettime64", "rea", "readx", "read\0", "READ", "stat64", "ugetrlimit"] {
            assert_eq!(number(n.as_bytes()), None, "{n}");
        }
        assert_eq!(number(b"read"), Some(0));
        assert_eq!(number(b"file_setattr"), Some(469));
        assert_eq!(flag(b"SECCOMP_FILTER_FLAG_SPEC_ALLOW"), Some(4));
        assert_eq!(flag(b"SECCOMP_FILTER_FLAG_LOG"), Some(2));
        assert_eq!(flag(b"SECCOMP_FILTER_FLAG_TSYNC"), Some(1));
        assert_eq!(flag(b"LOG"), None);
    }

    /// Docker's default profile (moby's profiles/seccomp/default.json) as config.json holds it
    /// for the default capabilities (so CAP_SYS_CHROOT's rule, not CAP_SYS_ADMIN's), with
    /// podman's NETLINK_AUDIT socket rules: the names of all ABIs, as the profile has them.
    const DOCKER_ALLOWED: &str = "accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown
        chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
        clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
        copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
        epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
        exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
        fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
        fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64
        futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32
        geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
        getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
        get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday
        getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
        io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get
        ioprio_set io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc kill
        landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr
        link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
        madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
        mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
        mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv
        msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open
        openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
        pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
        process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
        readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr
        rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
        rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
        rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
        sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
        sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
        sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
        semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
        setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
        setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
        setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
        setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask
        sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat
        sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
        timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
        timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate
        truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes
        vfork vmsplice wait4 waitid waitpid write writev
        process_vm_readv process_vm_writev ptrace arch_prctl modify_ldt chroot";

    /// The profile's rules for x86_64: each name its own rule, names x86_64 lacks left out.
    fn docker_rules() -> Vec<OciRule> {
        let n = |s: &str| number(s.as_bytes());
        let mut r: Vec<OciRule> = DOCKER_ALLOWED.split_whitespace().filter_map(n).map(|nr| rule(nr, Action::Allow, &[])).collect();
        assert_eq!(r.len(), 295);
        let (socket, personality) = (nr(Sysno::socket), nr(Sysno::personality));
        r.push(rule(socket, Action::Errno(22), &[check(0, 16, Cmp::Eq), check(2, 9, Cmp::Eq)]));
        r.push(rule(socket, Action::Allow, &[check(0, 40, Cmp::Ne), check(2, 9, Cmp::Ne)]));
        r.push(rule(socket, Action::Allow, &[check(0, 16, Cmp::Ne), check(0, 40, Cmp::Ne)]));
        for p in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
            r.push(rule(personality, Action::Allow, &[check(0, p, Cmp::Eq)]));
        }
        r.push(rule(nr(Sysno::clone), Action::Allow, &[check(0, 0, Cmp::MaskedEq(0x7e02_0000))]));
        r.push(rule(nr(Sysno::clone3), Action::Errno(38), &[]));
        r
    }

    #[test]
    fn dockers_default_profile_fits_and_behaves() {
        let rules = docker_rules();
        let f = compiled(Action::Errno(1), &rules);
        let mut longest = 0;
        for n in 0..1024 {
            longest = longest.max(eval(&f, n, X, [0; 6]).1);
        }
        println!("Docker's default profile: {} rules, {} instructions, {longest} steps at most", rules.len(), f.len());
        assert!(f.len() < 200 && longest < 40, "{} instructions, {longest} steps", f.len());
        let allowed = [Sysno::read, Sysno::write, Sysno::getpid, Sysno::execve, Sysno::openat, Sysno::futex, Sysno::chroot, Sysno::ptrace, Sysno::arch_prctl, Sysno::io_uring_setup, Sysno::writev];
        for s in allowed {
            assert_eq!(on(&f, nr(s), [0; 6]), OK, "{s:?}");
        }
        let refused = [Sysno::mount, Sysno::umount2, Sysno::unshare, Sysno::setns, Sysno::pivot_root, Sysno::bpf, Sysno::keyctl, Sysno::reboot, Sysno::init_module, Sysno::kexec_load, Sysno::open_by_handle_at, Sysno::add_key, Sysno::userfaultfd];
        for s in refused {
            assert_eq!(on(&f, nr(s), [0; 6]), EPERM_RET, "{s:?}");
        }
        for n in [400, 1000, 0x3fff_ffff] {
            assert_eq!(on(&f, n, [0; 6]), EPERM_RET);
        }
        assert_eq!(on(&f, nr(Sysno::clone3), [0; 6]), RET_ERRNO | 38);
        let clone = nr(Sysno::clone);
        assert_eq!(on(&f, clone, [0x3d0f00, 0, 0, 0, 0, 0]), OK);
        assert_eq!(on(&f, clone, [libc::CLONE_NEWNS as u64 | 17, 0, 0, 0, 0, 0]), EPERM_RET);
        let (socket, personality) = (nr(Sysno::socket), nr(Sysno::personality));
        assert_eq!(on(&f, socket, [1, 1, 0, 0, 0, 0]), OK);
        assert_eq!(on(&f, socket, [40, 1, 0, 0, 0, 0]), EPERM_RET);
        assert_eq!(on(&f, socket, [16, 3, 9, 0, 0, 0]), RET_ERRNO | 22);
        assert_eq!(on(&f, socket, [16, 3, 0, 0, 0, 0]), OK);
        for p in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
            assert_eq!(on(&f, personality, [p, 0, 0, 0, 0, 0]), OK, "{p:#x}");
        }
        for p in [0x40_0000, 1, 0x1_0000_0000] {
            assert_eq!(on(&f, personality, [p, 0, 0, 0, 0, 0]), EPERM_RET, "{p:#x}");
        }
        assert_eq!(on(&f, X32_SYSCALL_BIT | nr(Sysno::read), [0; 6]), EPERM_RET);
        assert_eq!(eval(&f, 3, I386, [0; 6]).0, EPERM_RET);
        // The same profile allowing by default what it does not name fits too.
        let deny: Vec<OciRule> = rules.iter().map(|r| OciRule { action: if r.action == Action::Allow { Action::Errno(1) } else { r.action }, ..*r }).collect();
        let f = compiled(Action::Allow, &deny);
        assert!(f.len() < 200, "{}", f.len());
        assert_eq!(on(&f, nr(Sysno::read), [0; 6]), EPERM_RET);
        assert_eq!(on(&f, nr(Sysno::mount), [0; 6]), OK);
        assert_eq!(on(&f, X32_SYSCALL_BIT | nr(Sysno::mount), [0; 6]), EPERM_RET);
    }

    // ---- installed on the real kernel, in a forked child ----

    /// A raw x86_64 call of any number (x32's too), its return as the kernel gives it.
    fn raw(nr: u64, a: [u64; 6]) -> i64 {
        let r: i64;
        // SAFETY: the calls made here take integers or a live C string only.
        unsafe {
            core::arch::asm!("syscall", inlateout("rax") nr as i64 => r, in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
                in("r10") a[3], in("r8") a[4], in("r9") a[5], lateout("rcx") _, lateout("r11") _, options(nostack))
        };
        r
    }

    /// A call through i386's int 0x80 (the kernel's 32-bit entry, AUDIT_ARCH_I386).
    fn raw_i386(nr: u32) -> i32 {
        let r: i32;
        // SAFETY: getpid takes nothing.
        unsafe { core::arch::asm!("int 0x80", inlateout("eax") nr => r, options(nostack)) };
        r
    }

    #[derive(Clone, Copy, Debug)]
    enum Want {
        Ok,
        Err(Errno),
        I386Err(Errno),
    }

    /// Fork; the child installs `f` with `flags` (after no_new_privs, and without core dumps)
    /// and makes the calls, then exits 0, or with the number of the first call (from 1) whose
    /// answer was not the one wanted. Returns the child's wait status.
    fn in_child(f: &[Insn], flags: u32, calls: &[(u64, [u64; 6], Want)]) -> i32 {
        // SAFETY: the child makes raw calls only (nothing that allocates or locks) and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: a live rlimit.
            unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
            let mut code = 100;
            if sys::prctl4(libc::PR_SET_NO_NEW_PRIVS, 1, 0).is_ok() && install(f, flags).is_ok() {
                code = 0;
                for (i, &(nr, args, want)) in calls.iter().enumerate() {
                    let ok = match want {
                        Want::Ok => raw(nr, args) >= 0,
                        Want::Err(e) => raw(nr, args) == -(e.into_raw() as i64),
                        Want::I386Err(e) => raw_i386(nr as u32) == -e.into_raw(),
                    };
                    if !ok {
                        code = i as u64 + 1;
                        break;
                    }
                }
            }
            raw(nr(Sysno::exit_group) as u64, [code, 0, 0, 0, 0, 0]);
            unreachable!();
        }
        let mut status = 0;
        // SAFETY: status is a live int.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        status
    }

    fn sys_(s: Sysno) -> u64 {
        s as u64
    }

    #[test]
    fn installed_allowlist_on_the_real_kernel() {
        let (socket, personality, umask) = (nr(Sysno::socket), nr(Sysno::personality), nr(Sysno::umask));
        let mut rules = vec![];
        for s in [Sysno::exit_group, Sysno::getpid, Sysno::close] {
            rules.push(rule(nr(s), Action::Allow, &[]));
        }
        rules.extend([
            rule(nr(Sysno::mkdir), Action::Errno(38), &[]),
            rule(socket, Action::Allow, &[check(0, 40, Cmp::Ne)]),
            rule(personality, Action::Allow, &[check(0, 0xffff_ffff, Cmp::Eq)]),
            rule(umask, Action::Allow, &[check(0, 0, Cmp::MaskedEq(0o700))]),
            rule(nr(Sysno::getppid), Action::Log, &[]),
            rule(nr(Sysno::gettid), Action::Trace(3), &[]),
        ]);
        let f = compiled(Action::Errno(1), &rules);
        let path = c"/nonexistent-seccomp-test/d".as_ptr() as u64;
        let a = |x: u64, y: u64| [x, y, 0, 0, 0, 0];
        let eperm = Want::Err(Errno::EPERM);
        let calls = [
            (sys_(Sysno::getpid), a(0, 0), Want::Ok),
            (sys_(Sysno::mkdir), a(path, 0o700), Want::Err(Errno::ENOSYS)),
            (sys_(Sysno::personality), a(0xffff_ffff, 0), Want::Ok),
            // The kernel reads an int: 0xffffffff again, but the filter compares 64 bits.
            (sys_(Sysno::personality), a(0x1_ffff_ffff, 0), eperm),
            (sys_(Sysno::personality), a(0x40_0000, 0), eperm),
            (sys_(Sysno::socket), a(libc::AF_UNIX as u64, libc::SOCK_STREAM as u64), Want::Ok),
            (sys_(Sysno::socket), a(40, libc::SOCK_STREAM as u64), eperm),
            (sys_(Sysno::umask), a(0o022, 0), Want::Ok),
            (sys_(Sysno::umask), a(0o700, 0), eperm),
            (sys_(Sysno::getppid), a(0, 0), Want::Ok),
            // TRACE without a tracer: ENOSYS.
            (sys_(Sysno::gettid), a(0, 0), Want::Err(Errno::ENOSYS)),
            (sys_(Sysno::uname), a(0, 0), eperm),
            (X32_SYSCALL_BIT as u64 | sys_(Sysno::getpid), a(0, 0), eperm),
            (20, a(0, 0), Want::I386Err(Errno::EPERM)),
        ];
        let flags = flag(b"SECCOMP_FILTER_FLAG_SPEC_ALLOW").unwrap() | flag(b"SECCOMP_FILTER_FLAG_LOG").unwrap();
        let status = in_child(&f, flags, &calls);
        assert!(libc::WIFEXITED(status), "{status:#x}");
        let code = libc::WEXITSTATUS(status) as usize;
        assert!(code == 0, "call {code} answered otherwise than {:?}", calls.get(code.wrapping_sub(1)));
    }

    #[test]
    fn installed_denylist_on_the_real_kernel() {
        let f = compiled(Action::Allow, &[rule(nr(Sysno::mkdir), Action::Errno(38), &[]), rule(nr(Sysno::getppid), Action::KillProcess, &[])]);
        let path = c"/nonexistent-seccomp-test/d".as_ptr() as u64;
        let calls = [
            (sys_(Sysno::getpid), [0; 6], Want::Ok),
            (sys_(Sysno::mkdir), [path, 0o700, 0, 0, 0, 0], Want::Err(Errno::ENOSYS)),
            // The kernel's answers would be ENOSYS (x32 off) and the pid: the filter's EPERM.
            (X32_SYSCALL_BIT as u64 | sys_(Sysno::getpid), [0; 6], Want::Err(Errno::EPERM)),
            (20, [0; 6], Want::I386Err(Errno::EPERM)),
            (sys_(Sysno::getppid), [0; 6], Want::Ok),
        ];
        let status = in_child(&f, 0, &calls);
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS, "{status:#x}: exit {}", libc::WEXITSTATUS(status));
    }
}
