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

use crate::caps::bit;
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

// The OCI profile (config.json's linux.seccomp), compiled at run time by `compile`.

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
/// `arg & mask == value`. Comparisons are on the 64-bit argument.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps;

    /// A tiny interpreter of the instructions used, to check the program's answers. Also returns
    /// the steps taken.
    fn run_steps(f: &[Insn], nr: u32, arch: u32, a0: u32, a1: u32) -> (u32, usize) {
        let (mut pc, mut acc, mut steps) = (0, 0u32, 0);
        loop {
            let i = f[pc];
            steps += 1;
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
                c if c == RET => return (i.k, steps),
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
        v.extend((0..caps::NAMES.len()).map(|c| caps::DEFAULT | 1 << c));
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
}
