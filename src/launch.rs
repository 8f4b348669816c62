//! Step 3, on the host: start the sandbox and watch it. clone(2) into new mount, PID, UTS, IPC
//! and cgroup namespaces (and a user namespace when not root; the network namespace is made at
//! the same time by another process: network.rs); the child builds the root and becomes PID 1
//! (`inner`). The outer process reads the child's report until end-of-file (a
//! failure, or the command running), passes signals on to PID 1, waits for it, gives the
//! terminal back, and removes the layer.

use crate::caps;
use crate::cgroup;
use crate::cli::Config;
use crate::error::{Error, Step, EXIT_SANDBOX};
use crate::exec::{self, Envp};
use crate::init;
use crate::network::{self, Network};
use crate::out::Buf;
use crate::report::{self, Msg};
use crate::root;
use crate::state::{self, Layer, Sources, PATH_MAX};
use crate::sys::{self, Args, Env, Errno, Fd, SigSet, AT_FDCWD};
use crate::timings::Timings;
use crate::tty::Tty;

const NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP) as u64;

/// Everything the child needs, fixed before clone.
pub struct Sandbox<'a> {
    pub cfg: &'a Config,
    pub args: Args,
    pub env: Env,
    pub layer: Layer<'a>,
    pub src: Sources,
    /// Not root: a user namespace mapping (uid, gid) to root inside.
    pub userns: Option<(u32, u32)>,
    /// With limits: the sandbox's cgroup, where PID 1 is born.
    pub cgroup: Option<Fd>,
    pub take_tty: bool,
    /// The outer process can stop with the job (it is not the PID 1 of a machine).
    pub outer_stops: bool,
    pub mask: SigSet,
    pub timings: bool,
}

pub fn run(cfg: &Config, args: Args, env: Env, t: &mut Timings) -> i32 {
    let src = match state::check_sources(cfg) {
        Ok(s) => s,
        Err(e) => {
            e.print();
            return EXIT_SANDBOX;
        }
    };
    let uid = sys::geteuid();
    let mut path = Buf::<PATH_MAX>::new();
    let layer = match state::prepare(cfg, &env, uid, &mut path) {
        Ok(l) => l,
        Err(e) => {
            e.print();
            return EXIT_SANDBOX;
        }
    };
    let mut cgpath = Buf::<PATH_MAX>::new();
    let cgroup = if cfg.limits.any() {
        match cgroup::create(cfg, &env, &mut cgpath) {
            Ok(c) => Some(c),
            Err(e) => {
                e.print();
                if layer.fresh {
                    let _ = layer.abandon();
                }
                return EXIT_SANDBOX;
            }
        }
    } else {
        None
    };
    let userns = if uid == 0 { None } else { Some((uid, sys::getegid())) };
    let cgroup_fd = cgroup.as_ref().map(|c| c.fd);
    let mut sb = Sandbox { cfg, args, env, layer, src, userns, cgroup: cgroup_fd, take_tty: false, outer_stops: sys::getpid() != 1, mask: SigSet(0), timings: t.on };
    let (status, ran) = supervise(&mut sb, t);
    if let Some(c) = cgroup {
        c.remove();
    }
    // A run whose command never started (rejected, or not executable) leaves nothing behind and
    // loses no layer that existed before it; a run that ran keeps its layer only with --keep.
    let discard = if ran { !cfg.keep } else { sb.layer.fresh };
    if discard {
        let r = if ran { sb.layer.discard() } else { sb.layer.abandon() };
        if let Err(e) = r {
            Error::new(Step::Cleanup, sb.layer.path, e).print();
        }
    }
    t.mark(b"cleanup");
    status
}

/// Returns the exit status, and whether the command started (its execve succeeded).
fn supervise(sb: &mut Sandbox, t: &mut Timings) -> (i32, bool) {
    let (theirs, ours) = match report::channel() {
        Ok(p) => p,
        Err(e) => {
            Error::new(Step::Namespaces, b"", e).print();
            return (EXIT_SANDBOX, false);
        }
    };
    let mut tty = Tty::claim();
    sb.take_tty = tty.take;
    // With the terminal, a stop of the job (Ctrl-Z) comes here as SIGTSTP, to be taken in hand.
    let job_stops = tty.take && sb.outer_stops;
    let tstp = SigSet::of(&[libc::SIGTSTP]);
    let block = if job_stops { SigSet(init::BLOCK.0 | tstp.0) } else { init::BLOCK };
    let wait = if job_stops { SigSet(init::WAIT.0 | tstp.0) } else { init::WAIT };
    sb.mask = sys::sigprocmask(libc::SIG_BLOCK, block).unwrap_or(SigSet(0));
    let mask = sb.mask;
    let refused = |e: Errno| {
        Error::new(Step::Namespaces, b"", e).print();
        let _ = sys::sigprocmask(libc::SIG_SETMASK, mask);
        (EXIT_SANDBOX, false)
    };
    // The network namespace is not made by clone: making one is the dearest step of all, so it
    // is made at the same time as the root (see network.rs).
    let net = match sb.cfg.netns.then(|| Network::new(sb.userns.is_none())).transpose() {
        Ok(n) => n,
        Err(e) => return refused(e),
    };
    let mut helper = None;
    if let (Some(n), None) = (&net, sb.userns) {
        match network::start_helper(n) {
            Ok(h) => helper = Some(h),
            Err(e) => return refused(e),
        }
    }
    let maker = helper.map_or(Fd(-1), |h| h.1);
    let mut flags = NAMESPACES | libc::SIGCHLD as u64;
    if sb.userns.is_some() {
        flags |= libc::CLONE_NEWUSER as u64;
    }
    let cloned = match sb.cgroup {
        Some(cg) => sys::clone3_into(flags & !0xff, libc::SIGCHLD as u64, cg),
        None => sys::clone(flags),
    };
    let pid = match cloned {
        Ok(0) => inner(sb, theirs, ours, net.as_ref(), maker),
        Ok(pid) => pid,
        Err(e) => {
            if let Some(n) = &net {
                n.close();
            }
            if let Some((h, fd)) = helper {
                let _ = sys::wait4(h, 0);
                sys::close(fd);
            }
            return refused(e);
        }
    };
    // PID 1 has them now.
    if let Some(n) = &net {
        n.close();
        if helper.is_none() {
            n.close_maker_ends();
        }
    }
    sys::close(maker);
    t.mark(b"clone");
    sys::close(theirs);
    // The report: failures, and with --timings the moment the root was ready; end-of-file when
    // the command's execve succeeded. Read at once only to time that moment: otherwise after the
    // end (the messages wait in the socket), so that no wake-up competes with the command's start.
    let mut buf = [0u8; report::MAX];
    // Only the first failure is told: PID 1 and the command's process work at once, and the
    // second may be a consequence of the first.
    let mut read_report = |t: &mut Timings| -> bool {
        let mut ran = true;
        while let Some(m) = report::recv(ours, &mut buf) {
            match m {
                Msg::RootReady(ns) => t.mark_at(b"root", ns),
                Msg::Failed(e) => {
                    if ran {
                        e.print();
                    }
                    ran = false;
                }
            }
        }
        ran
    };
    let mut ran = true;
    if t.on {
        ran = read_report(t);
        if ran {
            t.mark(b"exec");
        }
    }
    let w = loop {
        match sys::sigwait_info(wait) {
            Ok((libc::SIGTSTP, _)) => tty.stop_job(tstp, pid),
            Ok((libc::SIGCHLD, _)) => {
                if let Some((h, _)) = helper {
                    if sys::wait4(h, libc::WNOHANG).is_ok_and(|(p, _)| p == h) {
                        helper = None;
                    }
                }
                match sys::wait4(pid, libc::WNOHANG) {
                    Ok((p, w)) if p == pid => break w,
                    Err(e) if e != Errno::EINTR => break EXIT_SANDBOX << 8,
                    _ => {}
                }
            }
            // Without the terminal, the command is in our process group: what the terminal sent
            // (Ctrl-C) it has received already.
            Ok((sig, code)) if sb.take_tty || code != init::SI_KERNEL => {
                let _ = sys::kill(pid, sig);
            }
            _ => {}
        }
    };
    // The helper ends once PID 1 and the command's process have joined its namespace, or died.
    if let Some((h, _)) = helper {
        let _ = sys::wait4(h, 0);
    }
    if !t.on {
        ran = read_report(t);
    }
    sys::close(ours);
    t.mark(b"exit");
    tty.restore();
    (init::status(w), ran)
}

/// Map the caller's uid and gid to root in the new user namespace. The child writes its own maps,
/// which an unprivileged process may do for exactly its own ids (after denying setgroups).
fn map_ids(uid: u32, gid: u32) -> Result<(), Errno> {
    sys::write_file(AT_FDCWD, c"/proc/self/setgroups", b"deny")?;
    let mut m = Buf::<32>::new();
    m.push(b"0 ").push_u64(uid as u64).push(b" 1");
    sys::write_file(AT_FDCWD, c"/proc/self/uid_map", m.bytes())?;
    m.clear();
    m.push(b"0 ").push_u64(gid as u64).push(b" 1");
    sys::write_file(AT_FDCWD, c"/proc/self/gid_map", m.bytes())
}

/// The child: PID 1 of the new namespaces. Never returns.
fn inner(sb: &Sandbox, sock: Fd, parents: Fd, net: Option<&Network>, maker: Fd) -> ! {
    // Die with the outer process, even by SIGKILL. If it died before this line, the socket's
    // other end is already closed: stop here.
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64);
    sys::close(parents);
    // Nothing of the caller's but stdio goes in: an fd of a host directory handed to the
    // sandbox (`7</`) would be a way out. Every other inherited fd is closed here, in PID 1;
    // the locked layer directory is kept for root.rs, which closes it.
    let rootless = sb.userns.is_some();
    let [a, b, c, d] = net.map_or([Fd(-1); 4], |n| n.fds(rootless));
    sys::close_all_but(&mut [Fd(0), Fd(1), Fd(2), sock, maker, a, b, c, d, sb.layer.dir]);
    if sys::poll_now(sock, libc::POLLRDHUP).map_or(true, |r| r & (libc::POLLHUP | libc::POLLRDHUP) != 0) {
        sys::exit(EXIT_SANDBOX);
    }
    let fail = |e: Error| -> ! {
        report::send_error(sock, &e);
        sys::exit(EXIT_SANDBOX)
    };
    if let Some((uid, gid)) = sb.userns {
        if let Err(e) = map_ids(uid, gid) {
            fail(Error::new(Step::Namespaces, b"/proc/self/uid_map", e));
        }
    }
    // Born in its cgroup but in the caller's cgroup namespace: one of its own, rooted here.
    if sb.cgroup.is_some() {
        if let Err(e) = sys::unshare(libc::CLONE_NEWCGROUP) {
            fail(Error::new(Step::Cgroup, b"namespace", e));
        }
    }
    let umask = sys::umask(0);
    // The command's process is started first. While PID 1 builds the root, it detaches the old
    // root once PID 1 has pivoted (as root without binds: root.rs), joins the network namespace
    // (or, not root, makes it: network.rs) and drops its privileges; then it waits on `go`. Two
    // CPUs do the two halves at once. It shares PID 1's memory until it execs; what it reads
    // lives in this frame, which never returns. Its root follows PID 1's pivot_root; it goes to
    // the sandbox's working directory after `go`, and has no fd of the host. A failure of the
    // network namespace is told by PID 1, which learns of it too.
    let (go, ready) = sys::pipe(libc::O_CLOEXEC).unwrap_or_else(|e| fail(Error::new(Step::Fork, b"", e)));
    let cfg = sb.cfg;
    let early_detach = root::detached_by_command(sb);
    let command = init::Command { take_tty: sb.take_tty, mask: sb.mask, umask: Some(umask), exec: || {
        sys::close(ready);
        // The bounding set first, while the network namespace may still be in the making.
        if let Err(e) = caps::bound(cfg.caps) {
            fail(Error::new(Step::Privileges, b"", e));
        }
        // One byte "p": PID 1 has pivoted. The old root is detached then, with CAP_SYS_ADMIN
        // still, while the network namespace is in the making.
        if early_detach {
            if sys::read(go, &mut [0u8]) != Ok(1) {
                sys::exit(EXIT_SANDBOX);
            }
            if let Err(e) = root::detach_old_root_here() {
                fail(e);
            }
        }
        if let Some(n) = net {
            let made = if rootless { n.make(1).is_ok() } else { n.join(maker).is_ok() };
            if !made {
                sys::exit(EXIT_SANDBOX);
            }
        }
        if let Err(e) = root::hostname(sb) {
            fail(e);
        }
        if let Err(e) = caps::limit(cfg.caps).and_then(|()| caps::confine()) {
            fail(Error::new(Step::Privileges, b"", e));
        }
        let mut envp = Envp::new();
        exec::sandbox_env(&sb.args, &sb.env, &mut envp);
        // One byte: the root is ready. End-of-file: PID 1 failed and is reporting it.
        if sys::read(go, &mut [0u8]) != Ok(1) {
            sys::exit(EXIT_SANDBOX);
        }
        let cwd = cfg.cwd.unwrap_or(c"/");
        if let Err(e) = sys::chdir(cwd) {
            fail(Error::new(Step::Cwd, cwd.to_bytes(), e));
        }
        exec::exec(Step::Exec, sb.args, cfg.command, envp.as_ptr(), exec::path_of(&envp), sock)
    } };
    let pid = init::start(&command).unwrap_or_else(|e| fail(Error::new(Step::Fork, b"", e)));
    sys::close(go);
    // Not root: the command's process is the maker of the network namespace.
    let maker = match net {
        Some(n) if rootless => {
            n.close_maker_ends();
            sys::pidfd_open(pid).unwrap_or_else(|e| fail(Error::new(Step::Namespaces, b"", e)))
        }
        _ => maker,
    };
    let host = root::enter(sb).unwrap_or_else(|e| fail(e));
    if early_detach {
        let _ = sys::write(ready, b"p");
    }
    // On failure PID 1 exits, which kills the waiting command's process with the namespace.
    let join = || net.map_or(Ok(()), |n| n.join(maker));
    if let Err(e) = root::finish(sb, &host, join) {
        fail(e);
    }
    sys::close(maker);
    if sb.timings {
        report::send_root_ready(sock, sys::now_ns());
    }
    // PID 1 is not dumpable: the command, root or not, cannot trace it or read its memory. Set
    // only now: joining the command's network namespace by pidfd needs to be allowed to trace it,
    // which a process that shares a non-dumpable memory cannot be (the command's process shares
    // ours until it execs, and runs nothing of the user's before `go`).
    let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
    let _ = sys::write(ready, b"g");
    sys::close(ready);
    sys::close(sock);
    sys::exit(init::serve(pid, init::Job { tty: sb.take_tty, stops: sb.take_tty && sb.outer_stops, hand_back: false }))
}
