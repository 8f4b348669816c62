//! The container's state on disk: `--root/ID/`, a directory only root may enter (0700), made
//! with mkdir so that a second container of the same id fails, holding `state.json` (what
//! `state` prints, plus the process's start time and the cgroup) and, from create to start,
//! the gate `exec.fifo`, on which the container's process waits.
//!
//! The status is read from the process itself: its pid must still name a process started at
//! the recorded time (/proc/PID/stat, field 22), or the pid was reused and the container is
//! stopped; it is created while the gate is there, running after.

use super::why;
use super::json::{self, Entries, Tok, Val};
use super::{json_str, Fail, Step};
use crate::out::{Buf, Bytes};
use crate::state::PATH_MAX;
use crate::sys::{self, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

pub const STATE: &CStr = c"state.json";
pub const GATE: &CStr = c"exec.fifo";

/// `--root`, opened (made first when `make`: 0700, with its parents) and checked: a directory
/// of the caller's that no one else may write. Everything under it is reached from this fd:
/// a root another user can write would let them plant a record (a pid, a cgroup) that `kill`
/// or `delete` then acts on with the caller's privileges. So may a directory or link of theirs
/// on the way there, by swapping what comes after it: the path is walked from `/` one component
/// at a time, each directory root's or the caller's and no one else's to write (or sticky, as
/// /tmp: then what is in it is checked in turn), a link followed only if it is theirs too.
pub fn open_root(root: &CStr, make: bool) -> Result<Fd, Fail<'_>> {
    let b = root.to_bytes();
    let mut fd = Fd(-1);
    let r = walk(b, make, &mut fd).and_then(|()| sys::openat(fd, c".", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| (Some(e), 0)));
    sys::close(fd);
    match r {
        Ok(fd) if ours(fd) => Ok(fd),
        Ok(fd) => {
            sys::close(fd);
            Err(Fail::usage(Step::StateDir, b, why::NOT_YOURS))
        }
        Err((Some(Errno::ENOENT), _)) => Err(Fail::usage(Step::NotFound, b"", b"")),
        Err((Some(e), _)) => Err(Fail::new(Step::StateDir, b, e)),
        Err((None, at)) => Err(Fail::usage(Step::StateDir, &b[..at], why::NOT_YOURS)),
    }
}

/// Walk `path` from `/` into `fd` (O_PATH), one component at a time. Fails with the OS error,
/// or with None and the end in `path` of the path of a directory or link not to be trusted
/// (all of `path` once it went through a link).
fn walk(path: &[u8], make: bool, fd: &mut Fd) -> Result<(), (Option<Errno>, usize)> {
    let os = |e| (Some(e), 0);
    let mut rest = Buf::<PATH_MAX>::new();
    if path.first() != Some(&b'/') {
        let mut cwd = [0u8; PATH_MAX];
        let n = sys::getcwd(&mut cwd).map_err(os)?;
        rest.push(&cwd[..n]).push(b"/");
    }
    rest.push(path);
    let (mut at, mut links) = (0, 0);
    loop {
        let r = rest.bytes();
        if at == 0 && r.first() == Some(&b'/') {
            sys::close(*fd);
            *fd = sys::openat(AT_FDCWD, c"/", libc::O_PATH | libc::O_CLOEXEC, 0).map_err(os)?;
        }
        let Some(start) = r[at..].iter().position(|&c| c != b'/').map(|i| at + i) else { return Ok(()) };
        at = r[start..].iter().position(|&c| c == b'/').map_or(r.len(), |i| start + i);
        let here = if links == 0 && r.len() == path.len() { at } else { path.len() };
        let mut name = Buf::<256>::new();
        name.push(&r[start..at]);
        if name.overflowed() || rest.overflowed() {
            return Err(os(Errno::ENAMETOOLONG));
        }
        let open = || sys::openat(*fd, name.c(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0);
        let mut next = open();
        if make && matches!(next, Err(Errno::ENOENT)) {
            next = match sys::mkdirat(*fd, name.c(), 0o700) {
                Ok(()) | Err(Errno::EEXIST) => open(),
                Err(e) => Err(e),
            };
        }
        let next = next.map_err(os)?;
        let st = sys::fstat(next).map_err(os);
        if let Some(st) = st.as_ref().ok().filter(|st| st.mode & libc::S_IFMT == libc::S_IFLNK) {
            // Its target, then what was left after it: from `/` when absolute.
            let mut t = [0u8; PATH_MAX];
            let n = sys::readlinkat(next, c"", &mut t);
            sys::close(next);
            links += 1;
            if !trusted(st.uid) {
                return Err((None, here));
            }
            let n = n.map_err(os)?;
            if links > 40 {
                return Err(os(Errno::ELOOP));
            }
            let mut nb = Buf::<PATH_MAX>::new();
            nb.push(&t[..n]).push(b"/").push(&r[at..]);
            (rest, at) = (nb, 0);
            continue;
        }
        sys::close(*fd);
        *fd = next;
        let st = st?;
        if st.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(os(Errno::ENOTDIR));
        }
        if !trusted(st.uid) || (st.mode & 0o022 != 0 && st.mode & libc::S_ISVTX == 0) {
            return Err((None, here));
        }
    }
}

/// A file the engine wrote for the runtime to read (exec's `--process`, update's
/// `--resources`), opened for reading:
/// reached as `--root` is, from `/`, and itself a regular file of root's or the caller's that no
/// one else may write (in a sticky directory such as /tmp, then, no one else can swap it).
/// Another user who could change it would choose the capabilities and the seccomp filter of
/// what exec starts.
pub fn engines_file(path: &CStr, step: Step) -> Result<Fd, Fail<'_>> {
    let b = path.to_bytes();
    let (dir, name): (&[u8], &[u8]) = match b.iter().rposition(|&c| c == b'/') {
        Some(0) => (b"/", &b[1..]),
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b".", b),
    };
    let refused = || Fail::usage(step, b, why::NOT_THE_ENGINES);
    let mut fd = Fd(-1);
    let mut n = Buf::<256>::new();
    n.push(name);
    let r = walk(dir, false, &mut fd).map_err(|(e, _)| e).and_then(|()| {
        sys::openat(fd, n.c(), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC, 0).map_err(Some)
    });
    sys::close(fd);
    match r {
        Ok(f) if sys::fstat(f).is_ok_and(|st| st.mode & libc::S_IFMT == libc::S_IFREG) && safe(f) => Ok(f),
        Ok(f) => {
            sys::close(f);
            Err(refused())
        }
        Err(Some(Errno::ELOOP)) | Err(None) => Err(refused()),
        Err(Some(e)) => Err(Fail::new(step, b, e)),
    }
}

/// Whose files may decide what the caller acts on: the caller's, root's, and those of the owner
/// of `/` (root, seen from a user namespace that does not map it: the overflow uid, which
/// there stands for every unmapped user alike).
fn trusted(uid: u32) -> bool {
    uid == 0 || uid == sys::geteuid() || sys::stat_at(AT_FDCWD, c"/", 0).is_ok_and(|st| st.uid == uid)
}

/// A file or directory of root's or the caller's that no one else may write.
pub fn safe(fd: Fd) -> bool {
    sys::fstat(fd).is_ok_and(|st| trusted(st.uid) && st.mode & 0o022 == 0)
}

/// A file or directory of the caller's that only the caller may write.
fn ours(fd: Fd) -> bool {
    sys::fstat(fd).is_ok_and(|st| st.uid == sys::geteuid() && st.mode & 0o022 == 0)
}

/// `ID` in the root: the caller's own directory, not a link.
pub fn open_dir<'a>(root: Fd, id: &'a CStr) -> Result<Fd, Fail<'a>> {
    let d = sys::openat(root, id, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0).map_err(|e| match e {
        Errno::ENOENT => Fail::usage(Step::NotFound, b"", b""),
        e => Fail::new(Step::StateDir, id.to_bytes(), e),
    })?;
    if !ours(d) {
        sys::close(d);
        return Err(Fail::usage(Step::StateDir, id.to_bytes(), why::NOT_YOURS));
    }
    Ok(d)
}

/// Make `ID` in the root; an fd of it.
pub fn make(root: Fd, id: &CStr) -> Result<Fd, Fail<'_>> {
    match sys::mkdirat(root, id, 0o700) {
        Err(Errno::EEXIST) => Err(Fail::new(Step::Exists, id.to_bytes(), Errno::EEXIST)),
        Err(er) => Err(Fail::new(Step::StateDir, id.to_bytes(), er)),
        Ok(()) => open_dir(root, id),
    }
}

/// Remove `ID` from the root and what is in it (files only: state.json, the gate), if it is
/// the caller's.
pub fn remove(root: Fd, id: &CStr) {
    if let Ok(d) = open_dir(root, id) {
        for f in [STATE, GATE, c"state.json.tmp"] {
            let _ = sys::unlinkat(d, f, 0);
        }
        sys::close(d);
        let _ = sys::unlinkat(root, id, libc::AT_REMOVEDIR);
    }
}

/// /proc/PID/stat's start time (field 22); None for a zombie or dead process too.
pub fn start_time(pid: i32) -> Option<u64> {
    crate::record::start_time_of(pid, true)
}

/// An RFC 3339 UTC time with nanoseconds, as runc writes `created`.
pub fn timestamp(b: &mut Buf<64>) {
    let (secs, nsec) = sys::realtime();
    crate::manage::date_time(secs, b);
    b.push(b".");
    let mut digits = Buf::<16>::new();
    digits.push_u64(nsec + 1_000_000_000);
    b.push(&digits.bytes()[1..]).push(b"Z");
}

/// Write an object of strings as JSON (annotations).
pub fn push_object(b: &mut Bytes<[u8]>, v: Option<Val>) {
    b.push(b"{");
    let mut sep: &[u8] = b"";
    for (k, x) in v.map_or(Entries::NONE, |v| v.entries()) {
        b.push(sep);
        json_str(b, k.to_bytes());
        b.push(b":");
        json_str(b, x.bytes().unwrap_or(b""));
        sep = b",";
    }
    b.push(b"}");
}

pub const MAX: usize = 64 * 1024;

/// What create writes.
pub struct New<'a> {
    pub id: &'a [u8],
    pub pid: i32,
    pub start: u64,
    pub bundle: &'a [u8],
    pub rootfs: &'a [u8],
    pub cgroup: &'a [u8],
    /// The container's mount namespace's ID (NS_GET_MNTNS_ID, never reused; 0 where the
    /// kernel has none): its own, so the processes in it are the container's.
    pub mnt: u64,
    /// No PID namespace of its own: what its process starts may outlive it.
    pub shared_pid: bool,
    pub annotations: Option<Val<'a>>,
}

pub fn write<'a>(dir: Fd, r: &New, path: &'a [u8]) -> Result<(), Fail<'a>> {
    let mut b = Buf::<MAX>::new();
    b.push(b"{\"ociVersion\":\"1.0.2\",\"id\":");
    json_str(&mut b, r.id);
    b.push(b",\"pid\":").push_u64(r.pid as u64).push(b",\"bundle\":");
    json_str(&mut b, r.bundle);
    b.push(b",\"rootfs\":");
    json_str(&mut b, r.rootfs);
    let mut t = Buf::<64>::new();
    timestamp(&mut t);
    b.push(b",\"created\":\"").push(t.bytes()).push(b"\",\"annotations\":");
    push_object(&mut b, r.annotations);
    b.push(b",\"start\":").push_u64(r.start).push(b",\"cgroup\":");
    json_str(&mut b, r.cgroup);
    b.push(b",\"mntns\":").push_u64(r.mnt);
    if r.shared_pid {
        b.push(b",\"sharedpid\":true");
    }
    b.push(b"}");
    if b.overflowed() {
        return Err(Fail::new(Step::StateDir, path, Errno::E2BIG));
    }
    let e = |errno| Fail::new(Step::StateDir, path, errno);
    let f = sys::openat(dir, STATE, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, 0o600).map_err(e)?;
    let r = sys::write_all(f, b.bytes()).map_err(e);
    sys::close(f);
    r
}

/// The status of a container.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static [u8] {
        match self {
            Status::Creating => b"creating",
            Status::Created => b"created",
            Status::Running => b"running",
            Status::Paused => b"paused",
            Status::Stopped => b"stopped",
        }
    }
}

/// A container's record, read back: its fields point into the caller's buffer.
pub struct Record<'a> {
    pub root: Val<'a>,
    pub pid: i32,
    pub start: u64,
    pub bundle: &'a CStr,
    pub cgroup: &'a [u8],
    pub mnt: u64,
    pub shared_pid: bool,
    pub status: Status,
}

/// Buffers a record is read into.
pub struct Space<'a> {
    pub text: [u8; MAX],
    pub toks: [Tok<'a>; 4096],
}

impl Space<'_> {
    pub const fn new() -> Space<'static> {
        Space { text: [0; MAX], toks: [Tok::EMPTY; 4096] }
    }
}

/// Read `ID/state.json` in the root into `space`: the caller's own file only. NotFound when
/// there is none.
pub fn read<'a>(root: Fd, id: &'a CStr, space: &'a mut Space<'a>) -> Result<Record<'a>, Fail<'a>> {
    let dir = open_dir(root, id)?;
    let r = read_in(dir, id, space);
    sys::close(dir);
    r
}

fn read_in<'a>(dir: Fd, id: &'a CStr, space: &'a mut Space<'a>) -> Result<Record<'a>, Fail<'a>> {
    let f = match sys::openat(dir, STATE, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0) {
        Ok(f) => f,
        // Made but not yet written: create is still at work.
        Err(Errno::ENOENT) => return Err(Fail::usage(Step::Status, id.to_bytes(), why::BEING_CREATED)),
        Err(e) => return Err(Fail::new(Step::StateDir, id.to_bytes(), e)),
    };
    if !ours(f) {
        sys::close(f);
        return Err(Fail::usage(Step::StateDir, id.to_bytes(), why::NOT_YOURS));
    }
    let n = sys::read_all(f, &mut space.text);
    sys::close(f);
    let n = n.map_err(|e| Fail::new(Step::StateDir, id.to_bytes(), e))?;
    let bad = Fail::usage(Step::StateDir, id.to_bytes(), why::STATE_JSON_IS_DAMAGED);
    let root_v = json::parse(&mut space.text[..n], &mut space.toks).map_err(|_| bad)?.root();
    let pid = root_v.u64_at(b"pid").ok_or(bad)? as i32;
    let start = root_v.u64_at(b"start").ok_or(bad)?;
    let bundle = root_v.str_at(b"bundle").ok_or(bad)?;
    let cgroup = root_v.bytes_at(b"cgroup").unwrap_or(b"");
    let mnt = root_v.u64_at(b"mntns").unwrap_or(0);
    let shared_pid = root_v.get(b"sharedpid").is_some();
    let mut r = Record { root: root_v, pid, start, bundle, cgroup, mnt, shared_pid, status: Status::Stopped };
    r.status = status(dir, &r);
    Ok(r)
}

fn status(dir: Fd, r: &Record) -> Status {
    if r.pid <= 0 || start_time(r.pid) != Some(r.start) {
        return Status::Stopped;
    }
    if sys::stat_at(dir, GATE, libc::AT_SYMLINK_NOFOLLOW).is_ok() {
        return Status::Created;
    }
    if !r.cgroup.is_empty() {
        let mut b = [0u8; 4];
        if sys::read_file(cgroup_file(r.cgroup, b"/cgroup.freeze").c(), &mut b).is_ok_and(|n| n > 0) && b[0] == b'1' {
            return Status::Paused;
        }
    }
    Status::Running
}

/// A file of a container's cgroup (`file` empty: its directory) under /sys/fs/cgroup.
pub fn cgroup_file(cgroup: &[u8], file: &[u8]) -> Buf<PATH_MAX> {
    let mut p = Buf::new();
    p.push(crate::cgroup::ROOT).push(cgroup).push(file);
    p
}

/// A pidfd of the container's process, if it is still the process recorded (checked after the
/// pidfd is open: from then on the pid cannot be reused under it).
pub fn pidfd(r: &Record) -> Option<Fd> {
    if r.pid <= 0 {
        return None;
    }
    let fd = sys::pidfd_open(r.pid).ok()?;
    if start_time(r.pid) == Some(r.start) {
        Some(fd)
    } else {
        sys::close(fd);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_this_process() {
        let pid = std::process::id() as i32;
        let t = start_time(pid).unwrap();
        assert_eq!(start_time(pid), Some(t));
        assert_eq!(start_time(-5), None);
    }

    #[test]
    fn timestamps_look_like_rfc3339() {
        let mut b = Buf::<64>::new();
        timestamp(&mut b);
        let s = std::str::from_utf8(b.bytes()).unwrap();
        assert_eq!(s.len(), 30, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z') && &s[10..11] == "T", "{s}");
    }
}
