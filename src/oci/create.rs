//! The engine's side of the lifecycle: create, start, state, kill, delete.

use super::why;
use super::config::{self, Resources, Spec};
use super::confine::{self, Filter};
use super::container::{self, Job};
use super::json::{self, Tok};
use super::record::{self, Record, Space, Status};
use super::{each_option, json_str, small_number, take_id, Done, Fail, Global, OptTable, Opts, Step, VALUE};
use crate::out::{Buf, Bytes};
use crate::state::PATH_MAX;
use crate::sys::{self, Args, Env, Errno, Fd, Static, AT_FDCWD};
use core::ffi::CStr;

pub const CONFIG_MAX: usize = 512 * 1024;
pub const MAX_TOKENS: usize = 32 * 1024;

pub static CONFIG: Static<[u8; CONFIG_MAX]> = Static::new([0; CONFIG_MAX]);
pub static TOKENS: Static<[Tok; MAX_TOKENS]> = Static::new([Tok::EMPTY; MAX_TOKENS]);
static FILTER: Static<Filter> = Static::new(Filter::new());
static RECORD: Static<Space> = Static::new(Space::new());

type Failed = Fail<'static>;

/// The JSON file `file` under `dir`, read whole into `text` (EFBIG when it does not fit) and
/// parsed into `toks`; errors are `step`'s, naming `name`.
pub fn read_json(file: Result<Fd, Failed>, name: &'static [u8], step: Step, text: &'static mut [u8], toks: &'static mut [Tok<'static>]) -> Result<json::Doc<'static>, Failed> {
    let f = file?;
    let n = sys::read_all(f, text);
    sys::close(f);
    let n = n.map_err(|e| Fail::new(step, name, e))?;
    if n == text.len() {
        return Err(Fail::new(step, name, Errno::EFBIG));
    }
    json::parse(&mut text[..n], toks).map_err(|b| Fail::usage(step, name, b.why()))
}

/// Read and check `DIR/config.json` into `spec` (and its seccomp profile into a filter).
pub fn load(bundle: &'static CStr, spec: &mut Spec<'static>) -> Result<(Fd, Option<&'static Filter>), Failed> {
    let path = bundle.to_bytes();
    let bfd = sys::openat(AT_FDCWD, bundle, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Bundle, path, e))?;
    let text = CONFIG.take().ok_or(Fail::new(Step::Config, path, Errno::EBUSY))?;
    let toks = TOKENS.take().ok_or(Fail::new(Step::Config, path, Errno::EBUSY))?;
    let file = sys::openat(bfd, c"config.json", libc::O_RDONLY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Config, path, e));
    let doc = read_json(file, path, Step::Config, text, toks)?;
    config::spec(doc.root(), spec).map_err(config::Refused::fail)?;
    if (spec.hostname.is_some() || spec.domainname.is_some()) && spec.namespace(libc::CLONE_NEWUTS).is_none_or(|n| n.path.is_some()) {
        return Err(Fail::usage(Step::Refused, b"hostname", why::NEEDS_A_NEW_UTS_NAMESPACE));
    }
    let filter = match spec.seccomp {
        None => None,
        Some(v) => {
            let f = FILTER.take().ok_or(Fail::new(Step::Config, path, Errno::EBUSY))?;
            confine::profile(v, f).map_err(config::Refused::fail)?;
            confine::check(f).map_err(|e| Fail::new(Step::Seccomp, b"linux.seccomp", e))?;
            Some(&*f)
        }
    };
    Ok((bfd, filter))
}

fn is_cgroup2() -> bool {
    sys::stat_at(AT_FDCWD, c"/sys/fs/cgroup/cgroup.controllers", 0).is_ok()
}

/// The cgroup's path under /sys/fs/cgroup: linux.cgroupsPath, in the cgroupfs form or the
/// systemd one (`slice:prefix:name`, the slice's nesting spelled out as systemd does).
#[inline(never)]
fn cgroup_path(g: &Global, spec: &Spec, id: &[u8], out: &mut Buf<PATH_MAX>) {
    let Some(p) = spec.cgroups_path else {
        out.push(b"/sandbox-oci/").push(id);
        return;
    };
    let p = p.to_bytes();
    let parts: [&[u8]; 3] = {
        let mut it = p.splitn(3, |&c| c == b':');
        [it.next().unwrap_or(b""), it.next().unwrap_or(b""), it.next().unwrap_or(b"")]
    };
    if g.systemd_cgroup || (p.first() != Some(&b'/') && p.iter().filter(|&&c| c == b':').count() == 2) {
        let slice = if parts[0].is_empty() { &b"system.slice"[..] } else { parts[0] };
        let stem = slice.strip_suffix(b".slice").unwrap_or(slice);
        for (i, &c) in stem.iter().enumerate() {
            if c == b'-' {
                out.push(b"/").push(&stem[..i]).push(b".slice");
            }
        }
        out.push(b"/").push(stem).push(b".slice");
        out.push(b"/");
        if !parts[1].is_empty() {
            out.push(parts[1]).push(b"-");
        }
        out.push(parts[2]).push(b".scope");
    } else {
        if p.first() != Some(&b'/') {
            out.push(b"/");
        }
        out.push(p);
    }
}

/// Make the container's cgroup with its limits (cgroup v2); an fd of its cgroup.procs, or -1
/// when the container has none: cgroups disabled, or no v2 and no resources asked for.
#[inline(never)]
fn make_cgroup(g: &Global, spec: &Spec<'static>, id: &[u8], path: &mut Buf<PATH_MAX>) -> Result<Fd, Fail<'static>> {
    let r = spec.resources;
    if g.no_cgroups {
        return Ok(Fd(-1));
    }
    if !is_cgroup2() {
        if r.any() {
            return Err(Fail::usage(Step::NoController, b"/sys/fs/cgroup", why::NO_CGROUP_V2_THERE));
        }
        return Ok(Fd(-1));
    }
    cgroup_path(g, spec, id, path);
    // Not one with processes in it (another container's, of this or another --root): its
    // limits would change, and killing this one would kill those.
    let mut used = false;
    cgroup_pids(path.bytes(), &mut |_| used = true);
    if used {
        path.clear();
        return Err(Fail::usage(Step::Cgroup, spec.cgroups_path.map_or(b"", |p| p.to_bytes()), why::CGROUP_IN_USE));
    }
    let dir = limits(path.bytes(), r)?;
    if spec.device_rules.is_some() {
        // A runtime without privileges can load no program (the engine's rules are not
        // enforced then, as with runc); root fails here rather than run without them.
        let d = sys::openat(AT_FDCWD, dir.c(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Cgroup, b"", e))?;
        let r = super::devices::attach(spec.device_rules, d);
        sys::close(d);
        match r {
            Err(Errno::EPERM) if sys::geteuid() != 0 || container::in_user_namespace() => {}
            r => r.map_err(|e| Fail::new(Step::Cgroup, b"linux.resources.devices", e))?,
        }
    }
    let mut procs = Buf::<PATH_MAX>::new();
    procs.push(dir.bytes()).push(b"/cgroup.procs");
    sys::openat(AT_FDCWD, procs.c(), libc::O_WRONLY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Cgroup, b"", e))
}

/// Make the cgroup at `path` (under /sys/fs/cgroup) if it is not there, with the controllers
/// the limits need enabled down to it, and write the limits asked for; its directory.
#[inline(never)]
pub fn limits(path: &[u8], mut r: Resources) -> Result<Buf<PATH_MAX>, Failed> {
    let e = |errno| Fail::new(Step::Cgroup, b"", errno);
    let mut have = [0u8; 512];
    let n = sys::read_file(c"/sys/fs/cgroup/cgroup.controllers", &mut have).unwrap_or(0);
    let has = |c: &[u8]| have[..n].split(|&b| b == b' ' || b == b'\n').any(|w| w == c);
    if r.default_shares && !has(b"cpu") {
        r.cpu_weight = None;
    }
    let wanted: [(&'static [u8], bool); 3] = [(b"memory", r.memory.is_some() || r.swap.is_some() || r.reservation.is_some()), (b"pids", r.pids.is_some()), (b"cpu", r.cpu_weight.is_some() || r.cpu_quota.is_some())];
    let mut enable = Buf::<64>::new();
    for (c, needed) in wanted {
        if needed {
            if !has(c) {
                return Err(Fail::usage(Step::NoController, c, b""));
            }
            let sep: &[u8] = if enable.len() > 0 { b" +" } else { b"+" };
            enable.push(sep).push(c);
        }
    }
    let mut dir = Buf::<PATH_MAX>::new();
    dir.push(crate::cgroup::ROOT);
    for comp in path.split(|&c| c == b'/').filter(|c| !c.is_empty() && *c != b"." && *c != b"..") {
        if enable.len() > 0 {
            let mut ctl = Buf::<PATH_MAX>::new();
            ctl.push(dir.bytes()).push(b"/cgroup.subtree_control");
            let _ = sys::write_file(AT_FDCWD, ctl.c(), enable.bytes());
        }
        dir.push(b"/").push(comp);
        match sys::mkdirat(AT_FDCWD, dir.c(), 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(er) => return Err(e(er)),
        }
    }
    // Each limit asked for, to its file (u64::MAX: "max"); cpu.max takes the period after.
    let cpu_max = (r.cpu_quota.is_some() || r.cpu_period.is_some()).then_some(r.cpu_quota.unwrap_or(u64::MAX));
    let files: [(&'static [u8], Option<u64>); 6] = [
        (b"memory.max", r.memory),
        (b"memory.swap.max", r.swap),
        (b"memory.low", r.reservation),
        (b"pids.max", r.pids),
        (b"cpu.weight", r.cpu_weight),
        (b"cpu.max", cpu_max),
    ];
    for (file, value) in files {
        let Some(n) = value else { continue };
        let mut v = Buf::<48>::new();
        if n == u64::MAX {
            v.push(b"max");
        } else {
            v.push_u64(n);
        }
        if file == b"cpu.max" {
            v.push(b" ").push_u64(r.cpu_period.unwrap_or(100_000));
        }
        let mut f = Buf::<PATH_MAX>::new();
        f.push(dir.bytes()).push(b"/").push(file);
        sys::write_file(AT_FDCWD, f.c(), v.bytes()).map_err(|er| Fail::new(Step::Cgroup, file, er))?;
    }
    Ok(dir)
}

/// Remove the container's cgroup (empty by now, or soon: its last processes are exiting).
fn remove_cgroup(path: &[u8]) {
    if !path.is_empty() {
        remove_tree(AT_FDCWD, record::cgroup_file(path, b"").c(), 0);
    }
}

/// Remove the cgroup `name` and those beneath it (made inside), once what was killed in them
/// has gone (EBUSY until then).
fn remove_tree(at: Fd, name: &CStr, depth: u32) {
    if let Ok(d) = sys::openat(at, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0) {
        if depth < CGROUP_DEPTH {
            each_child(d, &mut |child| remove_tree(d, child, depth + 1));
        }
        sys::close(d);
    }
    for _ in 0..1000 {
        match sys::unlinkat(at, name, libc::AT_REMOVEDIR) {
            Err(Errno::EBUSY) => sys::sleep_ms(1),
            _ => return,
        }
    }
}

fn write_maps(pid: i32, spec: &Spec) -> Result<(), Fail<'static>> {
    for (file, maps) in [(&b"uid_map"[..], &spec.uid_maps[..spec.nuid_maps]), (b"gid_map", &spec.gid_maps[..spec.ngid_maps])] {
        let mut p = Buf::<64>::new();
        p.push(b"/proc/").push_u64(pid as u64).push(b"/").push(file);
        let mut b = Buf::<512>::new();
        for m in maps {
            b.push_u64(m.inside as u64).push(b" ").push_u64(m.outside as u64).push(b" ").push_u64(m.count as u64).push(b"\n");
        }
        let f: &'static [u8] = if file == b"uid_map" { b"uid_map" } else { b"gid_map" };
        let mut r = sys::write_file(AT_FDCWD, p.c(), b.bytes());
        if r == Err(Errno::EPERM) && file == b"gid_map" {
            // Without CAP_SETGID here (a user without privileges), the kernel takes a gid_map
            // only once setgroups is denied in the namespace.
            let mut s = Buf::<64>::new();
            s.push(b"/proc/").push_u64(pid as u64).push(b"/setgroups");
            if sys::write_file(AT_FDCWD, s.c(), b"deny").is_ok() {
                r = sys::write_file(AT_FDCWD, p.c(), b.bytes());
            }
        }
        r.map_err(|e| Fail::new(Step::IdMap, f, e))?;
    }
    Ok(())
}

/// Write the pid file as runc does: a new file `.NAME` beside it (never one that is there: not
/// another user's file, a link or a FIFO that would hang us), renamed over NAME, so that a
/// reader never sees it half-made and what was at NAME is replaced, not written into. All
/// three steps in the directory opened once: one that is swapped meanwhile is not followed.
pub fn pid_file(path: &'static CStr, pid: i32) -> Result<(), Fail<'static>> {
    static TMP: Static<Buf<PATH_MAX>> = Static::new(Buf::new());
    let p = path.to_bytes();
    let t = TMP.take().ok_or(Fail::new(Step::PidFile, p, Errno::EBUSY))?;
    let cut = p.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    t.push(if cut == 0 { b"." } else { &p[..cut] });
    let dir = sys::openat(AT_FDCWD, t.c(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::PidFile, p, e))?;
    t.clear();
    t.push(&p[..cut]).push(b".").push(&p[cut..]);
    let full = t.c();
    let (tmp, name) = (last(full, cut), last(path, cut));
    let e = |errno| Fail::new(Step::PidFile, full.to_bytes(), errno);
    let r = sys::openat(dir, tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o644).map_err(e).and_then(|f| {
        let mut b = Buf::<24>::new();
        b.push_u64(pid as u64);
        let w = sys::write_all(f, b.bytes()).map_err(e);
        sys::close(f);
        let r = w.and_then(|()| sys::renameat(dir, tmp, dir, name).map_err(|er| Fail::new(Step::PidFile, p, er)));
        if r.is_err() {
            let _ = sys::unlinkat(dir, tmp, 0);
        }
        r
    });
    sys::close(dir);
    r
}

/// The name of a path whose directory part ends at `cut`.
fn last(path: &CStr, cut: usize) -> &CStr {
    CStr::from_bytes_with_nul(&path.to_bytes_with_nul()[cut..]).unwrap_or(c"")
}

/// What create made, for undoing it.
struct Made {
    cgroup: Buf<PATH_MAX>,
    first: i32,
    pid: i32,
}

#[inline(never)]
fn kill_and_wait(pid: i32) {
    if let Ok(fd) = sys::pidfd_open(pid) {
        let _ = sys::pidfd_send_signal(fd, libc::SIGKILL);
        let mut p = [libc::pollfd { fd: fd.0, events: libc::POLLIN, revents: 0 }];
        let _ = sys::poll_for(&mut p, 10_000);
        sys::close(fd);
    }
}

pub fn create(g: &Global, o: &mut Opts, args: &Args, env: &Env) -> Done<'static> {
    create_with(g, o, args, env, None).map(|_| 0)
}

/// Before a container's process is made (create, run, exec): stdio it may be given, and from
/// here on the runtime's file one nothing in the container can change.
pub fn sealed(args: &Args, env: &Env) -> Result<(), Failed> {
    crate::exec::stdio_fit().map_err(|(fd, e)| Fail { step: Step::Stdio, path: fd, errno: e.into_raw(), why: why::HOST_DIRECTORY_AS_STDIO })?;
    crate::exe::run_sealed(args, env).map_err(|e| Fail { step: Step::SelfCopy, path: b"/proc/self/exe", errno: e.errno, why: b"" })
}

/// What `run` asks of create besides: the container's terminal (when it has one and no
/// --console-socket is given) comes here.
#[derive(Default)]
pub struct RunOpts {
    pub detach: bool,
    pub keep: bool,
    /// The terminal's master, received from the container's process (-1: none).
    pub master: i32,
}

/// create's work, for create and for run (with run's options); the id and the container's pid.
pub fn create_with(g: &Global, o: &mut Opts, args: &Args, env: &Env, mut run: Option<&mut RunOpts>) -> Result<(&'static CStr, i32), Failed> {
    let (mut bundle, mut pid_path, mut console, mut preserve, mut no_pivot, mut new_keyring) = (c".", None, None, 0u32, false, true);
    // (detach, d and keep: run's only.)
    const OPTIONS: &OptTable = &(b"bundle b pid-file console-socket preserve-fds no-pivot no-new-keyring detach d keep", &[VALUE, VALUE, 1 | VALUE, 2 | VALUE, 3 | VALUE, 4, 5, 6, 6, 7]);
    let n = if run.is_some() { OPTIONS.1.len() } else { OPTIONS.1.len() - 3 };
    each_option(o, &(OPTIONS.0, &OPTIONS.1[..n]), &mut |i, v| {
        match i {
            0 => bundle = v,
            1 => pid_path = Some(v),
            2 => console = Some(v),
            3 => preserve = small_number(v)?,
            4 => no_pivot = true,
            5 => new_keyring = false,
            6 => run.as_deref_mut().into_iter().for_each(|r| r.detach = true),
            _ => run.as_deref_mut().into_iter().for_each(|r| r.keep = true),
        }
        Ok(())
    })?;
    let id = take_id(g, o)?;
    sealed(args, env)?;
    let mut spec = Spec::new();
    let (bfd, filter) = load(bundle, &mut spec)?;
    // run's own terminal: the container's comes back over a pair of sockets.
    let mut ours = Fd(-1);
    let sock = match (console, run.as_deref()) {
        _ if !spec.process.terminal => Fd(-1),
        (Some(p), _) => sys::connect_unix(p.to_bytes()).map_err(|e| Fail::new(Step::Console, p.to_bytes(), e))?,
        (None, Some(r)) if !r.detach => {
            let (a, b) = sys::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC).map_err(|e| Fail::new(Step::Console, b"", e))?;
            ours = a;
            b
        }
        _ => return Err(Fail::usage(Step::Console, b"process.terminal", why::A_TERMINAL_NEEDS_CONSOLE_SOCKET)),
    };
    let dir = match g.state_root(true).and_then(|root| record::make(root, id)) {
        Ok(d) => d,
        Err(f) => {
            sys::close(sock);
            sys::close(ours);
            return Err(f);
        }
    };
    let mut made = Made { cgroup: Buf::new(), first: 0, pid: 0 };
    let built = build(g, &spec, filter, bfd, dir, id, bundle, (console, sock), preserve, (no_pivot, new_keyring), &mut made);
    sys::close(dir);
    // A pid file that cannot be written fails create, and the container with it.
    let done = built.and_then(|()| pid_path.map_or(Ok(()), |p| pid_file(p, made.pid)));
    if let Err(f) = done {
        sys::close(ours);
        if made.first > 0 {
            let _ = sys::kill(made.first, libc::SIGKILL);
            let _ = sys::wait4(made.first, 0);
        }
        if made.pid > 0 {
            kill_and_wait(made.pid);
        }
        remove_cgroup(made.cgroup.bytes());
        forget(g, id);
        return Err(f);
    }
    if let Some(r) = run {
        r.master = -1;
        if ours.0 >= 0 {
            let mut b = [0u8; 1];
            r.master = sys::recv_fd(ours, &mut b).map_or(-1, |(_, fd)| fd.0);
            sys::close(ours);
        }
    }
    Ok((id, made.pid))
}

#[allow(clippy::too_many_arguments)]
fn build(
    g: &Global,
    spec: &Spec<'static>,
    filter: Option<&Filter>,
    bfd: Fd,
    dir: Fd,
    id: &'static CStr,
    bundle: &'static CStr,
    (console, sock): (Option<&'static CStr>, Fd),
    preserve: u32,
    (no_pivot, new_keyring): (bool, bool),
    made: &mut Made,
) -> Result<(), Fail<'static>> {
    let state = |e| Fail::new(Step::StateDir, record::GATE.to_bytes(), e);
    sys::mknodat(dir, record::GATE, libc::S_IFIFO | 0o600, 0).map_err(state)?;
    let gate = sys::openat(dir, record::GATE, libc::O_RDWR | libc::O_CLOEXEC, 0).map_err(state)?;
    let procs = make_cgroup(g, spec, id.to_bytes(), &mut made.cgroup)?;
    let mut job = Job { spec, process: &spec.process, child: container::setup, fresh: true, filter, bundle: bfd, bundle_path: bundle, chan: Fd(-1), gate, procs, joins: [(Fd(-1), 0); 8], njoins: 0, no_pivot, leave: [dir, g.log, Fd(g.root_fd.get())], new_keyring, preserve };
    for n in spec.namespaces() {
        if let Some(p) = n.path {
            let fd = sys::openat(AT_FDCWD, p, libc::O_RDONLY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Namespace, p.to_bytes(), e))?;
            job.joins[job.njoins] = (fd, n.flag);
            job.njoins += 1;
        }
    }
    container::oom_score(&spec.process)?;
    let (ours, theirs) = sys::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC).map_err(|e| Fail::new(Step::Clone, b"", e))?;
    job.chan = theirs;
    made.first = match sys::clone(libc::SIGCHLD as u64) {
        Ok(0) => container::first(&job),
        Ok(pid) => pid,
        Err(e) => return Err(Fail::new(Step::Clone, b"", e)),
    };
    sys::close(theirs);
    sys::close(gate);
    sys::close(procs);
    for (fd, _) in &job.joins[..job.njoins] {
        sys::close(*fd);
    }
    let first = made.first;
    let ready = container::wait_ready(ours, sock, console, &mut made.pid, &mut || write_maps(first, spec));
    sys::close(ours);
    sys::close(sock);
    ready?;
    let _ = sys::wait4(made.first, 0);
    made.first = 0;
    let ended = Fail::usage(Step::Clone, b"", why::PROCESS_ENDED_BEFORE_READY);
    // The namespace first: the start time read after it says it was the same process's.
    // (A runtime without privileges cannot open it before the container's execve: then the
    // namespace is found through the live process, as on kernels without namespace IDs.)
    let mnt = mnt_ns(made.pid).map_or(0, |ns| {
        let id = mnt_ns_id(ns);
        sys::close(ns);
        id
    });
    let start = record::start_time(made.pid).ok_or(ended)?;
    // The bundle's absolute path, as the engine gave it or from the working directory; the
    // root's, the bundle's with it when relative.
    let mut bundle_abs = Buf::<PATH_MAX>::new();
    if bundle.to_bytes().first() != Some(&b'/') {
        let mut cwd = [0u8; 1024];
        if let Ok(n) = sys::readlink(c"/proc/self/cwd", &mut cwd) {
            bundle_abs.push(&cwd[..n]).push(b"/");
        }
    }
    bundle_abs.push(bundle.to_bytes());
    let mut rootfs = Buf::<PATH_MAX>::new();
    if spec.root.to_bytes().first() != Some(&b'/') {
        rootfs.push(bundle_abs.bytes()).push(b"/");
    }
    rootfs.push(spec.root.to_bytes());
    let rec = record::New { id: id.to_bytes(), pid: made.pid, start, bundle: bundle_abs.bytes(), rootfs: rootfs.bytes(), cgroup: made.cgroup.bytes(), mnt, shared_pid: spec.namespace(libc::CLONE_NEWPID).is_none_or(|n| n.path.is_some()), annotations: spec.annotations };
    record::write(dir, &rec, b"state.json").map_err(|f| Fail { path: b"state.json", ..f })
}

/// Read a container's record; NotFound and the like as a command's failure.
pub fn open(g: &Global, id: &'static CStr) -> Result<Record<'static>, Failed> {
    let space = RECORD.take().ok_or(Fail::new(Step::StateDir, b"", Errno::EBUSY))?;
    record::read(g.state_root(false)?, id, space)
}

/// Remove a container's record (what of it is there).
pub fn forget(g: &Global, id: &CStr) {
    if let Ok(root) = g.state_root(false) {
        record::remove(root, id);
    }
}

fn no_options(g: &Global, o: &mut Opts) -> Result<&'static CStr, Failed> {
    each_option(o, &(b"", &[]), &mut |_, _| Ok(()))?;
    take_id(g, o)
}

pub fn start(g: &Global, o: &mut Opts) -> Done<'static> {
    let id = no_options(g, o)?;
    open_gate(g, id, &open(g, id)?).map(|_| 0)
}

/// Let a created container (its record `r`) run its process.
pub fn open_gate(g: &Global, id: &'static CStr, r: &Record) -> Result<(), Failed> {
    if r.status != Status::Created {
        return Err(Fail::usage(Step::Status, r.status.name(), why::ONLY_CREATED_CAN_START));
    }
    let e = |errno| Fail::new(Step::Gate, record::GATE.to_bytes(), errno);
    let dir = record::open_dir(g.state_root(false)?, id)?;
    let f = sys::openat(dir, record::GATE, libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0).map_err(e);
    if f.is_ok() {
        let _ = sys::unlinkat(dir, record::GATE, 0);
    }
    sys::close(dir);
    let f = f?;
    let w = sys::write(f, b"0");
    sys::close(f);
    w.map(drop).map_err(e)
}

pub fn state(g: &Global, o: &mut Opts) -> Done<'static> {
    let id = no_options(g, o)?;
    let mut b = Buf::<{ record::MAX + 256 }>::new();
    match open(g, id) {
        Ok(r) => print_state(&mut b, id.to_bytes(), &r),
        // Made, not yet recorded: create is at work.
        Err(f) if f.step == Step::Status => {
            b.push(b"{\"ociVersion\":\"1.0.2\",\"id\":");
            json_str(&mut b, id.to_bytes());
            b.push(b",\"status\":\"").push(Status::Creating.name()).push(b"\",\"pid\":0,\"bundle\":\"\"}");
        }
        Err(f) => return Err(f),
    }
    b.push(b"\n");
    let _ = sys::write_all(Fd(1), b.bytes());
    Ok(0)
}

pub fn print_state(b: &mut Bytes<[u8]>, id: &[u8], r: &Record) {
    let s = |k: &[u8]| r.root.bytes_at(k).unwrap_or(b"");
    b.push(b"{\"ociVersion\":\"1.0.2\",\"id\":");
    json_str(b, id);
    b.push(b",\"status\":\"").push(r.status.name()).push(b"\",\"pid\":");
    b.push_u64(if r.status == Status::Stopped { 0 } else { r.pid as u64 });
    b.push(b",\"bundle\":");
    json_str(b, r.bundle.to_bytes());
    b.push(b",\"rootfs\":");
    json_str(b, s(b"rootfs"));
    b.push(b",\"created\":");
    json_str(b, s(b"created"));
    b.push(b",\"annotations\":");
    record::push_object(b, r.root.get(b"annotations"));
    b.push(b",\"owner\":\"\"}");
}

pub fn signal_number(s: &[u8]) -> Option<i32> {
    if let Some(n) = crate::cgroup::parse_u64(s) {
        return (1..=64).contains(&n).then_some(n as i32);
    }
    let name = s.strip_prefix(b"SIG").unwrap_or(s);
    crate::out::word_at(crate::cli::SIGNALS, name).map(|i| i as i32 + 1)
}

/// How deep beneath a container's cgroup its cgroups are looked into (each level holds a
/// descriptor and a small buffer on the stack).
const CGROUP_DEPTH: u32 = 64;

/// The pids in a cgroup and in those beneath it, each given to `f`; false when there is none.
fn cgroup_pids(path: &[u8], f: &mut dyn FnMut(i32)) -> bool {
    if path.is_empty() {
        return false;
    }
    let Ok(dir) = sys::openat(AT_FDCWD, record::cgroup_file(path, b"").c(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0) else { return false };
    each_pid(dir, 0, f);
    sys::close(dir);
    true
}

/// The pids in the cgroup `dir` and beneath it. cgroup.procs is read to its end, a number cut
/// by the end of one read finished by the next: never taken as it stands, where it would name
/// another process.
fn each_pid(dir: Fd, depth: u32, f: &mut dyn FnMut(i32)) {
    if let Ok(procs) = sys::openat(dir, c"cgroup.procs", libc::O_RDONLY | libc::O_CLOEXEC, 0) {
        let mut b = [0u8; 2048];
        let mut kept = 0;
        while let Ok(n @ 1..) = sys::read(procs, &mut b[kept..]) {
            let end = kept + n;
            let mut line = 0;
            for i in 0..end {
                if b[i] == b'\n' {
                    if let Some(pid) = crate::cgroup::parse_u64(&b[line..i]) {
                        f(pid as i32);
                    }
                    line = i + 1;
                }
            }
            b.copy_within(line..end, 0);
            kept = end - line;
        }
        sys::close(procs);
    }
    if depth < CGROUP_DEPTH {
        each_child(dir, &mut |name| {
            if let Ok(c) = sys::openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0) {
                each_pid(c, depth + 1, f);
                sys::close(c);
            }
        });
    }
}

/// Each cgroup directly beneath the cgroup `dir`, by name.
fn each_child(dir: Fd, f: &mut dyn FnMut(&CStr)) {
    each_name(dir, c".", &mut |name, kind| {
        if kind == libc::DT_DIR && !matches!(name.to_bytes(), b"." | b"..") {
            f(name);
        }
    });
}

/// Each name in the directory `path`, with its type (none if it cannot be read).
pub fn each_name(at: Fd, path: &CStr, f: &mut dyn FnMut(&CStr, u8)) {
    let Ok(dir) = sys::openat(at, path, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0) else { return };
    let mut d = [0u8; 8192];
    while let Ok(n @ 1..) = sys::getdents(dir, &mut d) {
        for (name, kind) in sys::dirents(&d[..n]) {
            f(name, kind);
        }
    }
    sys::close(dir);
}

fn mnt_ns(pid: i32) -> Result<Fd, Errno> {
    let mut ns = Buf::<64>::new();
    ns.push(b"/proc/").push_u64(pid as u64).push(b"/ns/mnt");
    sys::openat(AT_FDCWD, ns.c(), libc::O_RDONLY | libc::O_CLOEXEC, 0)
}

/// A mount namespace's ID, unique for the system's life (Linux 6.9); 0 before.
fn mnt_ns_id(ns: Fd) -> u64 {
    const NS_GET_MNTNS_ID: u64 = 0x8008_b705;
    let mut id = 0u64;
    sys::ioctl(ns, NS_GET_MNTNS_ID, &mut id).map_or(0, |()| id)
}

/// Each process of the container, given to `f`: those in its cgroup; or, when it has none,
/// those in its mount namespace, which is its own (found through /proc: without its own PID
/// namespace, a process the container left behind is found only so). The namespace is told
/// by its ID; on a kernel without IDs, by its inode, and only while the container's process
/// lives: a namespace held open cannot have its inode given to another.
pub fn members(r: &Record, f: &mut dyn FnMut(i32)) {
    if cgroup_pids(r.cgroup, f) {
        return;
    }
    let inode = |ns| sys::fstat(ns).map(|s| (s.dev, s.ino)).ok();
    let mut held = None;
    if r.mnt == 0 {
        let Ok(ns) = mnt_ns(r.pid) else { return };
        let id = inode(ns);
        // Still the recorded process after the open: the namespace is its.
        if id.is_none() || record::start_time(r.pid) != Some(r.start) {
            return sys::close(ns);
        }
        held = Some((ns, id));
    }
    each_name(AT_FDCWD, c"/proc", &mut |name, _| {
        let Some(pid) = crate::cgroup::parse_u64(name.to_bytes()) else { return };
        let Ok(ns) = mnt_ns(pid as i32) else { return };
        let same = match held {
            None => mnt_ns_id(ns) == r.mnt,
            Some((_, id)) => inode(ns) == id,
        };
        sys::close(ns);
        if same {
            f(pid as i32);
        }
    });
    if let Some((ns, _)) = held {
        sys::close(ns);
    }
}

/// SIGKILL every process of the container, again while any is left (one may have forked
/// between the listing and the signal), until none is or only a hang would keep one. A cgroup
/// is killed whole by the kernel (cgroup.kill, Linux 5.14: those beneath it and those forking
/// too); on older kernels each process listed is.
fn kill_members(r: &Record) {
    for _ in 0..10_000 {
        let whole = cgroup_write(r.cgroup, b"/cgroup.kill", b"1").is_ok();
        let mut any = false;
        members(r, &mut |pid| {
            if !whole {
                signal_pid(pid, libc::SIGKILL);
            }
            any = true;
        });
        if !any {
            return;
        }
        sys::sleep_ms(1);
    }
}

/// Signal a process through a pidfd (taken now, so the number is not reused under us).
fn signal_pid(pid: i32, sig: i32) {
    if let Ok(p) = sys::pidfd_open(pid) {
        let _ = sys::pidfd_send_signal(p, sig);
        sys::close(p);
    }
}

pub fn kill(g: &Global, o: &mut Opts) -> Done<'static> {
    let mut all = false;
    each_option(o, &(b"all a", &[0, 0]), &mut |_, _| {
        all = true;
        Ok(())
    })?;
    let id = take_id(g, o)?;
    let sig = match o.word() {
        None => libc::SIGTERM,
        Some(s) => signal_number(s.to_bytes()).ok_or(Fail::usage(Step::Signal, s.to_bytes(), why::A_NUMBER_TERM_OR_SIGTERM))?,
    };
    let r = open(g, id)?;
    let Some(fd) = record::pidfd(&r).filter(|_| r.status != Status::Stopped) else {
        return Err(Fail::usage(Step::Signal, b"", why::CONTAINER_NOT_RUNNING));
    };
    if all {
        // Frozen while listed and signalled, so that none forks past the signal (thawed after
        // unless it was paused); SIGKILL goes to the whole cgroup at once.
        if sig != libc::SIGKILL || cgroup_write(r.cgroup, b"/cgroup.kill", b"1").is_err() {
            let froze = r.status != Status::Paused && freeze_file(r.cgroup, true).is_ok();
            members(&r, &mut |pid| signal_pid(pid, sig));
            if froze {
                let _ = freeze_file(r.cgroup, false);
            }
        }
    }
    let res = sys::pidfd_send_signal(fd, sig);
    sys::close(fd);
    res.map_err(|e| Fail::new(Step::Signal, b"", e))?;
    Ok(0)
}

pub fn delete(g: &Global, o: &mut Opts) -> Done<'static> {
    let mut force = false;
    each_option(o, &(b"force f", &[0, 0]), &mut |_, _| {
        force = true;
        Ok(())
    })?;
    let id = take_id(g, o)?;
    let r = match open(g, id) {
        Ok(r) => r,
        // (Not one of another user's: that is refused, --force or not.)
        Err(f) if force && matches!(f.step, Step::NotFound | Step::Status | Step::StateDir) && f.why != why::NOT_YOURS => {
            forget(g, id);
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    if matches!(r.status, Status::Running | Status::Paused) && !force {
        return Err(Fail::usage(Step::Delete, r.status.name(), why::RUNNING_STOP_IT_FIRST));
    }
    remove(g, id, &r);
    Ok(0)
}

/// Remove a container: what is left of its processes killed, its cgroup and record removed.
pub fn remove(g: &Global, id: &CStr, r: &Record) {
    if r.status == Status::Paused {
        let _ = freeze_file(r.cgroup, false);
    }
    // What is left of a stopped one too: without its own PID namespace, what its process
    // started outlives it. With one, the kernel kills the rest with the process, and what is in
    // the cgroup of a stopped one is another container's, which may have been given it since.
    if r.shared_pid || (r.status != Status::Stopped && !r.cgroup.is_empty()) {
        kill_members(r);
    }
    if let Some(fd) = record::pidfd(r) {
        let _ = sys::pidfd_send_signal(fd, libc::SIGKILL);
        let mut p = [libc::pollfd { fd: fd.0, events: libc::POLLIN, revents: 0 }];
        let _ = sys::poll_for(&mut p, -1);
        sys::close(fd);
    }
    remove_cgroup(r.cgroup);
    forget(g, id);
}

/// Write cgroup.freeze of a cgroup.
pub fn freeze_file(cgroup: &[u8], on: bool) -> Result<(), Errno> {
    cgroup_write(cgroup, b"/cgroup.freeze", if on { b"1" } else { b"0" })
}

/// Write `/FILE` of a cgroup (ENOENT when the container has none).
fn cgroup_write(cgroup: &[u8], file: &[u8], v: &[u8]) -> Result<(), Errno> {
    if cgroup.is_empty() {
        return Err(Errno::ENOENT);
    }
    sys::write_file(AT_FDCWD, record::cgroup_file(cgroup, file).c(), v)
}
