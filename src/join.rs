//! --join NAME COMMAND: run COMMAND in the running sandbox NAME, confined as its own command.
//!
//! The sandbox is found by its record (record.rs) and entered through a pidfd of its PID 1,
//! opened and then checked against the recorded start time, so it can only be that process:
//! one setns(2) joins its mount, PID, UTS, IPC, cgroup and network namespaces (and, rootless,
//! its user namespace). Joining the mount namespace puts this process's root and working
//! directory at the sandbox's root: no path of the host is looked up after it. The command's
//! process is forked then, so it is born in the sandbox's PID namespace (and, with limits, in
//! its cgroup), leads a session of its own, and gets the command's capability sets,
//! no_new_privs, seccomp filter and environment, and no fd of the host but stdio.
//!
//! This process stays outside the sandbox's PID namespace (nothing inside sees it) and relays:
//! from a terminal the command gets a new terminal of the sandbox's devpts, opened through its
//! /dev/pts/ptmx, relayed like the main command's; signals are passed on; the command's status
//! is returned. When the sandbox ends its PID 1 takes every process of its namespace with it,
//! the joined command too; a joined command keeps nothing alive, its orphans go to PID 1.

use crate::caps;
use crate::cli::{self, Named};
use crate::cgroup;
use crate::error::{Error, Step, EXIT_SANDBOX};
use crate::exec::{self, Envp};
use crate::init;
use crate::launch::Watch;
use crate::manage;
use crate::out::Buf;
use crate::pty;
use crate::record;
use crate::report::{self, Msg};
use crate::sys::{self, Args, Env, Errno, Fd, SigSet};
use core::ffi::CStr;

fn key(entry: &[u8]) -> &[u8] {
    &entry[..entry.iter().position(|&b| b == b'=').unwrap_or(entry.len())]
}

/// Set `e` in `envp`, replacing an entry of the same key.
fn set(envp: &mut Envp, e: &'static CStr) {
    let k = key(e.to_bytes());
    match (0..envp.len()).find(|&i| key(envp.get(i).to_bytes()) == k) {
        Some(i) => envp.set(i, e),
        None => {
            envp.push(e);
        }
    }
}

/// The cgroup of PID 1 (`pid`), as the kernel names it in /proc/PID/cgroup (`0::/path`),
/// opened under /sys/fs/cgroup: the sandbox's own, where its limits apply.
#[inline(never)]
fn cgroup_of(pid: i32) -> Result<Fd, Errno> {
    let mut p = Buf::<32>::new();
    p.push(b"/proc/").push_u64(pid as u64).push(b"/cgroup");
    let mut b = [0u8; 4096];
    let n = sys::read_file(p.c(), &mut b)?;
    let line = b[..n].split(|&c| c == b'\n').find(|l| l.starts_with(b"0::/")).ok_or(Errno::ENOENT)?;
    let mut path = Buf::<{ crate::state::PATH_MAX }>::new();
    path.push(cgroup::ROOT).push(&line[3..]);
    if path.overflowed() {
        return Err(Errno::ENAMETOOLONG);
    }
    sys::openat(sys::AT_FDCWD, path.c(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
}

/// The sandbox's terminal for the joined command: a new one of its devpts, through its
/// /dev/pts/ptmx (this process is in its mount namespace now); not through a symlink, and a
/// ptmx it must be (TIOCGPTN answers only on one).
fn sandbox_pty() -> Result<(Fd, Fd), Errno> {
    // RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
    let m = sys::openat2(sys::AT_FDCWD, c"/dev/pts/ptmx", libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC, 0x04 | 0x02)?;
    match pty::peer(m) {
        Ok(s) => Ok((m, s)),
        Err(e) => {
            sys::close(m);
            Err(e)
        }
    }
}

#[inline(never)]
/// Rootless: PID 1's namespaces, held for joiners by the outer process (launch.rs), through
/// /proc/OUTER/fd/N: the outer process checked by its start time before and after, each fd
/// checked to be a namespace of the kind recorded; the user namespace first.
fn enter_held(r: &record::Record) -> Result<(), Errno> {
    let outer = record::pidfd_if(r.outer, r.outer_start).ok_or(Errno::ESRCH)?;
    sys::close(outer);
    let mut fds = [Fd(-1); 7];
    let mut got = Ok(());
    for (i, (_, kind)) in record::NAMESPACES.iter().enumerate() {
        if *kind == libc::CLONE_NEWNET && !r.netns {
            continue;
        }
        let Some(n) = r.num(record::NS_KEYS[i]) else {
            got = Err(Errno::ESRCH);
            break;
        };
        let mut p = Buf::<48>::new();
        p.push(b"/proc/").push_u64(r.outer as u64).push(b"/fd/").push_u64(n);
        // NS_GET_NSTYPE
        match sys::openat(sys::AT_FDCWD, p.c(), libc::O_RDONLY | libc::O_CLOEXEC, 0) {
            Ok(fd) => {
                fds[i] = fd;
                if sys::ioctl_int(fd, 0xb703, 0) != Ok(*kind) {
                    got = Err(Errno::EPERM);
                    break;
                }
            }
            Err(e) => {
                got = Err(if e == Errno::ENOENT { Errno::ESRCH } else { e });
                break;
            }
        }
    }
    if got.is_ok() && record::start_time(r.outer) != Some(r.outer_start) {
        got = Err(Errno::ESRCH);
    }
    for (i, fd) in fds.iter().enumerate() {
        if got.is_ok() && fd.0 >= 0 {
            got = sys::setns(*fd, record::NAMESPACES[i].1);
        }
        sys::close(*fd);
    }
    got
}

pub fn run(n: &Named, args: Args, env: Env) -> i32 {
    // The record stays readable until the command's execve: its environment points into it.
    static RECORD: sys::Once<{ record::MAX }> = sys::Once::new();
    let Some(buf) = RECORD.take() else { return EXIT_SANDBOX };
    let name = n.name.to_bytes();
    let Ok((r, pid1)) = manage::find_running(n, &env, buf) else { return EXIT_SANDBOX };
    let fail = |step: Step, e: Errno| {
        Error::new(step, name, e).print();
        EXIT_SANDBOX
    };
    let cg = if r.cgroup {
        match cgroup_of(r.pid) {
            Ok(fd) => Some(fd),
            Err(e) => return fail(Step::Cgroup, e),
        }
    } else {
        None
    };
    // Nothing in the sandbox may trace this process or its child, or open their /proc files
    // (their exe is the host's binary, their fds the host's), before the command's execve.
    let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
    let mut envp = Envp::new();
    for e in r.values(b"env=") {
        envp.push(e);
    }
    if let Some(t) = env.entry(b"TERM") {
        set(&mut envp, t);
    }
    for e in cli::envs(&args) {
        set(&mut envp, e);
    }
    let mut caller = pty::Caller::find();
    let mask = sys::sigprocmask(libc::SIG_BLOCK, init::ALL).unwrap_or(SigSet(0));
    let ns = (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWCGROUP)
        | if r.netns { libc::CLONE_NEWNET } else { 0 }
        | if r.rootless { libc::CLONE_NEWUSER } else { 0 };
    let entered = if r.rootless { enter_held(&r) } else { sys::setns(pid1, ns) };
    sys::close(pid1);
    if let Err(e) = entered {
        return fail(Step::Join, e);
    }
    let (master, slave) = if caller.present() {
        match sandbox_pty() {
            Ok(p) => p,
            Err(e) => return fail(Step::Terminal, e),
        }
    } else {
        (Fd(-1), Fd(-1))
    };
    let (ours, theirs) = match report::channel() {
        Ok(p) => p,
        Err(e) => return fail(Step::Fork, e),
    };
    let (job, job_theirs) = match report::channel() {
        Ok(p) => p,
        Err(e) => return fail(Step::Fork, e),
    };
    let me = match sys::pidfd_open(sys::getpid()) {
        Ok(fd) => fd,
        Err(e) => return fail(Step::Fork, e),
    };
    let sigfd = match sys::signalfd(init::ALL) {
        Ok(fd) => fd,
        Err(e) => return fail(Step::Fork, e),
    };
    let forked = match cg {
        Some(cg) => sys::clone3_into(0, libc::SIGCHLD as u64, cg),
        None => sys::clone(libc::SIGCHLD as u64),
    };
    let ch = Channels { report: theirs, job: job_theirs, me, slave, tty_fds: caller.fds };
    let child = match forked {
        Ok(0) => leader(n, &args, &mut envp, r.caps, ch, mask),
        Ok(pid) => pid,
        // ENOMEM: the PID namespace is past its end (its PID 1 has exited).
        Err(e) => return fail(Step::Join, if e == Errno::ENOMEM { Errno::ESRCH } else { e }),
    };
    sys::close(theirs);
    sys::close(job_theirs);
    sys::close(slave);
    sys::close(me);
    let status = relay(child, sigfd, job, master, &mut caller);
    let mut rb = [0u8; report::MAX];
    while let Some(m) = report::recv(ours, &mut rb) {
        if let Msg::Failed(e) = m {
            e.print();
            break;
        }
    }
    caller.restore();
    init::status(status)
}

/// The joiner's ends for the processes in the sandbox.
struct Channels {
    report: Fd,
    /// Where the session's leader tells of the command's stops (launch.rs's Watch).
    job: Fd,
    /// A pidfd of the joining process: the processes in the sandbox die with it.
    me: Fd,
    /// The sandbox's terminal, for each of fds 0, 1, 2 in `tty_fds` (a bit each).
    slave: Fd,
    tty_fds: u8,
}

/// The leader of the joined command's session, in the sandbox's PID namespace, confined as the
/// command: it makes the sandbox's terminal its controlling terminal, starts the command in a
/// process group of its own (a group whose parent is in its session: not orphaned, so Ctrl-Z
/// stops it) and serves it as PID 1 serves the main command: signals passed on, stops told
/// to the joining process, the command's status returned. Never returns.
fn leader(n: &Named, args: &Args, envp: &mut Envp, caps: u64, ch: Channels, mask: SigSet) -> ! {
    let sock = ch.report;
    let fail = |e: Error| -> ! {
        report::send_error(sock, &e);
        sys::exit(EXIT_SANDBOX)
    };
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64);
    if sys::poll_now(ch.me, libc::POLLIN) != Ok(0) {
        sys::exit(EXIT_SANDBOX);
    }
    // A session of its own: no process group or terminal shared with the host.
    let _ = sys::setsid();
    if ch.slave.0 >= 0 {
        if let Err(e) = sys::ioctl_int(ch.slave, libc::TIOCSCTTY as u64, 0) {
            fail(Error::new(Step::Terminal, b"/dev/pts", e));
        }
    }
    // The command's confinement, in the order its own process takes it (launch.rs): bounding
    // set, the sets, no_new_privs and the seccomp filter; with --user, the command's process
    // switches last, as the main command's does (exec.rs). This process takes it too: it lives
    // in the sandbox beside it.
    let confined = caps::bound(caps).and_then(|()| caps::limit(caps)).and_then(caps::confine);
    if let Err(e) = confined {
        fail(Error::new(Step::Privileges, b"", e));
    }
    // Nothing of the host's but stdio from here on.
    sys::close_all_but(&mut [Fd(0), Fd(1), Fd(2), sock, ch.job, ch.slave]);
    let (env_ptr, path) = (envp.as_ptr(), exec::path_of(envp));
    let command = init::Command { own_group: true, take_tty: false, mask, umask: None, exec: &|| {
        let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64);
        if ch.slave.0 >= 0 {
            let taken = (0..3).filter(|fd| ch.tty_fds & (1 << fd) != 0).try_for_each(|fd| sys::dup3(ch.slave, Fd(fd)));
            if let Err(e) = taken {
                fail(Error::new(Step::Terminal, b"/dev/pts", e));
            }
        }
        if let Err(e) = exec::enter_cwd(n.cwd) {
            fail(e);
        }
        if let Err(e) = caps::fence(caps) {
            fail(Error::new(Step::Privileges, b"landlock", e));
        }
        sys::close_all_but(&mut [Fd(0), Fd(1), Fd(2), sock]);
        exec::exec(Step::Exec, *args, n.command, env_ptr, path, sock)
    } };
    let pid = init::start(&command).unwrap_or_else(|e| fail(Error::new(Step::Fork, b"", e)));
    if ch.slave.0 >= 0 {
        let _ = pty::give(ch.slave, pid);
    }
    sys::close(sock);
    sys::exit(init::serve(pid, init::Job { tty: false, stops: false, outer: ch.job, pty: ch.slave }))
}

/// Until the session's leader ends: the sandbox's terminal relayed to the caller's, signals
/// passed on, the job stopped and continued with the command. Returns its wait status.
fn relay(child: i32, sigfd: Fd, job: Fd, master: Fd, caller: &mut pty::Caller) -> i32 {
    let mut w = Watch::new(job, master, caller, true);
    if master.0 >= 0 {
        sys::set_nonblocking(master, true);
        w.go_on();
    }
    let status = loop {
        let Some((sig, code)) = w.next(sigfd) else { continue };
        if let Some(st) = w.on_signal(child, sig, code) {
            break st;
        }
    };
    w.drain_now();
    status
}
