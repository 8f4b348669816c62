//! `exec`: a new process in a running container: its namespaces (joined at once through a
//! pidfd of the container's process), its cgroup, and the confinement config.json gives (read
//! again from the bundle): capabilities, no_new_privs, seccomp, AppArmor.
//!
//! As in create, a first process joins and forks the new one (a PID namespace takes only
//! children). With --detach the new process is re-parented to the engine's subreaper and exec
//! exits once it is ready, after writing --pid-file; without, exec is the subreaper, waits for
//! it and ends with its status.

use super::config::{self, Process, Spec, BOUNDING, EFFECTIVE, PERMITTED};
use super::confine::Filter;
use super::container::{self, die, exec_now, lookup, lower, send, Job, READY};
use super::create::{self, pid_file};
use super::json::Tok;
use super::record::{self, Status};
use super::why;
use super::{each_option, small_number, take_id, Done, Fail, Global, OptTable, Opts, Step, IGNORED, VALUE};
use crate::out::Buf;
use crate::state::PATH_MAX;
use crate::sys::{self, Args, Env, Errno, Fd, Static, AT_FDCWD};
use core::ffi::CStr;

const PROCESS_MAX: usize = 128 * 1024;
static PROCESS_TEXT: Static<[u8; PROCESS_MAX]> = Static::new([0; PROCESS_MAX]);
static PROCESS_TOKENS: Static<[Tok; 8192]> = Static::new([Tok::EMPTY; 8192]);

/// The kinds of namespace a process may be in: their names under /proc/PID/ns (a word list),
/// and their CLONE_NEW* flags in the same order.
const KINDS: &[u8] = b"user mnt pid net ipc uts cgroup time";
const FLAGS: [i32; 8] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
    0x80,
];

/// The namespaces of `pid` that are not ours.
fn other_namespaces(pid: i32) -> i32 {
    let mut flags = 0;
    for (flag, name) in FLAGS.into_iter().zip(crate::out::words(KINDS)) {
        let mut theirs = Buf::<64>::new();
        theirs.push(b"/proc/").push_u64(pid as u64).push(b"/ns/").push(name);
        let mut ours = Buf::<64>::new();
        ours.push(b"/proc/self/ns/").push(name);
        match (sys::stat_at(AT_FDCWD, theirs.c(), 0), sys::stat_at(AT_FDCWD, ours.c(), 0)) {
            (Ok(a), Ok(b)) if (a.dev, a.ino) == (b.dev, b.ino) => {}
            (Ok(_), _) => flags |= flag,
            _ => {}
        }
    }
    flags
}

struct Opt {
    process: Option<&'static CStr>,
    detach: bool,
    pid_file: Option<&'static CStr>,
    console: Option<&'static CStr>,
    tty: bool,
    cwd: Option<&'static CStr>,
    envs: [Option<&'static CStr>; 64],
    nenvs: usize,
    user: Option<&'static CStr>,
    caps: u64,
    nnp: bool,
    preserve: u32,
}

type Failed = Fail<'static>;

// (process-label, apparmor, cgroup, ignore-paused: runc's, with nothing to do here.)
const OPTIONS: &OptTable = &(b"process p detach d pid-file console-socket tty t cwd env e user u cap c no-new-privs preserve-fds process-label apparmor cgroup ignore-paused", &[VALUE, VALUE, 1, 1, 2 | VALUE, 3 | VALUE, 4, 4, 5 | VALUE, 6 | VALUE, 6 | VALUE, 7 | VALUE, 7 | VALUE, 8 | VALUE, 8 | VALUE, 9, 10 | VALUE, IGNORED | VALUE, IGNORED | VALUE, IGNORED | VALUE, IGNORED]);

#[inline(never)]
fn options(o: &mut Opts) -> Result<Opt, Failed> {
    let mut x = Opt { process: None, detach: false, pid_file: None, console: None, tty: false, cwd: None, envs: [None; 64], nenvs: 0, user: None, caps: 0, nnp: false, preserve: 0 };
    each_option(o, OPTIONS, &mut |i, v| {
        let bad = |why| Fail::usage(Step::Usage, v.to_bytes(), why);
        match i {
            0 => x.process = Some(v),
            1 => x.detach = true,
            2 => x.pid_file = Some(v),
            3 => x.console = Some(v),
            4 => x.tty = true,
            5 => x.cwd = Some(v),
            6 => {
                if x.nenvs == x.envs.len() || !v.to_bytes().contains(&b'=') {
                    return Err(bad(b"--env takes KEY=VALUE, at most 64 times"));
                }
                x.envs[x.nenvs] = Some(v);
                x.nenvs += 1;
            }
            7 => x.user = Some(v),
            8 => x.caps |= crate::caps::parse(v.to_bytes()).ok_or(bad(b"unknown capability"))?,
            9 => x.nnp = true,
            _ => x.preserve = small_number(v)?,
        }
        Ok(())
    })?;
    Ok(x)
}

/// `U[:G]`, numbers.
fn user(v: &'static CStr, p: &mut Process) -> Result<(), Fail<'static>> {
    let b = v.to_bytes();
    let bad = Fail::usage(Step::Usage, b, b"--user takes UID[:GID], numbers");
    let (u, g) = match b.iter().position(|&c| c == b':') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    p.uid = crate::cgroup::parse_u64(u).and_then(|n| u32::try_from(n).ok()).ok_or(bad)?;
    if let Some(g) = g {
        p.gid = crate::cgroup::parse_u64(g).and_then(|n| u32::try_from(n).ok()).ok_or(bad)?;
    }
    Ok(())
}

fn read_process(path: &'static CStr, p: &mut Process<'static>) -> Result<(), Fail<'static>> {
    let text = PROCESS_TEXT.take().ok_or(Fail::new(Step::Process, b"", Errno::EBUSY))?;
    let toks = PROCESS_TOKENS.take().ok_or(Fail::new(Step::Process, b"", Errno::EBUSY))?;
    let doc = create::read_json(record::engines_file(path, Step::Process), path.to_bytes(), Step::Process, text, toks)?;
    *p = Process::new();
    config::process(doc.root(), p).map_err(config::Refused::fail)?;
    if p.nargs == 0 {
        return Err(Fail::usage(Step::Refused, b"process.args", why::MISSING));
    }
    Ok(())
}

/// The bundle's directory, checked before exec reads its config.json again: root's or the
/// caller's and no one else's to write, and so config.json (not a link). Another user who could
/// change it would choose the confinement (capabilities, seccomp, ...) of what exec starts.
fn engines_bundle(bundle: &'static CStr) -> Result<Fd, Fail<'static>> {
    let p = bundle.to_bytes();
    let dir = sys::openat(AT_FDCWD, bundle, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Bundle, p, e))?;
    // (None there: load says so. Only root or the caller could put one there meanwhile.)
    let conf = sys::openat(dir, c"config.json", libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0).map_or(true, |f| {
        let ok = record::safe(f);
        sys::close(f);
        ok
    });
    let step = if !record::safe(dir) {
        Step::Bundle
    } else if !conf {
        Step::Config
    } else {
        return Ok(dir);
    };
    sys::close(dir);
    Err(Fail::usage(step, p, why::NOT_THE_ENGINES))
}

#[inline(never)]
pub fn exec(g: &Global, o: &mut Opts, args: &Args, env: &Env) -> Done<'static> {
    let x = options(o)?;
    let id = take_id(g, o)?;
    create::sealed(args, env)?;
    let r = create::open(g, id)?;
    if !matches!(r.status, Status::Running | Status::Created) {
        return Err(Fail::usage(Step::Status, r.status.name(), why::EXEC_NEEDS_A_RUNNING_CONTAINER));
    }
    let mut spec = Spec::new();
    let dir = engines_bundle(r.bundle)?;
    let (bfd, filter) = create::load(r.bundle, &mut spec)?;
    let same = matches!((sys::fstat(dir), sys::fstat(bfd)), (Ok(a), Ok(b)) if (a.dev, a.ino) == (b.dev, b.ino));
    sys::close(bfd);
    sys::close(dir);
    if !same {
        return Err(Fail::usage(Step::Bundle, r.bundle.to_bytes(), why::NOT_THE_ENGINES));
    }
    let mut p = spec.process;
    match x.process {
        Some(path) => read_process(path, &mut p)?,
        None => {
            let (a, at) = (*args, o.at);
            if at >= a.len() {
                return Err(Fail::usage(Step::Usage, b"", why::EXEC_NEEDS_A_COMMAND));
            }
            p.nargs = 0;
            for i in at..a.len().min(at + config::MAX_ARGS) {
                p.args[p.nargs] = a.get(i);
                p.nargs += 1;
            }
            p.terminal = x.tty;
            for e in x.envs[..x.nenvs].iter().flatten() {
                p.push_env(e);
            }
            if let Some(c) = x.cwd {
                p.cwd = c;
            }
            if let Some(u) = x.user {
                user(u, &mut p)?;
            }
            for set in [BOUNDING, EFFECTIVE, PERMITTED] {
                p.caps[set] |= x.caps;
            }
            p.nnp |= x.nnp;
        }
    }
    if p.terminal && x.console.is_none() {
        return Err(Fail::usage(Step::Console, b"process.terminal", why::A_TERMINAL_NEEDS_CONSOLE_SOCKET));
    }
    run(g, &spec, &r, &p, filter, &x)
}

fn run(g: &Global, spec: &Spec<'static>, r: &record::Record, p: &Process<'static>, filter: Option<&Filter>, x: &Opt) -> Result<i32, Fail<'static>> {
    let pidfd = record::pidfd(r).ok_or(Fail::usage(Step::Status, b"stopped", why::EXEC_NEEDS_A_RUNNING_CONTAINER))?;
    let flags = other_namespaces(r.pid);
    let sock = match x.console {
        Some(c) if p.terminal => sys::connect_unix(c.to_bytes()).map_err(|e| Fail::new(Step::Console, c.to_bytes(), e))?,
        _ => Fd(-1),
    };
    let procs = if r.cgroup.is_empty() {
        Fd(-1)
    } else {
        sys::openat(AT_FDCWD, record::cgroup_file(r.cgroup, b"/cgroup.procs").c(), libc::O_WRONLY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Cgroup, b"cgroup.procs", e))?
    };
    if !x.detach {
        // The new process is re-parented here when the first one exits: waited for here, with
        // the signals sent to exec passed on to it (blocked until then; it unblocks its own).
        let _ = sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
        let _ = sys::sigprocmask(libc::SIG_BLOCK, FORWARDED);
    }
    container::oom_score(p)?;
    let (ours, theirs) = sys::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC).map_err(|e| Fail::new(Step::Clone, b"", e))?;
    let first = match sys::clone(libc::SIGCHLD as u64) {
        Ok(0) => {
            let mut job = Job { spec, process: p, child, fresh: false, filter, bundle: Fd(-1), bundle_path: c"", chan: theirs, gate: Fd(-1), procs, joins: [(Fd(-1), 0); 8], njoins: 0, no_pivot: false, leave: [g.log, Fd(g.root_fd.get()), Fd(-1)], new_keyring: false, preserve: x.preserve };
            if flags != 0 {
                job.joins[0] = (pidfd, flags);
                job.njoins = 1;
            }
            container::first(&job)
        }
        Ok(pid) => pid,
        Err(e) => return Err(Fail::new(Step::Clone, b"", e)),
    };
    sys::close(theirs);
    sys::close(pidfd);
    sys::close(procs);
    let mut pid = 0;
    let ready = container::wait_ready(ours, sock, x.console, &mut pid, &mut || Ok(()));
    sys::close(ours);
    sys::close(sock);
    let _ = sys::wait4(first, 0);
    if let Err(f) = ready {
        if pid > 0 {
            let _ = sys::kill(pid, libc::SIGKILL);
            if !x.detach {
                let _ = sys::wait4(pid, 0);
            }
        }
        return Err(f);
    }
    if let Some(path) = x.pid_file {
        pid_file(path, pid)?;
    }
    if x.detach {
        return Ok(0);
    }
    loop {
        match sys::wait4(pid, libc::WNOHANG) {
            Ok((0, _)) => {}
            Ok((_, status)) => return Ok(crate::init::status(status)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Fail::new(Step::Process, b"wait", e)),
        }
        match sys::sigwait_info(FORWARDED) {
            Ok((libc::SIGCHLD, _)) | Err(_) => {}
            Ok((sig, _)) => {
                let _ = sys::kill(pid, sig);
            }
        }
    }
}

/// What a waiting exec passes on to its process: every signal (SIGCHLD: it ended).
const FORWARDED: sys::SigSet = crate::init::ALL;

/// The new process, in the container's namespaces: its terminal, limits, the command looked
/// up, then (ready) its confinement and execve.
fn child(job: &Job) -> Fail<'static> {
    match prepare(job.process, job.chan) {
        Ok(path) => {
            if let Err(f) = lower(job.process, job.filter, job.preserve, [job.chan, Fd(-1)]) {
                return f;
            }
            send(job.chan, READY, None, 0);
            sys::close(job.chan);
            die(&exec_now(job.process, job.filter, path.c()))
        }
        Err(f) => f,
    }
}

/// In the new process, inside: the terminal, limits, and the command looked up.
fn prepare(p: &Process<'static>, chan: Fd) -> Result<Buf<PATH_MAX>, Fail<'static>> {
    if p.terminal {
        let root = sys::openat(AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Console, b"/", e))?;
        let r = container::terminal(root, p, chan, false);
        sys::close(root);
        r?;
    }
    container::limits(p)?;
    lookup(p)
}
