//! Inside: the container's process, from clone to execve.
//!
//! `create` clones a first process, which joins the cgroup and the namespaces named by path
//! (the user namespace first), makes a new user namespace (create writes its maps), then the
//! other new namespaces, and forks the container's process into them: in a new PID namespace
//! only a child is, and it is PID 1 there. The first process tells create the pid and exits;
//! the container's process is re-parented to the engine's subreaper.
//!
//! The container's process builds the root: the bundle's rootfs as a bind mount of its own,
//! the mounts of config.json on it, /dev, the terminal, pivot_root; then sysctls, masked and
//! read-only paths, the hostname and rlimits, and looks process.args up. Every
//! path inside is resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the root's
//! descriptor and used through the descriptor resolution gave: no symlink leads out of the root,
//! and nothing is resolved twice. It tells create it is ready and waits on the gate, a FIFO
//! in the state directory held open since before pivot_root, until `start` writes to it. Then
//! the process's own confinement (`finish`, which `exec` shares): user and groups, the five
//! capability sets, no_new_privs, seccomp, the working directory, every descriptor closed but
//! stdio and --preserve-fds, and execve.

use super::config::{Mount, Opt, Process, COPY_UP, Spec, AMBIENT, BOUNDING, EFFECTIVE, INHERITABLE, PERMITTED};
use super::confine::{self, Filter};
use super::{Fail, Step};
use crate::out::Buf;
use crate::root::via;
use crate::state::PATH_MAX;
use crate::sys::{self, Errno, Fd, PtrArray, AT_FDCWD};
use core::ffi::CStr;

// ---- the channel between create and the container's processes --------------------------------

pub const FAIL: u8 = 1;
pub const MAPS: u8 = 2;
pub const GO: u8 = 3;
pub const PID: u8 = 4;
pub const PTY: u8 = 5;
pub const READY: u8 = 6;
const HEAD: usize = 16;
pub const MSG_MAX: usize = HEAD + 1024;

pub enum Msg<'a> {
    Fail(Fail<'a>),
    Maps,
    Go,
    Pid(i32),
    Pty(Fd),
    Ready,
}

pub fn send(fd: Fd, kind: u8, f: Option<&Fail>, value: u64) {
    let mut m = [0u8; MSG_MAX];
    m[0] = kind;
    let mut n = HEAD;
    if let Some(f) = f {
        m[1] = f.step as u8;
        m[4..8].copy_from_slice(&f.errno.to_ne_bytes());
        let k = f.path.len().min(MSG_MAX - HEAD);
        m[HEAD..HEAD + k].copy_from_slice(&f.path[..k]);
        n += k;
    }
    m[8..16].copy_from_slice(&value.to_ne_bytes());
    let _ = sys::write(fd, &m[..n]);
}

pub fn fail(fd: Fd, f: &Fail) -> ! {
    send(fd, FAIL, Some(f), 0);
    sys::exit(1)
}

/// `fail` with the failure's parts (one place that makes it, not one a call site).
#[inline(never)]
fn failed(fd: Fd, step: Step, path: &[u8], e: Errno) -> ! {
    fail(fd, &Fail::new(step, path, e))
}

/// The next message, or None at end-of-file (every process holding the other end is gone).
pub fn recv(fd: Fd, buf: &mut [u8; MSG_MAX]) -> Option<Msg<'_>> {
    let (n, passed) = loop {
        match sys::recv_fd(fd, buf) {
            Err(Errno::EINTR) => continue,
            Ok((n, passed)) if n > 0 && buf[0] == PTY => return Some(Msg::Pty(passed)),
            Ok((n, passed)) if n >= HEAD => break (n, passed),
            _ => return None,
        }
    };
    sys::close(passed);
    let mut v = [0u8; 8];
    v.copy_from_slice(&buf[8..16]);
    let value = u64::from_ne_bytes(v);
    Some(match buf[0] {
        MAPS => Msg::Maps,
        GO => Msg::Go,
        PID => Msg::Pid(value as i32),
        READY => Msg::Ready,
        _ => {
            let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
            Msg::Fail(Fail { step: Step::from_u8(buf[1]), path: &buf[HEAD..n], errno, why: b"" })
        }
    })
}

/// After a failure: the rest of the messages, to the end (the first process and the failed one
/// both gone), for the pid if it was not told yet, so that the failed process can be reaped.
pub fn drain(fd: Fd, buf: &mut [u8; MSG_MAX], mut pid: i32) -> i32 {
    while let Some(m) = recv(fd, buf) {
        if let Msg::Pid(p) = m {
            pid = p;
        }
    }
    pid
}

static MESSAGE: sys::Static<[u8; MSG_MAX]> = sys::Static::new([0; MSG_MAX]);
static FAILED_PATH: sys::Static<[u8; MSG_MAX]> = sys::Static::new([0; MSG_MAX]);

/// The engine's side of the channel: wait until the new process is ready (its pid in `pid`),
/// passing its terminal on to the console socket and writing its id maps when asked. After a
/// failure `pid` is still learnt, if the process was made, for it to be reaped.
pub fn wait_ready(ours: Fd, sock: Fd, console: Option<&'static CStr>, pid: &mut i32, maps: &mut dyn FnMut() -> Result<(), Fail<'static>>) -> Result<(), Fail<'static>> {
    let buf = MESSAGE.take().ok_or(Fail::new(Step::Clone, b"", Errno::EBUSY))?;
    let kept = FAILED_PATH.take().ok_or(Fail::new(Step::Clone, b"", Errno::EBUSY))?;
    let mut ready = false;
    loop {
        let r = match recv(ours, buf) {
            // A failure is told too: the process waits for a word either way.
            Some(Msg::Maps) => maps().map(|()| send(ours, GO, None, 0)).inspect_err(|f| send(ours, FAIL, Some(f), 0)),
            // The new process may be ready before the first one told its pid.
            Some(Msg::Pid(p)) => {
                *pid = p;
                if ready {
                    return Ok(());
                }
                Ok(())
            }
            Some(Msg::Ready) if *pid > 0 => return Ok(()),
            Some(Msg::Ready) => {
                ready = true;
                Ok(())
            }
            Some(Msg::Pty(m)) => {
                let r = sys::send_fd(sock, 0, m);
                sys::close(m);
                r.map_err(|e| Fail::new(Step::Console, console.map_or(&b""[..], |c| c.to_bytes()), e))
            }
            Some(Msg::Fail(f)) => {
                // The message's buffer is read again: the path is kept apart.
                let n = f.path.len().min(kept.len());
                kept[..n].copy_from_slice(&f.path[..n]);
                let f = Fail { path: b"", ..f };
                *pid = drain(ours, buf, *pid);
                let kept: &'static [u8] = kept;
                return Err(Fail { path: &kept[..n], ..f });
            }
            Some(Msg::Go) => Ok(()),
            None => Err(Fail::usage(Step::Clone, b"", b"the new process ended before it was ready")),
        };
        if let Err(f) = r {
            *pid = drain(ours, buf, *pid);
            return Err(f);
        }
    }
}

// ---- the first process ------------------------------------------------------------------------

/// What the container's processes get from create (they are fork-like clones: all of it is
/// theirs to read).
pub struct Job<'a> {
    pub spec: &'a Spec<'static>,
    /// The process to run: the spec's, or exec's.
    pub process: &'a Process<'static>,
    /// What the new process does: build the container (`setup`), or exec's part.
    pub child: fn(&Job) -> Fail<'static>,
    /// Whether the spec's new namespaces are made (create) or only joined ones entered (exec).
    pub fresh: bool,
    pub filter: Option<&'a Filter>,
    /// The bundle, opened by create (to compare), and its path, opened again here: a
    /// descriptor from before unshare(CLONE_NEWNS) leads to the old namespace's mounts (the
    /// engine's rootfs mount there), which open_tree refuses.
    pub bundle: Fd,
    pub bundle_path: &'static CStr,
    pub chan: Fd,
    /// The gate, open for reading and writing (so that opening it does not wait).
    pub gate: Fd,
    /// The cgroup's cgroup.procs, open for writing, or -1.
    pub procs: Fd,
    /// Namespaces named by path, opened by create: (fd, CLONE_NEW* flag).
    pub joins: [(Fd, i32); 8],
    pub njoins: usize,
    pub no_pivot: bool,
    /// Host descriptors create or exec hold that the new processes must not (the container's
    /// state directory, the --log file, the --root directory): closed first thing after clone.
    pub leave: [Fd; 3],
    /// --no-new-keyring not given: the container gets a session keyring of its own.
    pub new_keyring: bool,
    pub preserve: u32,
}

const NEW_FLAGS: [i32; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWPID,
    0x80, // CLONE_NEWTIME
];

/// The first process: cgroup, namespaces, then the container's process forked into them.
pub fn first(job: &Job) -> ! {
    let chan = job.chan;
    for fd in job.leave {
        sys::close(fd);
    }
    // No signal blocked for the container's process (run and exec block theirs to pass them on).
    let _ = sys::sigprocmask(libc::SIG_SETMASK, sys::SigSet(0));
    if job.procs.0 >= 0 {
        if let Err(e) = sys::write(job.procs, b"0") {
            failed(chan, Step::Cgroup, b"cgroup.procs", e);
        }
        sys::close(job.procs);
    }
    // The user namespace first: the others named by path are owned by it.
    let joins = &job.joins[..job.njoins];
    for pass in [true, false] {
        for &(fd, flag) in joins {
            if (flag == libc::CLONE_NEWUSER) == pass {
                if let Err(e) = sys::setns(fd, flag) {
                    let path = job.spec.namespace(flag).and_then(|n| n.path).map_or(&b""[..], |p| p.to_bytes());
                    failed(chan, Step::Namespace, path, e);
                }
                sys::close(fd);
            }
        }
    }
    let new = |flag: i32| job.fresh && job.spec.namespace(flag).is_some_and(|n| n.path.is_none());
    if new(libc::CLONE_NEWUSER) {
        let root = sys::geteuid() == 0;
        if let Err(e) = sys::unshare(libc::CLONE_NEWUSER) {
            failed(chan, Step::Clone, b"user", e);
        }
        // The maps are written by create. The /proc files of a process that is not dumpable
        // are the root's of the user namespace it was started in: create's own when it is root
        // there (of the host, or of the namespace a rootless engine runs it in). A runtime of
        // another uid may open them only while the process is dumpable: for that moment alone,
        // and only then. A dumpable process in a user namespace of a uid's is open (its root,
        // cwd and descriptors, the host's here) to every process of that uid in the namespace
        // above: for a runtime run as root there, the processes of the rootless engine's other
        // containers (chrooted, without capabilities; the host's PIDs seen with --pid=host).
        // Outside any user namespace, the user's own processes only.
        if !root {
            let _ = sys::prctl(libc::PR_SET_DUMPABLE, 1);
        }
        send(chan, MAPS, None, 0);
        let mut buf = [0u8; MSG_MAX];
        let go = matches!(recv(chan, &mut buf), Some(Msg::Go));
        let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
        if !go {
            sys::exit(1);
        }
        if let Err(e) = sys::setresgid(0).and_then(|()| sys::setresuid(0)) {
            failed(chan, Step::IdMap, b"0", e);
        }
    }
    let flags = NEW_FLAGS.iter().filter(|&&f| new(f)).fold(0, |a, f| a | f);
    if let Err(e) = sys::unshare(flags) {
        failed(chan, Step::Clone, b"", e);
    }
    match sys::clone(libc::SIGCHLD as u64) {
        Ok(0) => fail(chan, &(job.child)(job)),
        Ok(pid) => {
            send(chan, PID, None, pid as u64);
            sys::exit(0)
        }
        Err(e) => failed(chan, Step::Clone, b"", e),
    }
}

// ---- paths inside the root ---------------------------------------------------------------------

const IN_ROOT: u64 = 0x10 | 0x02; // RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS

/// An O_PATH fd for `path` inside `root` (symlinks followed, but only inside it). With
/// `make`, missing components are made: directories, and the last one an empty file unless
/// `dir`.
pub fn resolve(root: Fd, path: &[u8], dir: bool, make: bool) -> Result<Fd, Errno> {
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    let mut p = Buf::<PATH_MAX>::new();
    p.push(path);
    if p.overflowed() {
        return Err(Errno::ENAMETOOLONG);
    }
    match sys::openat2(root, p.c(), flags, IN_ROOT) {
        Err(Errno::ENOENT) if make => {}
        r => return r,
    }
    // Component by component, each prefix resolved from the root again; a missing one is made
    // in the directory the prefix before it resolved to.
    let mut parent = root;
    let mut end = 0;
    for name in path.split(|&c| c == b'/') {
        end += name.len();
        let (upto, rest) = path.split_at(end);
        end += 1;
        if name.is_empty() {
            continue;
        }
        let last = rest.iter().all(|&c| c == b'/');
        p.clear();
        p.push(upto);
        let fd = match sys::openat2(root, p.c(), flags, IN_ROOT) {
            Err(Errno::ENOENT) => {
                let mut n = Buf::<256>::new();
                n.push(name);
                let made = if last && !dir {
                    sys::openat(parent, n.c(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o644).map(sys::close)
                } else {
                    sys::mkdirat(parent, n.c(), 0o755)
                };
                match made {
                    Ok(()) | Err(Errno::EEXIST) => sys::openat2(root, p.c(), flags, IN_ROOT),
                    Err(e) => Err(e),
                }
            }
            r => r,
        };
        if parent.0 != root.0 {
            sys::close(parent);
        }
        match fd {
            Ok(fd) if !last => parent = fd,
            r => return r,
        }
    }
    Err(Errno::EINVAL)
}

// ---- the root ------------------------------------------------------------------------------------

/// MS_* flags to MOUNT_ATTR_* ones (for binds, changed with mount_setattr): MS_RDONLY,
/// MS_NOSUID, MS_NODEV and MS_NOEXEC are the same bits as their MOUNT_ATTR_*, MS_NODIRATIME
/// is not.
fn attrs(flags: u64) -> u64 {
    const SAME: u64 = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    const _: () = assert!(libc::MS_RDONLY == libc::MOUNT_ATTR_RDONLY && libc::MS_NOSUID == libc::MOUNT_ATTR_NOSUID && libc::MS_NODEV == libc::MOUNT_ATTR_NODEV && libc::MS_NOEXEC == libc::MOUNT_ATTR_NOEXEC);
    flags & SAME | if flags & libc::MS_NODIRATIME != 0 { libc::MOUNT_ATTR_NODIRATIME } else { 0 }
}

/// A detached clone of the mount at `path` of `dir` (of its whole tree with `rec`), `set`
/// and `clear` applied to its attributes.
#[inline(never)]
fn clone_tree(dir: Fd, path: &CStr, rec: bool, set: u64, clear: u64) -> Result<Fd, Errno> {
    let rec = if rec { libc::AT_RECURSIVE } else { 0 };
    let tree = sys::open_tree(dir, path, 1 /* OPEN_TREE_CLONE */ | (libc::AT_EMPTY_PATH | rec) as u32)?;
    if set | clear != 0 {
        sys::mount_setattr(tree, c"", libc::AT_EMPTY_PATH | rec, set, clear).inspect_err(|_| sys::close(tree))?;
    }
    Ok(tree)
}

/// A clone of the mount at `path` of `dir` (`clone_tree`) attached onto `to`.
#[inline(never)]
fn graft(dir: Fd, path: &CStr, rec: bool, set: u64, to: Fd) -> Result<(), Errno> {
    let tree = clone_tree(dir, path, rec, set, 0)?;
    let r = sys::move_mount(tree, to);
    sys::close(tree);
    r
}

/// The data string of a mount: its options that are not flags, comma-separated.
fn data(m: &Mount, out: &mut Buf<1024>) {
    for o in m.options.iter().flat_map(|v| v.items()) {
        let o = o.bytes().unwrap_or(b"");
        if let Opt::Data = super::config::mount_option(o) {
            if out.len() > 0 {
                out.push(b",");
            }
            out.push(o);
        }
    }
}

fn bind(root: Fd, bundle: Fd, m: &Mount) -> Result<(), Errno> {
    let src_path = m.source.unwrap_or(c"");
    let src = sys::openat(bundle, src_path, libc::O_PATH | libc::O_CLOEXEC, 0)?;
    let kind = sys::fstat(src).map(|s| s.mode & libc::S_IFMT)?;
    let is_dir = kind == libc::S_IFDIR;
    // nodev, but for a device the engine gives by bind (a node of the host's /dev).
    let nodev = if kind == libc::S_IFCHR || kind == libc::S_IFBLK { 0 } else { libc::MOUNT_ATTR_NODEV };
    let tree = clone_tree(src, c"", m.flags & libc::MS_REC != 0, attrs(m.flags) | nodev, attrs(m.clear) & !nodev);
    sys::close(src);
    let tree = tree?;
    let r = resolve(root, m.dest.to_bytes(), is_dir, true)
        .and_then(|dst| {
            let r = sys::move_mount(tree, dst);
            sys::close(dst);
            r
        })
        .and_then(|()| match m.propagation {
            0 => Ok(()),
            p => sys::mount(None, via(tree).c(), None, p, None),
        });
    sys::close(tree);
    r
}

/// Opening the image's files for tmpcopyup: never through a symlink, never waiting on a FIFO.
const RD: i32 = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

/// A file's content, `size` bytes at most, its holes left holes (a sparse file of the image
/// takes no more room in the tmpfs than on disk); a tmpfs too small fails (ENOSPC).
fn copy_data(s: Fd, d: Fd, size: u64) -> Result<(), Errno> {
    let mut at = 0;
    while at < size {
        let data = match sys::lseek(s, at, libc::SEEK_DATA) {
            Ok(x) => x,
            Err(Errno::ENXIO) => break,
            Err(_) => at,
        };
        let hole = sys::lseek(s, data, libc::SEEK_HOLE).ok().filter(|&h| h > data).unwrap_or(size).min(size);
        sys::lseek(s, data, libc::SEEK_SET)?;
        sys::lseek(d, data, libc::SEEK_SET)?;
        at = data;
        while at < hole {
            match sys::sendfile(d, s, (hole - at).min(1 << 30) as usize)? {
                0 => return sys::ftruncate(d, at),
                n => at += n as u64,
            }
        }
    }
    sys::ftruncate(d, size.max(at))
}

/// tmpcopyup: the directory `name` of `from` (the image's) copied into the directory `name` of
/// `to` (the new tmpfs, or a directory in it), its entries, owner and mode; `depth` levels of
/// directories at most (two fds each). By descriptor only, and no symlink of the image is
/// followed: it is copied as one. Directories, regular files, symlinks and FIFOs are copied;
/// device nodes and sockets are left out. On failure `at` names the entry.
fn copy_up(from: Fd, to: Fd, name: &CStr, depth: u32, at: &mut Buf<PATH_MAX>) -> Result<(), Errno> {
    if depth == 0 {
        // Deeper than the fds allowed: "too long" a path.
        return Err(Errno::ENAMETOOLONG);
    }
    let from = sys::openat(from, name, RD | libc::O_DIRECTORY, 0)?;
    let to = sys::openat(to, name, RD | libc::O_DIRECTORY, 0);
    let r = to.and_then(|to| {
        // The copy's owner and mode (none for a symlink: chmod would follow it). An owner not
        // mapped in a user namespace is left to root, and the copy then has no set-user-ID or
        // set-group-ID bit: the image's file ran as no one (an owner not mapped gives nothing
        // at execve), root's copy would run as root.
        let own = |name: &CStr, st: &sys::Stat| {
            let mut mode = st.mode & 0o7777;
            match sys::fchownat(to, name, st.uid, st.gid, libc::AT_SYMLINK_NOFOLLOW) {
                Ok(()) => {}
                Err(Errno::EINVAL) => mode &= !(libc::S_ISUID | libc::S_ISGID),
                Err(e) => return Err(e),
            }
            match st.mode & libc::S_IFMT {
                libc::S_IFLNK => Ok(()),
                _ => sys::fchmodat(to, name, mode),
            }
        };
        let mut buf = [0u8; 1024];
        loop {
            let n = sys::getdents(from, &mut buf)?;
            if n == 0 {
                return own(c".", &sys::fstat(from)?);
            }
            for (name, _) in sys::dirents(&buf[..n]) {
                if matches!(name.to_bytes(), b"." | b"..") {
                    continue;
                }
                let mut p = Buf::<PATH_MAX>::new();
                p.push(at.bytes()).push(b"/").push(name.to_bytes());
                let r = (|| {
                    let st = sys::stat_at(from, name, libc::AT_SYMLINK_NOFOLLOW)?;
                    match st.mode & libc::S_IFMT {
                        libc::S_IFDIR => return sys::mkdirat(to, name, 0o700).and_then(|()| copy_up(from, to, name, depth - 1, &mut p)),
                        libc::S_IFREG => {
                            let s = sys::openat(from, name, RD, 0)?;
                            let r = sys::openat(to, name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o600).and_then(|d| {
                                let r = copy_data(s, d, st.size);
                                sys::close(d);
                                r
                            });
                            sys::close(s);
                            r?;
                        }
                        libc::S_IFLNK => {
                            let mut t = [0u8; PATH_MAX];
                            let k = sys::readlinkat(from, name, &mut t[..PATH_MAX - 1])?;
                            sys::symlinkat(CStr::from_bytes_until_nul(&t[..=k]).unwrap_or(c""), to, name)?;
                        }
                        libc::S_IFIFO => sys::mknodat(to, name, libc::S_IFIFO | 0o600, 0)?,
                        _ => return Ok(()),
                    }
                    own(name, &st)
                })();
                if r.is_err() {
                    at.clear();
                    at.push(p.bytes());
                    return r;
                }
            }
        }
    });
    sys::close(from);
    if let Ok(to) = to {
        sys::close(to);
    }
    r
}

/// tmpcopyup: the tmpfs made apart (fsopen, fsmount), the image's directory `dst` copied into
/// it by the new mount's own descriptor, then moved onto `dst`. Nothing is resolved again by
/// path: the image may have been changed meanwhile (its directory swapped for a symlink to,
/// or renamed for, another mount of the container's, a volume of the host's), and the copy,
/// with its owners and modes, must land in this tmpfs and nowhere else.
fn copy_mount(src: &CStr, dst: Fd, flags: u64, data: &[u8], at: &mut Buf<PATH_MAX>) -> Result<(), Errno> {
    let fs = sys::fsopen(c"tmpfs")?;
    let set = |key: &[u8], value: Option<&[u8]>| {
        let (mut k, mut v) = (Buf::<256>::new(), Buf::<1024>::new());
        k.push(key);
        let cmd = match value {
            Some(x) => {
                v.push(x);
                sys::FSCONFIG_SET_STRING
            }
            None => sys::FSCONFIG_SET_FLAG,
        };
        sys::fsconfig(fs, cmd, Some(k.c()), value.map(|_| v.c()))
    };
    let mut r = set(b"source", Some(src.to_bytes()));
    for o in data.split(|&c| c == b',').filter(|o| !o.is_empty()) {
        r = r.and_then(|()| match o.iter().position(|&c| c == b'=') {
            Some(i) => set(&o[..i], Some(&o[i + 1..])),
            None => set(o, None),
        });
    }
    for (ms, key) in [(libc::MS_SYNCHRONOUS, &b"sync"[..]), (libc::MS_DIRSYNC, b"dirsync"), (libc::MS_MANDLOCK, b"mand")] {
        if flags & ms != 0 {
            r = r.and_then(|()| set(key, None));
        }
    }
    // Read-only once filled.
    let mut a = attrs(flags) & !libc::MOUNT_ATTR_RDONLY;
    if flags & libc::MS_NOATIME != 0 {
        a |= libc::MOUNT_ATTR_NOATIME;
    } else if flags & libc::MS_STRICTATIME != 0 {
        a |= libc::MOUNT_ATTR_STRICTATIME;
    }
    let mnt = r.and_then(|()| sys::fsconfig(fs, sys::FSCONFIG_CMD_CREATE, None, None)).and_then(|()| sys::fsmount(fs, a));
    sys::close(fs);
    let mnt = mnt?;
    let r = copy_up(dst, mnt, c".", 33, at)
        .and_then(|()| match flags & libc::MS_RDONLY {
            0 => Ok(()),
            _ => sys::mount_setattr(mnt, c"", libc::AT_EMPTY_PATH, libc::MOUNT_ATTR_RDONLY, 0),
        })
        .and_then(|()| sys::move_mount(mnt, dst));
    sys::close(mnt);
    r
}

/// One mount of config.json; on failure `at` (the destination) may name the entry of it that
/// failed.
#[inline(never)] // smaller than inlined in `build`
fn mount_one(root: Fd, bundle: Fd, m: &Mount, userns: bool, at: &mut Buf<PATH_MAX>) -> Result<(), Errno> {
    if m.is_bind() {
        return bind(root, bundle, m);
    }
    let mut kind = m.kind.unwrap_or(c"none");
    let mut flags = m.flags;
    // The types treated apart, by their number here.
    let k = crate::out::word_at(b"cgroup cgroup2 sysfs proc devpts tmpfs", kind.to_bytes());
    if let Some(0 | 1) = k {
        // cgroup v2 only; read-only unless asked otherwise.
        kind = c"cgroup2";
    }
    // devpts holds only the kernel's terminals; /dev gets nodev once its nodes are bound (`dev`).
    if k != Some(4) && m.dest.to_bytes() != b"/dev" {
        flags |= libc::MS_NODEV;
    }
    if let Some(2 | 3) = k {
        // No symlink on the way to /proc or /sys (runc's checkProcMount): an image must not
        // move them where a later mount hides them, and their masks with them.
        match sys::openat2(root, m.dest, libc::O_PATH | libc::O_CLOEXEC, 0x10 | 0x04 /* IN_ROOT | NO_SYMLINKS */) {
            Ok(fd) => sys::close(fd),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    let mut d = Buf::<1024>::new();
    data(m, &mut d);
    let dest = m.dest.to_bytes();
    // tmpcopyup: from the image's directory, `dst`, into a tmpfs made apart (copy_mount). A
    // mount point made here has nothing to copy.
    let mut copy = k == Some(5) && flags & COPY_UP != 0;
    flags &= !COPY_UP;
    let dst = match resolve(root, dest, true, false) {
        Err(Errno::ENOENT) => {
            copy = false;
            resolve(root, dest, true, true)?
        }
        x => x?,
    };
    let src = m.source.unwrap_or(kind);
    let mut r = if copy && flags & libc::MS_REMOUNT == 0 {
        copy_mount(src, dst, flags, d.bytes(), at)
    } else {
        sys::mount(Some(src), via(dst).c(), Some(kind), flags, if d.len() > 0 { Some(d.c()) } else { None })
    };
    let host = match k {
        Some(2) => Some(c"/sys"),
        Some(0 | 1) => Some(c"/sys/fs/cgroup"),
        _ => None,
    };
    if let (Err(Errno::EPERM), true, Some(host)) = (r, userns, host) {
        // A user namespace may mount sysfs only with a network namespace of its own, and
        // cgroup2 only with a cgroup namespace: the host's, bound read-only, as runc does.
        flags |= libc::MS_RDONLY;
        r = graft(AT_FDCWD, host, true, attrs(flags), dst);
    }
    sys::close(dst);
    r?;
    if m.propagation != 0 {
        let again = resolve(root, m.dest.to_bytes(), true, false)?;
        let r = sys::mount(None, via(again).c(), None, m.propagation, None);
        sys::close(again);
        r?;
    }
    Ok(())
}

fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
}

/// The nodes every container has, as runc makes them: their paths, and (major, minor) each.
const DEFAULT_DEVICES: &[u8] = b"/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty";
const DEFAULT_NUMBERS: [(u8, u8); 6] = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0)];

/// The symlinks of /dev, as runc makes them: (target, name).
static DEV_LINKS: [(&CStr, &CStr); 6] = [(c"/proc/self/fd", c"fd"), (c"/proc/self/fd/0", c"stdin"), (c"/proc/self/fd/1", c"stdout"), (c"/proc/self/fd/2", c"stderr"), (c"pts/ptmx", c"ptmx"), (c"/proc/kcore", c"core")];

/// A device node at `path` (under /dev): made with mknod, or, in a user namespace (where
/// mknod makes nothing that opens), the host's node bound onto an empty file.
#[allow(clippy::too_many_arguments)] // a node's fields, as linux.devices gives them
fn device(root: Fd, path: &[u8], kind: u32, major: u64, minor: u64, mode: u32, owner: Option<(u32, u32)>, userns: bool) -> Result<(), Errno> {
    let slash = path.iter().rposition(|&c| c == b'/').unwrap_or(0);
    let dir = resolve(root, &path[..slash.max(1)], true, true)?;
    let mut name = Buf::<256>::new();
    name.push(&path[slash + 1..]);
    let r = if userns {
        let mut host = Buf::<PATH_MAX>::new();
        host.push(path);
        sys::openat(dir, name.c(), libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o644).map(sys::close).and_then(|()| {
            let dst = sys::openat(dir, name.c(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0)?;
            let r = graft(AT_FDCWD, host.c(), false, 0, dst);
            sys::close(dst);
            r
        })
    } else {
        match sys::mknodat(dir, name.c(), kind | mode, makedev(major, minor)) {
            Err(Errno::EEXIST) => Ok(()),
            r => r.and_then(|()| {
                let _ = sys::fchmodat(dir, name.c(), mode);
                match owner {
                    Some((u, g)) => sys::fchownat(dir, name.c(), u, g, libc::AT_SYMLINK_NOFOLLOW),
                    None => Ok(()),
                }
            }),
        }
    };
    sys::close(dir);
    r
}

fn dev(root: Fd, spec: &Spec<'static>, userns: bool, tmpfs: bool) -> Result<(), Fail<'static>> {
    if tmpfs {
        for (path, &(major, minor)) in crate::out::words(DEFAULT_DEVICES).zip(&DEFAULT_NUMBERS) {
            // Named in a failure without "/dev/".
            let name = path.get(5..).unwrap_or(path);
            device(root, path, libc::S_IFCHR, major as u64, minor as u64, 0o666, None, userns).map_err(|e| Fail::new(Step::Device, name, e))?;
        }
        let dev = resolve(root, b"/dev", true, false).map_err(|e| Fail::new(Step::Device, b"/dev", e))?;
        for &(target, link) in &DEV_LINKS {
            match sys::symlinkat(target, dev, link) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(Fail::new(Step::Device, link.to_bytes(), e)),
            }
        }
        sys::close(dev);
    }
    for d in spec.devices() {
        let path: &'static [u8] = d.path.to_bytes();
        device(root, path, d.kind, d.major, d.minor, d.mode, Some((d.uid, d.gid)), userns).map_err(|e| Fail::new(Step::Device, path, e))?;
    }
    if tmpfs {
        only_these_nodes(root, spec).map_err(|e| Fail::new(Step::Device, b"/dev", e))?;
    }
    Ok(())
}

/// /dev made nodev, with the nodes made above (the defaults and linux.devices) still usable:
/// each is cloned as a bind mount of its own while /dev has no nodev yet, and put back on
/// itself after. A node made later in /dev (CAP_MKNOD) opens nothing, as no device cgroup is
/// used (linux.resources.devices is not enforced: what the container can open is this list).
fn only_these_nodes(root: Fd, spec: &Spec<'static>) -> Result<(), Errno> {
    let mut nodes = [(Fd(-1), Fd(-1)); DEFAULT_NUMBERS.len() + super::config::MAX_DEVICES];
    let mut n = 0;
    let mut path = Buf::<PATH_MAX>::new();
    let paths = crate::out::words(DEFAULT_DEVICES).chain(spec.devices().iter().map(|d| d.path.to_bytes()));
    for p in paths {
        path.clear();
        if !p.starts_with(b"/") {
            path.push(b"/dev/");
        }
        path.push(p);
        let Ok(node) = resolve(root, path.bytes(), false, false) else { continue };
        match sys::fstat(node).map(|s| s.mode & libc::S_IFMT) {
            Ok(libc::S_IFCHR | libc::S_IFBLK) => {}
            _ => {
                sys::close(node);
                continue;
            }
        }
        let clone = clone_tree(node, c"", false, 0, 0)?;
        nodes[n] = (node, clone);
        n += 1;
    }
    let dev = resolve(root, b"/dev", true, false)?;
    let r = sys::mount_setattr(dev, c"", libc::AT_EMPTY_PATH, libc::MOUNT_ATTR_NODEV, 0);
    sys::close(dev);
    r?;
    for &(node, clone) in &nodes[..n] {
        sys::move_mount(clone, node)?;
        sys::close(clone);
        sys::close(node);
    }
    Ok(())
}

/// The terminal: a pty of the container's devpts (`exec`'s too), the process's controlling terminal and its
/// stdio; the master goes to create, which sends it to the console socket.
pub fn terminal(root: Fd, p: &Process, chan: Fd, console: bool) -> Result<(), Fail<'static>> {
    let e = |errno| Fail::new(Step::Console, b"/dev/pts/ptmx", errno);
    let ptmx = resolve(root, b"/dev/pts/ptmx", false, false).map_err(e)?;
    let m = sys::openat(AT_FDCWD, via(ptmx).c(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC, 0);
    sys::close(ptmx);
    let m = m.map_err(e)?;
    let s = pty_of(m, p).map_err(e)?;
    // /dev/console is the container's terminal too, as runc makes it.
    if let Some(c) = console.then(|| resolve(root, b"/dev/console", false, true).ok()).flatten() {
        let _ = sys::mount(Some(via(s).c()), via(c).c(), None, libc::MS_BIND, None);
        sys::close(c);
    }
    take_terminal(s).map_err(e)?;
    sys::send_fd(chan, PTY, m).map_err(e)?;
    sys::close(m);
    Ok(())
}

/// The slave of master `m`, unlocked, sized as the process asks.
pub fn pty_of(m: Fd, p: &Process) -> Result<Fd, Errno> {
    let mut unlock: i32 = 0;
    sys::ioctl(m, libc::TIOCSPTLCK as u64, &mut unlock)?;
    let s = Fd(sys::ioctl_int(m, libc::TIOCGPTPEER as u64, (libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) as u64)?);
    if let Some((rows, cols)) = p.console {
        let mut ws: [u16; 4] = [rows, cols, 0, 0];
        let _ = sys::ioctl(s, libc::TIOCSWINSZ as u64, &mut ws);
    }
    Ok(s)
}

/// A session of our own with `s` as its controlling terminal, on fds 0-2.
pub fn take_terminal(s: Fd) -> Result<(), Errno> {
    sys::setsid()?;
    sys::ioctl_int(s, libc::TIOCSCTTY as u64, 0)?;
    for fd in 0..3 {
        sys::dup3(s, Fd(fd))?;
    }
    sys::close(s);
    Ok(())
}

#[inline(never)] // smaller than inlined in `build`
fn pivot(root: Fd, no_pivot: bool) -> Result<(), Errno> {
    sys::fchdir(root)?;
    if no_pivot {
        sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None)?;
        sys::chroot(c".")?;
    } else {
        sys::pivot_root(c".", c".")?;
        sys::umount2(c".", libc::MNT_DETACH)?;
    }
    sys::chdir(c"/")
}

fn sysctls(spec: &Spec<'static>) -> Result<(), Fail<'static>> {
    for &(k, v) in spec.sysctl() {
        let mut p = Buf::<PATH_MAX>::new();
        p.push(b"/proc/sys/");
        for &c in k.to_bytes() {
            p.push(if c == b'.' { b"/" } else { core::slice::from_ref(&c) });
        }
        let key: &'static [u8] = k.to_bytes();
        let f = sys::openat2(AT_FDCWD, p.c(), libc::O_WRONLY | libc::O_CLOEXEC, 0x04 /* RESOLVE_NO_SYMLINKS */).map_err(|e| Fail::new(Step::Sysctl, key, e))?;
        let r = sys::write_all(f, v.to_bytes());
        sys::close(f);
        r.map_err(|e| Fail::new(Step::Sysctl, key, e))?;
    }
    Ok(())
}

fn mask(root: Fd, spec: &Spec<'static>) -> Result<(), Fail<'static>> {
    for (step, list) in [(Step::Mask, spec.masked()), (Step::ReadOnly, spec.readonly_paths())] {
        for &p in list {
            let path: &'static [u8] = p.to_bytes();
            let e = |errno| Fail::new(step, path, errno);
            let fd = match resolve(root, path, false, false) {
                Err(Errno::ENOENT) => continue,
                r => r.map_err(e)?,
            };
            let r = if step == Step::ReadOnly {
                let set = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
                graft(fd, c"", true, set, fd)
            } else if sys::fstat(fd).is_ok_and(|s| s.mode & libc::S_IFMT == libc::S_IFDIR) {
                sys::mount(Some(c"tmpfs"), via(fd).c(), Some(c"tmpfs"), libc::MS_RDONLY, Some(c"size=0k,mode=555"))
            } else {
                sys::mount(Some(c"/dev/null"), via(fd).c(), None, libc::MS_BIND, None)
            };
            sys::close(fd);
            r.map_err(e)?;
        }
    }
    Ok(())
}

/// Whether this process is in a user namespace other than the host's (rootless engines run the
/// runtime in one): device nodes are bound from the host then, as mknod makes none that opens.
pub fn in_user_namespace() -> bool {
    let mut b = [0u8; 64];
    let n = sys::read_file(c"/proc/self/uid_map", &mut b).unwrap_or(0);
    // The host's: one line of the three words "0 0 4294967295" (what follows them is not looked at).
    let mut w = b.get(..n).unwrap_or(&[]).split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty());
    n > 0 && [&b"0"[..], b"0", b"4294967295"].iter().any(|&x| w.next() != Some(x))
}

/// The container's process: everything before the gate. Returns only on failure.
pub fn setup(job: &Job) -> Fail<'static> {
    match build(job) {
        Ok(path) => {
            if let Err(f) = lower(job.process, job.filter, job.preserve, [job.chan, job.gate]) {
                return f;
            }
            send(job.chan, READY, None, 0);
            sys::close(job.chan);
            gate(job.gate);
            die(&exec_now(job.process, job.filter, path.c()))
        }
        Err(f) => f,
    }
}

/// Wait until `start` writes to the gate (create has exited by then: the byte is the only
/// message). A gate closed without a byte means the container is being deleted.
fn gate(fd: Fd) {
    let mut b = [0u8; 1];
    loop {
        match sys::read(fd, &mut b) {
            Ok(1) => break,
            Err(Errno::EINTR) => {}
            _ => sys::exit(1),
        }
    }
    sys::close(fd);
}

/// Where a mount failed: its destination, or the entry of it tmpcopyup failed on.
static AT: sys::Static<Buf<PATH_MAX>> = sys::Static::new(Buf::new());

#[inline(never)] // smaller than inlined in `setup`
fn build(job: &Job) -> Result<Buf<PATH_MAX>, Fail<'static>> {
    let spec = job.spec;
    // A session keyring of its own, as runc gives one: the engine's keys are not the
    // container's (a kernel without keys, or a user namespace out of key quota, goes without).
    if job.new_keyring {
        match sys::join_new_session_keyring() {
            Ok(()) | Err(Errno::ENOSYS) | Err(Errno::EDQUOT) => {}
            Err(e) => return Err(Fail::new(Step::Clone, b"session keyring", e)),
        }
    }
    let userns = spec.namespace(libc::CLONE_NEWUSER).is_some() || in_user_namespace();
    let prop = match spec.propagation & !libc::MS_REC {
        libc::MS_PRIVATE => libc::MS_PRIVATE,
        _ => libc::MS_SLAVE,
    };
    sys::mount(None, c"/", None, libc::MS_REC | prop, None).map_err(|e| Fail::new(Step::Propagation, b"/", e))?;
    // The rootfs, as a mount of its own (pivot_root needs one), by descriptor from here on.
    let root_path: &'static [u8] = spec.root.to_bytes();
    let re = |errno| Fail::new(Step::Rootfs, root_path, errno);
    let be = |errno| Fail::new(Step::Bundle, job.bundle_path.to_bytes(), errno);
    let bundle = sys::openat(AT_FDCWD, job.bundle_path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(be)?;
    match (sys::fstat(bundle), sys::fstat(job.bundle)) {
        (Ok(a), Ok(b)) if (a.dev, a.ino) == (b.dev, b.ino) => {}
        _ => return Err(be(Errno::ESTALE)),
    }
    sys::close(job.bundle);
    let dir = sys::openat(bundle, spec.root, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(re)?;
    // nodev on every mount of the container: a device node of the image, or one made inside
    // (CAP_MKNOD), opens nothing. The nodes it may use are bound one by one (`dev`).
    let root = clone_tree(dir, c"", true, libc::MOUNT_ATTR_NODEV, 0).map_err(re)?;
    sys::move_mount(root, dir).map_err(re)?;
    sys::close(dir);
    let mut dev_tmpfs = false;
    let at = AT.take().ok_or(Fail::new(Step::Mount, b"", Errno::EBUSY))?;
    for m in spec.mounts() {
        let dest: &'static [u8] = m.dest.to_bytes();
        at.clear();
        at.push(dest);
        if let Err(e) = mount_one(root, bundle, m, userns, at) {
            let at: &'static Buf<PATH_MAX> = at;
            return Err(Fail::new(Step::Mount, at.bytes(), e));
        }
        if dest == b"/dev" {
            dev_tmpfs = !m.is_bind();
        }
    }
    sys::close(bundle);
    dev(root, spec, userns, dev_tmpfs)?;
    if spec.process.terminal {
        terminal(root, &spec.process, job.chan, true)?;
    }
    pivot(root, job.no_pivot).map_err(|e| Fail::new(Step::PivotRoot, root_path, e))?;
    sys::close(root);
    if !job.no_pivot {
        crate::root::check_detached().map_err(|_| Fail::new(Step::PivotRoot, b"/..", Errno::EXDEV))?;
    }
    if spec.propagation & !(libc::MS_REC) != 0 {
        sys::mount(None, c"/", None, spec.propagation, None).map_err(|e| Fail::new(Step::Propagation, b"/", e))?;
    }
    // The masks of /proc and the sysctls go through /proc: it must be the procfs mounted above,
    // not a directory of the image standing in for it.
    let has_proc = spec.mounts().iter().any(|m| m.kind.is_some_and(|k| k.to_bytes() == b"proc"));
    if has_proc && sys::fs_type(c"/proc") != Ok(libc::PROC_SUPER_MAGIC as u64) {
        return Err(Fail::new(Step::Mount, b"/proc", Errno::EXDEV));
    }
    sysctls(spec)?;
    let root = sys::openat(AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::PivotRoot, b"/", e))?;
    mask(root, spec)?;
    sys::close(root);
    if spec.readonly {
        sys::mount_setattr(AT_FDCWD, c"/", 0, libc::MOUNT_ATTR_RDONLY, 0).map_err(|e| Fail::new(Step::ReadOnly, b"/", e))?;
    }
    if let Some(h) = spec.hostname {
        sys::sethostname(h.to_bytes()).map_err(|e| Fail::new(Step::Hostname, h.to_bytes(), e))?;
    }
    if let Some(h) = spec.domainname {
        sys::setdomainname(h.to_bytes()).map_err(|e| Fail::new(Step::Hostname, h.to_bytes(), e))?;
    }
    limits(&spec.process)?;
    // The working directory before the gate too, as runc: one that is not there fails create,
    // and a relative command is looked up from it. (Entered again after the gate, as the
    // process's user: one root may not enter here is left to that.)
    let cwd = spec.process.cwd;
    match crate::exec::enter_cwd(Some(cwd)) {
        Err(e) if !matches!(e.errno, libc::EACCES | libc::EPERM) => return Err(Fail { step: Step::Cwd, path: cwd.to_bytes(), errno: e.errno, why: b"" }),
        _ => {}
    }
    lookup(&spec.process)
}

/// rlimits: before the gate, while the process may still raise them.
pub fn limits(p: &Process) -> Result<(), Fail<'static>> {
    for r in &p.rlimits[..p.nrlimits] {
        let name: &'static [u8] = super::config::RLIMITS[r.resource as usize];
        sys::setrlimit(r.resource, r.soft, r.hard).map_err(|e| Fail::new(Step::Rlimit, name, e))?;
    }
    Ok(())
}

/// oom_score_adj, written by the runtime's process for itself before it clones the new one,
/// which inherits it: in a user namespace of its own the new process could write its /proc
/// file (the host root's) only by becoming dumpable for a moment.
pub fn oom_score(p: &Process) -> Result<(), Fail<'static>> {
    let Some(adj) = p.oom_score_adj else { return Ok(()) };
    let mut b = Buf::<24>::new();
    b.push_i64(adj);
    let file = c"/proc/self/oom_score_adj";
    sys::write_file(AT_FDCWD, file, b.bytes()).map_err(|e| Fail::new(Step::OomScore, file.to_bytes(), e))
}

/// process.args[0] as execve will take it: searched in the process's PATH when it has no
/// slash, as runc does before the gate (a command not found fails create, not start).
pub fn lookup(p: &Process<'static>) -> Result<Buf<PATH_MAX>, Fail<'static>> {
    let cmd: &'static [u8] = p.args[0].to_bytes();
    let mut full = Buf::<PATH_MAX>::new();
    let runnable = |f: &Buf<PATH_MAX>| match sys::stat_at(AT_FDCWD, f.c(), 0) {
        Ok(st) if st.mode & libc::S_IFMT == libc::S_IFREG && st.mode & 0o111 != 0 => Ok(()),
        Ok(_) => Err(Errno::EACCES),
        Err(e) => Err(e),
    };
    // A command with a slash is its own one place to look, and its error is the answer; in
    // the PATH, a command found but not runnable is EACCES, one found nowhere ENOENT.
    let slash = cmd.contains(&b'/');
    let path = match slash {
        true => &b""[..],
        false => p.env().iter().map(|e| e.to_bytes()).find(|e| e.starts_with(b"PATH=")).map_or(&b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"[..], |e| &e[5..]),
    };
    let mut err = Errno::ENOENT;
    for dir in path.split(|&c| c == b':') {
        full.clear();
        if !slash {
            full.push(if dir.is_empty() { b"." } else { dir }).push(b"/");
        }
        full.push(cmd);
        match runnable(&full) {
            Ok(()) => return Ok(full),
            Err(e) if slash || e == Errno::EACCES => err = e,
            Err(_) => {}
        }
    }
    Err(Fail::new(Step::Exec, cmd, err))
}

/// Before the gate (and before exec's process tells it is ready), as runc: the process keeps
/// no descriptor but stdio, the engine's --preserve-fds and `keep` (the channel, the gate);
/// takes the seccomp filter that needs CAP_SYS_ADMIN (no no_new_privs), its AppArmor profile,
/// groups, user and capabilities. So a created container waits as what it will run as, and a
/// failure here fails create (or exec), as any step of setting up does.
pub fn lower(p: &Process<'static>, filter: Option<&Filter>, preserve: u32, mut keep: [Fd; 2]) -> Result<(), Fail<'static>> {
    // Nothing of the host reaches the process: every descriptor but those is closed first (also
    // those of ours, whatever their close-on-exec: the kernel looks a script's `#!`
    // interpreter up before it closes those), before a seccomp profile could refuse
    // close_range.
    sys::close_from_but(3 + preserve, &mut keep).map_err(|e| Fail::new(Step::Exec, b"close_range", e))?;
    // Without no_new_privs the filter needs CAP_SYS_ADMIN: installed while it is still there.
    if let (Some(f), false) = (filter, p.nnp) {
        confine::install(f).map_err(|e| Fail::new(Step::Seccomp, b"linux.seccomp", e))?;
    }
    if let Some(profile) = p.apparmor {
        apparmor(profile)?;
    }
    let ue = |e| Fail::new(Step::User, b"", e);
    sys::prctl(libc::PR_SET_KEEPCAPS, 1).map_err(ue)?;
    crate::caps::bound(p.caps[BOUNDING]).map_err(|e| Fail::new(Step::Caps, b"bounding", e))?;
    match sys::setgroups(&p.groups[..p.ngroups]) {
        // A user namespace whose setgroups is denied: only no groups can be had.
        Err(Errno::EPERM) if p.ngroups == 0 => {}
        r => r.map_err(ue)?,
    }
    sys::setresgid(p.gid).and_then(|()| sys::setresuid(p.uid)).map_err(ue)?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0).map_err(ue)?;
    let ce = |e| Fail::new(Step::Caps, b"", e);
    sys::capset(p.caps[EFFECTIVE], p.caps[PERMITTED], p.caps[INHERITABLE]).map_err(ce)?;
    sys::prctl4(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64, 0).map_err(ce)?;
    // An ambient capability needs to be permitted and inheritable too; one that is not is
    // left out, as runc does (its default spec asks for ambient ones without inheritable).
    for c in 0..64u64 {
        if p.caps[AMBIENT] & (1 << c) != 0 {
            let _ = sys::prctl4(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as u64, c);
        }
    }
    if let Some(u) = p.umask {
        sys::umask(u);
    }
    Ok(())
}

/// After the gate (`lower` done): no_new_privs and the filter that comes with it, as close to
/// execve as can be, the working directory, execve. Returns only on failure.
pub fn exec_now(p: &Process<'static>, filter: Option<&Filter>, path: &CStr) -> Fail<'static> {
    if p.nnp {
        if let Err(e) = sys::prctl4(libc::PR_SET_NO_NEW_PRIVS, 1, 0) {
            return Fail::new(Step::NoNewPrivs, b"", e);
        }
        if let Some(f) = filter {
            if let Err(e) = confine::install(f) {
                return Fail::new(Step::Seccomp, b"linux.seccomp", e);
            }
        }
    }
    if let Err(e) = crate::exec::enter_cwd(Some(p.cwd)) {
        return Fail { step: Step::Cwd, path: p.cwd.to_bytes(), errno: e.errno, why: b"" };
    }
    let mut argv = PtrArray::<{ super::config::MAX_ARGS + 1 }>::new();
    for a in p.args() {
        argv.push(a);
    }
    let mut envp = PtrArray::<{ super::config::MAX_ENV + 1 }>::new();
    for e in p.env() {
        envp.push(e);
    }
    let e = sys::execve(path, argv.as_ptr(), envp.as_ptr());
    Fail::new(Step::Exec, p.args[0].to_bytes(), e)
}

/// The AppArmor profile for execve: written when AppArmor is on, refused when it is not.
fn apparmor(profile: &'static CStr) -> Result<(), Fail<'static>> {
    let e = |errno| Fail::new(Step::AppArmor, profile.to_bytes(), errno);
    let mut on = [0u8; 4];
    if !sys::read_file(c"/sys/module/apparmor/parameters/enabled", &mut on).is_ok_and(|n| n > 0 && on[0] == b'Y') {
        return Err(e(Errno::ENOENT));
    }
    let mut b = Buf::<512>::new();
    b.push(b"exec ").push(profile.to_bytes());
    match sys::write_file(AT_FDCWD, c"/proc/self/attr/apparmor/exec", b.bytes()) {
        Err(Errno::ENOENT) => sys::write_file(AT_FDCWD, c"/proc/self/attr/exec", b.bytes()),
        r => r,
    }
    .map_err(e)
}

/// Report a failure after create has gone: on the process's stderr, then exit.
pub fn die(f: &Fail) -> ! {
    let mut b = Buf::<1400>::new();
    f.line(b"", &mut b);
    b.push(b"\n");
    let _ = sys::write_all(sys::STDERR, b.bytes());
    sys::exit(if f.step == Step::Exec { if f.errno == libc::ENOENT { 127 } else { 126 } } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    #[test]
    fn mount_flags_become_mount_attributes() {
        use libc::*;
        assert_eq!(attrs(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NODIRATIME), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME);
        assert_eq!(attrs(MS_NODIRATIME), MOUNT_ATTR_NODIRATIME);
        assert_eq!(attrs(MS_BIND | MS_REC | MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_SYNCHRONOUS | super::COPY_UP), 0);
    }

    /// process.args[0] found as execve takes it: by its path with a slash (its own error), else
    /// in PATH (EACCES when found only not runnable, else ENOENT).
    #[test]
    fn commands_are_looked_up_as_execve_takes_them() {
        use std::os::unix::fs::PermissionsExt;
        let top = std::env::temp_dir().join(format!("sandbox-lookup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        for d in ["d1", "d2", "d3"] {
            std::fs::create_dir_all(top.join(d)).unwrap();
        }
        for (f, mode) in [("x", 0o755), ("nox", 0o644), ("d2/c", 0o644), ("d3/c", 0o700)] {
            std::fs::write(top.join(f), b"").unwrap();
            std::fs::set_permissions(top.join(f), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let leak = |s: String| -> &'static CStr { Box::leak(std::ffi::CString::new(s).unwrap().into_boxed_c_str()) };
        let t = top.to_str().unwrap();
        let find = |cmd: &str, path: Option<String>| {
            let mut p = Process::new();
            p.args[0] = leak(cmd.replace("T", t));
            p.nargs = 1;
            if let Some(path) = path {
                p.env[0] = leak(format!("PATH={}", path.replace("T", t)));
                p.nenv = 1;
            }
            lookup(&p).map(|b| String::from_utf8(b.bytes().to_vec()).unwrap()).map_err(|f| f.errno)
        };
        assert_eq!(find("T/x", None), Ok(format!("{t}/x")));
        assert_eq!(find("T/nox", None), Err(libc::EACCES));
        assert_eq!(find("T/missing", None), Err(libc::ENOENT));
        assert_eq!(find("T/nox/x", None), Err(libc::ENOTDIR));
        assert_eq!(find("T/d3", None), Err(libc::EACCES));
        assert_eq!(find("c", Some("T/d1:T/d2".into())), Err(libc::EACCES));
        assert_eq!(find("c", Some("T/d2:T/nox:T/d1".into())), Err(libc::EACCES));
        assert_eq!(find("c", Some("T/d1:T/nox".into())), Err(libc::ENOENT));
        assert_eq!(find("c", Some("T/d1:T/d2:T/d3".into())), Ok(format!("{t}/d3/c")));
        assert_eq!(find("c", Some(":T/d3".into())), Ok(format!("{t}/d3/c")));
        assert_eq!(find("no-such-command-here", None), Err(libc::ENOENT));
        std::fs::remove_dir_all(&top).unwrap();
    }

    /// resolve with `make`: missing directories made, the last component a file unless `dir`,
    /// symlinks (absolute ones too) and `..` kept inside the root, a file in the way refused.
    #[test]
    fn resolve_makes_what_is_missing_inside_the_root_only() {
        let top = std::env::temp_dir().join(format!("sandbox-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        let r = top.join("root");
        std::fs::create_dir_all(r.join("a")).unwrap();
        std::fs::create_dir_all(top.join("outside")).unwrap();
        symlink("/", r.join("up")).unwrap();
        symlink("../../outside", r.join("a/out")).unwrap();
        std::fs::write(r.join("file"), b"").unwrap();
        let c = std::ffi::CString::new(r.to_str().unwrap()).unwrap();
        let root = sys::openat(AT_FDCWD, &c, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).unwrap();
        let made = |p: &[u8], dir: bool| resolve(root, p, dir, true).map(sys::close);
        assert_eq!(resolve(root, b"/x/y", true, false).map(sys::close), Err(Errno::ENOENT));
        made(b"/x/y//z/", true).unwrap();
        assert!(r.join("x/y/z").is_dir());
        made(b"a/../b/f", false).unwrap();
        assert!(r.join("b/f").is_file());
        made(b"/up/up/c/d", true).unwrap();
        assert!(r.join("c/d").is_dir());
        // A symlink to a directory the root lacks is not followed out of it.
        assert_eq!(made(b"a/out/e", false), Err(Errno::ENOENT));
        std::fs::create_dir(r.join("outside")).unwrap();
        made(b"a/out/e", false).unwrap();
        assert!(r.join("outside/e").is_file() && !Path::new(&top.join("outside/e")).exists());
        assert_eq!(made(b"file/g", true), Err(Errno::ENOTDIR));
        assert_eq!(made(b"file/g/h", false), Err(Errno::ENOTDIR));
        assert_eq!(made(b"", true), Err(Errno::EINVAL));
        made(b"x/y/z", true).unwrap();
        sys::close(root);
        std::fs::remove_dir_all(&top).unwrap();
    }
}
