//! Step 3, on the host: start the sandbox and watch it. clone(2) into new mount, PID, UTS, IPC
//! and cgroup namespaces (and a user namespace when not root; the network namespace is made at
//! the same time by another process: network.rs); the child builds the root and becomes PID 1
//! (`inner`). The outer process reads the child's report until end-of-file (a
//! failure, or the command running), passes every signal on to PID 1, relays the sandbox's own
//! terminal to the caller's and stops and continues with the job (pty.rs), waits for PID 1,
//! gives the caller's terminal its modes back, and removes the layer.

use crate::caps;
use crate::cgroup;
use crate::cli::Config;
use crate::error::{Error, Step, EXIT_SANDBOX};
use crate::exec::{self, Envp};
use crate::init;
use crate::network::{self, Network};
use crate::out::Buf;
use crate::pty;
use crate::record;
use crate::report::{self, Msg};
use crate::root;
use crate::state::{self, Layer, Sources, PATH_MAX};
use crate::sys::{self, Args, Env, Errno, Fd, SigSet, AT_FDCWD};
use crate::timings::Timings;

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
    /// Which of fds 0, 1 and 2 are the caller's terminal (a bit each): the command gets the
    /// sandbox's own terminal there. None: no terminal is made.
    pub tty_fds: u8,
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
    let mut sb = Sandbox { cfg, args, env, layer, src, userns, cgroup: cgroup_fd, tty_fds: 0, outer_stops: sys::getpid() != 1, mask: SigSet(0), timings: t.on };
    let (status, ran) = supervise(&mut sb, t);
    record::remove(sb.layer.dir);
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
#[inline(never)]
fn supervise(sb: &mut Sandbox, t: &mut Timings) -> (i32, bool) {
    let (theirs, ours) = match report::channel() {
        Ok(p) => p,
        Err(e) => {
            Error::new(Step::Fork, b"", e).print();
            return (EXIT_SANDBOX, false);
        }
    };
    let mut caller = pty::Caller::find();
    sb.tty_fds = caller.fds;
    // Every signal is waited for and passed on (init.rs); none may end this process first.
    sb.mask = sys::sigprocmask(libc::SIG_BLOCK, init::ALL).unwrap_or(SigSet(0));
    let mask = sb.mask;
    let refused = |e: Errno| {
        Error::new(Step::Namespaces, b"", e).print();
        let _ = sys::sigprocmask(libc::SIG_SETMASK, mask);
        (EXIT_SANDBOX, false)
    };
    // PID 1 tells of the command's stops on `job`, and hears there when to go on. It checks
    // that this process is alive through `me` once it is sure to die with it.
    let (job, job_theirs) = match report::channel() {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    let me = match sys::pidfd_open(sys::getpid()) {
        Ok(fd) => fd,
        Err(e) => return refused(e),
    };
    let sigfd = match sys::signalfd(init::ALL) {
        Ok(fd) => fd,
        Err(e) => return refused(e),
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
        Ok(0) => inner(sb, Channels { report: theirs, parents: ours, job: job_theirs, outer: me }, net.as_ref(), maker),
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
    // The record of the running sandbox, for --list, --stop and --join: written once PID 1
    // says its root is complete (a joined command must never see it half built, with the
    // host's root still in reach). Without it the sandbox runs all the same, unlisted.
    let mut envp = Envp::new();
    exec::sandbox_env(&sb.args, &sb.env, &mut envp);
    let cfg = sb.cfg;
    sys::close(theirs);
    sys::close(job_theirs);
    sys::close(me);
    // The report: failures, with --timings the moment the root was ready, and the sandbox's
    // terminal; end-of-file when the command's execve succeeded. Read at once only for the
    // terminal or to time that moment: otherwise after the end (the messages wait in the
    // socket), so that no wake-up competes with the command's start.
    let mut buf = [0u8; report::MAX];
    let mut master = Fd(-1);
    // Only the first failure is told: PID 1 and the command's process work at once, and the
    // second may be a consequence of the first.
    let mut ran = true;
    let mut read_report = |t: &mut Timings, until_pty: bool, master: &mut Fd, ran: &mut bool| {
        while let Some(m) = report::recv(ours, &mut buf) {
            match m {
                Msg::RootReady(ns) => t.mark_at(b"root", ns),
                Msg::Failed(e) => {
                    if *ran {
                        e.print();
                    }
                    *ran = false;
                }
                Msg::Pty(fd) => {
                    *master = fd;
                    if until_pty {
                        return;
                    }
                }
            }
        }
    };
    if caller.present() || t.on {
        read_report(t, !t.on, &mut master, &mut ran);
        if t.on && ran {
            t.mark(b"exec");
        }
    }
    let mut w = Watch::new(job, master, &mut caller, sb.outer_stops);
    if master.0 >= 0 {
        sys::set_nonblocking(master, true);
        w.go_on();
    }
    let status = loop {
        let signal = w.next(sigfd);
        if w.ready {
            w.ready = false;
            let new = record::New { pid, caps: cfg.caps, rootless: sb.userns.is_some(), netns: cfg.netns, cgroup: sb.cgroup.is_some(), lowers: &cfg.lowers[..cfg.nlowers], env: &envp, ns: &w.ns };
            // Kept open until the end: --join and --stop read it from this process.
            let _ = record::write(sb.layer.dir, &new);
        }
        let Some((sig, code)) = signal else { continue };
        if sig == libc::SIGCHLD {
            if let Some((h, _)) = helper {
                if sys::wait4(h, libc::WNOHANG).is_ok_and(|(p, _)| p == h) {
                    helper = None;
                }
            }
        }
        if let Some(st) = w.on_signal(pid, sig, code) {
            break st;
        }
    };
    // Held no longer: the sandbox's namespaces end with it, before its layer is removed.
    for fd in w.ns {
        sys::close(fd);
    }
    // What the command wrote last: every process of the sandbox is gone, so the terminal's
    // master reads to its end (EIO) and no further.
    w.drain();
    // The helper ends once PID 1 and the command's process have joined its namespace, or died.
    if let Some((h, _)) = helper {
        let _ = sys::wait4(h, 0);
    }
    if !t.on {
        read_report(t, false, &mut master, &mut ran);
    }
    sys::close(ours);
    sys::close(sigfd);
    t.mark(b"exit");
    caller.restore();
    (init::status(status), ran)
}

/// The outer process's side of the job: the sandbox's terminal relayed to the caller's, and
/// the job stopped and continued with the command. (--join's process is one too: join.rs.)
pub struct Watch<'c> {
    job: Fd,
    pub master: Fd,
    pub caller: &'c mut pty::Caller,
    /// The caller's terminal is read (the job is in its foreground).
    reading: bool,
    /// This process can stop with the job (it is not the PID 1 of a machine).
    stops: bool,
    pending: pty::Pending,
    /// Rootless: PID 1's namespaces, as it sent them, held for --join (record.rs).
    ns: [Fd; 7],
    /// PID 1 says the sandbox is complete: time to write its record.
    ready: bool,
}

impl<'c> Watch<'c> {
    /// `job`: the channel to the init that tells of the command's stops; `master`: the
    /// sandbox's terminal (-1: none); `stops`: this process may stop with the job.
    #[inline(never)]
    pub fn new(job: Fd, master: Fd, caller: &'c mut pty::Caller, stops: bool) -> Self {
        Watch { job, master, caller, reading: false, stops, pending: pty::Pending::new(), ns: [Fd(-1); 7], ready: false }
    }

    /// Wait until something happens: the terminals relayed, the init's word on `job` taken;
    /// a signal read from the (non-blocking) `sigfd`, with its si_code, when one was.
    pub fn next(&mut self, sigfd: Fd) -> Option<(i32, i32)> {
        let mut fds = [
            libc::pollfd { fd: sigfd.0, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.job.0, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.master.0, events: libc::POLLIN | if self.pending.is_empty() { 0 } else { libc::POLLOUT }, revents: 0 },
            libc::pollfd { fd: if self.reading && self.pending.is_empty() { self.caller.input.0 } else { -1 }, events: libc::POLLIN, revents: 0 },
        ];
        if sys::poll_for(&mut fds, if self.master.0 >= 0 { self.pending.wait } else { -1 }).ok()? == 0 {
            self.pending.say_end(self.master);
        }
        if fds[3].revents != 0 {
            self.reading = self.pending.fill(self.caller.input);
            if !self.reading && self.caller.fds & (1 << self.caller.input.0) == 0 {
                // Input that is not a terminal ended (sandbox-oci run <file): its end is owed
                // to the sandbox's terminal.
                self.pending.wait = 10;
            }
        }
        if fds[3].revents != 0 || fds[2].revents & libc::POLLOUT != 0 {
            self.pending.flush(self.master);
        }
        if fds[2].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            if self.pending.wait > 0 {
                self.pending.wait = 10;
            }
            if !pty::copy_out(self.master, self.caller.output) {
                self.master_done();
            }
        }
        if fds[1].revents != 0 {
            self.stopped();
        }
        sys::read_signal(sigfd)
    }

    /// A signal read from the sigfd: the end of `pid` (PID 1, or a joined command's leader)
    /// waited for on SIGCHLD, the job continued on SIGCONT, the window's size passed on, any
    /// other signal sent on to `pid`. Its wait status once it has ended.
    pub fn on_signal(&mut self, pid: i32, sig: i32, code: i32) -> Option<i32> {
        match sig {
            libc::SIGCHLD => match sys::wait4(pid, libc::WNOHANG) {
                Ok((p, st)) if p == pid => return Some(st),
                Err(e) if e != Errno::EINTR => return Some(EXIT_SANDBOX << 8),
                _ => {}
            },
            // `fg`, `bg`, or a SIGCONT sent to sandbox: the job goes on, and the command with it.
            libc::SIGCONT => self.go_on(),
            libc::SIGWINCH if self.master.0 >= 0 => {
                self.caller.size_to(self.master);
                if code != init::SI_KERNEL {
                    let _ = sys::kill(pid, sig);
                }
            }
            _ => {
                let _ = sys::kill(pid, sig);
            }
        }
        None
    }

    /// What the sandbox's terminal holds now, without waiting for its end: processes of the
    /// sandbox may hold it still (a job that a joined command left behind).
    pub fn drain_now(&mut self) {
        while self.master.0 >= 0 && sys::poll_now(self.master, libc::POLLIN).is_ok_and(|r| r != 0) {
            if !pty::copy_out(self.master, self.caller.output) {
                self.master_done();
            }
        }
    }

    /// The job goes on: in the foreground of the caller's terminal (raw, read, the command the
    /// foreground of its own), or in its background (not read; a read of the command stops it).
    pub fn go_on(&mut self) {
        let fg = !self.caller.present() || self.caller.may_read();
        if self.master.0 >= 0 {
            if fg {
                self.caller.make_raw();
                self.caller.size_to(self.master);
            } else {
                self.caller.restore();
            }
            self.reading = fg;
        }
        let _ = sys::write(self.job, if fg { b"F" } else { b"B" });
    }

    /// PID 1 says the command stopped (or the channel ended: PID 1 is gone).
    fn stopped(&mut self) {
        let mut b = [0u8; 16];
        match sys::recv_fd(self.job, &mut b) {
            Ok((n, fd)) if n > 0 && (b'0'..b'7').contains(&b[0]) => {
                sys::close(self.ns[(b[0] - b'0') as usize]);
                self.ns[(b[0] - b'0') as usize] = fd;
                return;
            }
            Ok((n, _)) if n > 0 && b[0] == b'R' => {
                self.ready = true;
                return;
            }
            Ok((n, _)) if n > 0 => {}
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => return,
            _ => {
                self.job = Fd(-1);
                return;
            }
        }
        // The caller's terminal as it was, then the caller's job stopped: the whole job where a
        // shell with job control made it (the terminal is ours), else this process alone.
        self.caller.restore();
        self.reading = false;
        if self.stops {
            let mut fg: i32 = 0;
            let job_control = self.caller.present() && sys::ioctl(self.caller.input, libc::TIOCGPGRP as u64, &mut fg).is_ok();
            let tstp = SigSet::of(&[libc::SIGTSTP]);
            let _ = sys::sigprocmask(libc::SIG_UNBLOCK, tstp);
            let _ = sys::kill(if job_control { 0 } else { sys::getpid() }, libc::SIGTSTP);
            let _ = sys::sigprocmask(libc::SIG_BLOCK, tstp);
            // Continued by a SIGCONT, which waits to be read: that says when the job goes on,
            // once (two words would continue the command twice, and a command that a read in
            // the background stops would be stopped a second time).
            if sys::sigpending().0 & SigSet::of(&[libc::SIGCONT]).0 != 0 {
                return;
            }
        }
        // Not stopped (the PID 1 of a machine, or an orphaned process group, which the kernel
        // does not stop): the job goes on at once.
        self.go_on();
    }

    /// The sandbox's terminal has nothing more: every process of the sandbox closed it.
    #[inline(never)]
    fn master_done(&mut self) {
        self.reading = false;
        sys::close(self.master);
        self.master = Fd(-1);
    }

    pub fn drain(&mut self) {
        if self.master.0 >= 0 {
            sys::set_nonblocking(self.master, false);
            while pty::copy_out(self.master, self.caller.output) {}
            self.master_done();
        }
    }
}

/// PID 1's ends of its channels to the outer process, and the outer process's pidfd.
struct Channels {
    report: Fd,
    parents: Fd,
    job: Fd,
    outer: Fd,
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
fn inner(sb: &Sandbox, ch: Channels, net: Option<&Network>, maker: Fd) -> ! {
    let sock = ch.report;
    // Die with the outer process, even by SIGKILL. If it died before this line, no signal will
    // come: its pidfd (opened before the clone) says so, and PID 1 stops here.
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64);
    if sys::poll_now(ch.outer, libc::POLLIN) != Ok(0) {
        sys::exit(EXIT_SANDBOX);
    }
    sys::close(ch.parents);
    // Nothing of the caller's but stdio goes in: an fd of a host directory handed to the
    // sandbox (`7</`) would be a way out. Every other inherited fd is closed here, in PID 1;
    // the locked layer directory is kept for root.rs, which closes it. (The command's process
    // holds copies of PID 1's fds, and closes all but stdio before its execve.)
    let rootless = sb.userns.is_some();
    let [a, b, c, d] = net.map_or([Fd(-1); 4], |n| n.fds(rootless));
    sys::close_all_but(&mut [Fd(0), Fd(1), Fd(2), sock, ch.job, maker, a, b, c, d, sb.layer.dir]);
    // A session and process group of the sandbox's own: nothing in it can signal the caller's
    // job (kill(0, ...)) or take the caller's terminal (pty.rs).
    let _ = sys::setsid();
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
    // From a terminal: the sandbox's own, made before the command's process so that it is its
    // controlling terminal too; the outer process relays it.
    let pty = if sb.tty_fds != 0 {
        let p = pty::make().unwrap_or_else(|e| fail(Error::new(Step::Terminal, b"/dev/pts/ptmx", e)));
        if let Err(e) = report::send_pty(sock, p.master) {
            fail(Error::new(Step::Terminal, b"/dev/pts/ptmx", e));
        }
        sys::close(p.master);
        Some(p)
    } else {
        None
    };
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
    let command = init::Command { own_group: true, take_tty: false, mask: sb.mask, umask: Some(umask), exec: &|| {
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
        if let Err(e) = caps::limit(cfg.caps).and_then(caps::confine) {
            fail(Error::new(Step::Privileges, b"", e));
        }
        let mut envp = Envp::new();
        exec::sandbox_env(&sb.args, &sb.env, &mut envp);
        // One byte: the root is ready. End-of-file: PID 1 failed and is reporting it.
        if sys::read(go, &mut [0u8]) != Ok(1) {
            sys::exit(EXIT_SANDBOX);
        }
        if sb.tty_fds != 0 {
            if let Err(e) = pty::take(sb.tty_fds) {
                fail(Error::new(Step::Terminal, b"/dev/pts", e));
            }
        }
        if let Err(e) = exec::enter_cwd(cfg.cwd) {
            fail(e);
        }
        if let Err(e) = caps::fence(cfg.caps) {
            fail(Error::new(Step::Privileges, b"landlock", e));
        }
        // Nothing but stdio and the report goes into execve. Close-on-exec is not enough: the
        // kernel looks up a script's interpreter (`#!/proc/self/fd/N/../..`) before it closes
        // them, and this process holds copies of PID 1's, the locked layer directory of the
        // host among them.
        sys::close_all_but(&mut [Fd(0), Fd(1), Fd(2), sock]);
        exec::exec(Step::Exec, sb.args, cfg.command, envp.as_ptr(), exec::path_of(&envp), sock)
    } };
    let pid = init::start(&command).unwrap_or_else(|e| fail(Error::new(Step::Fork, b"", e)));
    if let Some(p) = &pty {
        if let Err(e) = pty::give(p.slave, pid) {
            fail(Error::new(Step::Terminal, b"/dev/pts", e));
        }
    }
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
    if let Err(e) = root::finish(sb, &host, pty.as_ref().map_or(Fd(-1), |p| p.mount), join) {
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
    // The sandbox is complete: the outer process may record it. Rootless, a joiner cannot take
    // PID 1's namespaces through a pidfd (PID 1 is not dumpable, and its memory belongs to the
    // host's user namespace): PID 1 hands them to the outer process, which holds them for it.
    if rootless {
        for (i, (ns, _)) in record::NAMESPACES.iter().enumerate() {
            let mut p = Buf::<32>::new();
            p.push(b"/proc/self/ns/").push(ns);
            if let Ok(fd) = sys::openat(AT_FDCWD, p.c(), libc::O_RDONLY | libc::O_CLOEXEC, 0) {
                let _ = sys::send_fd(ch.job, b'0' + i as u8, fd);
                sys::close(fd);
            }
        }
    }
    let _ = sys::write(ch.job, b"R");
    sys::close(sock);
    sys::exit(init::serve(pid, init::Job { tty: false, stops: false, outer: ch.job, pty: pty.map_or(Fd(-1), |p| p.slave) }))
}
