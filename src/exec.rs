//! The last step of the command's process: its environment, the PATH search, and execve.
//! On failure the reason goes to the parent over the report channel and the process exits
//! 127 (not found) or 126 (found but not executable).

use crate::cli::{self, MAX_ENVS};
use crate::error::{Error, Step};
use crate::out::Buf;
use crate::report;
use crate::state::PATH_MAX;
use crate::cgroup::parse_u64;
use crate::sys::{self, Args, Env, Errno, Fd, PtrArray, AT_FDCWD};
use core::ffi::CStr;

pub const DEFAULT_PATH: &CStr = c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub type Envp = PtrArray<{ MAX_ENVS + 4 }>;

fn key(entry: &[u8]) -> &[u8] {
    &entry[..entry.iter().position(|&b| b == b'=').unwrap_or(entry.len())]
}

/// The sandbox's environment: not the host's. A standard PATH, HOME=/root, the caller's TERM,
/// then each --env in order (a later one replaces an earlier one of the same key).
pub fn sandbox_env(args: &Args, host: &Env, out: &mut Envp) {
    out.push(DEFAULT_PATH);
    out.push(c"HOME=/root");
    if let Some(term) = host.entry(b"TERM") {
        out.push(term);
    }
    for e in cli::envs(args) {
        let k = key(e.to_bytes());
        match (0..out.len()).find(|&i| key(out.get(i).to_bytes()) == k) {
            Some(i) => out.set(i, e),
            None => {
                out.push(e);
            }
        }
    }
}

/// Last before execve, in the command's process: leave the working directory it has (the
/// caller's, on the host: pivot_root moved only its root) for the sandbox's root, then go to
/// `cwd` resolved inside the root (RESOLVE_IN_ROOT: `..` and absolute symlinks stay in it) and
/// without magic links (an image's `/app -> /proc/self/cwd` would lead back to where it was).
pub fn enter_cwd(cwd: Option<&CStr>) -> Result<(), Error<'_>> {
    sys::chdir(c"/").map_err(|e| Error::new(Step::Cwd, b"/", e))?;
    let Some(cwd) = cwd else { return Ok(()) };
    let e = |errno| Error::new(Step::Cwd, cwd.to_bytes(), errno);
    // RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT
    let dir = sys::openat2(sys::AT_FDCWD, cwd, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0x02 | 0x10).map_err(e)?;
    let r = sys::fchdir(dir);
    sys::close(dir);
    r.map_err(e)
}

/// The caller's stdio, as the command will get it: never a directory or an O_PATH descriptor,
/// through which `/proc/self/fd/N/..` would reach the host's files from inside. The first
/// that is one: its number (`fd 0`, ...) and EISDIR or EBADF.
pub fn stdio_fit() -> Result<(), (&'static [u8], Errno)> {
    for (fd, name) in [(0, b"fd 0"), (1, b"fd 1"), (2, b"fd 2")] {
        let o_path = sys::fcntl(Fd(fd), libc::F_GETFL, 0).is_ok_and(|fl| fl as i32 & libc::O_PATH != 0);
        let dir = sys::fstat(Fd(fd)).is_ok_and(|st| st.mode & libc::S_IFMT == libc::S_IFDIR);
        if dir || o_path {
            return Err((name, if dir { Errno::EISDIR } else { Errno::EBADF }));
        }
    }
    Ok(())
}

/// The PATH value in an environment array, if any.
pub fn path_of(envp: &Envp) -> &'static [u8] {
    (0..envp.len())
        .map(|i| envp.get(i).to_bytes())
        .find(|e| key(e) == b"PATH")
        .map_or(b"", |e| &e[5..])
}

/// execve `argv[0]`, searched in `path` when it has no slash, as execvp does: a directory
/// where it is missing is skipped, one where it is not executable is remembered.
fn exec_search(argv: Args, first: usize, envp: *const *const u8, path: &[u8]) -> Errno {
    let cmd = argv.get(first);
    if cmd.to_bytes().contains(&b'/') || cmd.is_empty() {
        return sys::execve(cmd, argv.tail(first), envp);
    }
    let mut denied = false;
    let mut full = Buf::<4096>::new();
    for dir in path.split(|&b| b == b':') {
        full.clear();
        full.push(if dir.is_empty() { b"." } else { dir }).push(b"/").push(cmd.to_bytes());
        if full.overflowed() {
            continue;
        }
        match sys::execve(full.c(), argv.tail(first), envp) {
            Errno::EACCES => denied = true,
            Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG | Errno::ELOOP => {}
            e => return e,
        }
    }
    if denied {
        Errno::EACCES
    } else {
        Errno::ENOENT
    }
}

/// Replace this process with the command, or report why not and exit. `step` is Step::Exec in
/// a sandbox, Step::ExecHere without one (the hints differ).
pub fn exec(step: Step, argv: Args, first: usize, envp: *const *const u8, path: &[u8], report_fd: Fd) -> ! {
    if let (Step::Exec, Some(spec)) = (step, cli::user(&argv)) {
        exec_as(spec, argv, first, envp, path, report_fd)
    }
    exec_or_fail(step, argv, first, envp, path, report_fd)
}

/// Which of the caller's fds 0, 1 and 2 were closed (a bit each): /dev/null held their numbers
/// meanwhile (main.rs), and the command gets them closed again, as they were given.
pub static CLOSED: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

#[inline(never)]
fn exec_or_fail(step: Step, argv: Args, first: usize, envp: *const *const u8, path: &[u8], report_fd: Fd) -> ! {
    let closed = CLOSED.load(core::sync::atomic::Ordering::Relaxed);
    (0..3).filter(|fd| closed & 1 << fd != 0).for_each(|fd| sys::close(Fd(fd)));
    let e = exec_search(argv, first, envp, path);
    let name = argv.get(first).to_bytes();
    let err = Error::new(step, if name.is_empty() { b"''" } else { name }, e);
    report::send_error(report_fd, &err);
    sys::exit(err.status())
}

/// --user: the switch comes last, once the root is whole (its names are the image's), with
/// HOME set from the image's passwd. A frame of its own, so that a run without --user does
/// not touch the pages of its buffers.
#[inline(never)]
fn exec_as(spec: &'static [u8], argv: Args, first: usize, envp: *const *const u8, path: &[u8], report_fd: Fd) -> ! {
    let mut home = Buf::<PATH_MAX>::new();
    let mut with_home = Envp::new();
    if let Err(err) = switch_user(spec, &mut home) {
        report::send_error(report_fd, &err);
        sys::exit(err.status())
    }
    let mut envp = envp;
    if !cli::envs(&argv).any(|e| key(e.to_bytes()) == b"HOME") {
        // SAFETY: `envp` is the array sandbox_env made: NULL-terminated C strings that live as
        // long as the process.
        let given = unsafe { Env::new(envp) };
        envp = sys::env_with(given, home.c(), &mut with_home);
    }
    exec_or_fail(Step::Exec, argv, first, envp, path, report_fd)
}

// ---- --user -----------------------------------------------------------------------------------

/// The most of /etc/passwd and /etc/group read (the environment array takes 33 KiB of the
/// command's 256 KiB stack).
const FILE: usize = 64 * 1024;
const MAX_GROUPS: usize = 64;

fn id(v: &[u8]) -> Option<u32> {
    parse_u64(v).filter(|&n| n < u32::MAX as u64).map(|n| n as u32)
}

/// The image's `path`, read into `buf` (a regular file resolved inside the root: its symlinks
/// cannot lead out; what does not fit is left out). A missing or odd file is empty.
fn image_file<'b>(root: Fd, path: &CStr, buf: &'b mut [u8]) -> &'b [u8] {
    const RESOLVE_IN_ROOT_NO_MAGICLINKS: u64 = 0x10 | 0x02;
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let Ok(fd) = sys::openat2(root, path, flags, RESOLVE_IN_ROOT_NO_MAGICLINKS) else { return b"" };
    let mut n = 0;
    if sys::fstat(fd).is_ok_and(|st| st.mode & libc::S_IFMT == libc::S_IFREG) {
        while let Ok(k @ 1..) = sys::read(fd, &mut buf[n..]) {
            n += k;
        }
    }
    sys::close(fd);
    &buf[..n]
}

/// Who --user names: uid, gid, supplementary groups and home, as Docker reads them from the
/// image: a name must be in /etc/passwd (or /etc/group); a number need not be, and then its gid
/// is 0 and its home `/`. The supplementary groups are those of /etc/group that list the user.
struct Ids {
    uid: u32,
    gid: u32,
    groups: [u32; MAX_GROUPS],
    ngroups: usize,
}

fn resolve<'a>(root: Fd, spec: &'a [u8], home: &mut Buf<PATH_MAX>) -> Result<Ids, Error<'a>> {
    let (user, group) = cli::user_spec(spec).ok_or(Error::usage(Step::BadUser, spec))?;
    let mut ids = Ids { uid: id(user).unwrap_or(0), gid: 0, groups: [0; MAX_GROUPS], ngroups: 0 };
    let mut name = Buf::<256>::new();
    home.push(b"HOME=/");
    let mut buf = [0u8; FILE];
    for line in image_file(root, c"etc/passwd", &mut buf).split(|&c| c == b'\n') {
        let f = fields(line);
        // A number is compared with the uid field, a name with the name field.
        let key = if id(user).is_some() { f[2] } else { f[0] };
        if let (true, Some(uid), Some(gid)) = (key == user, id(f[2]), id(f[3])) {
            (ids.uid, ids.gid) = (uid, gid);
            name.push(f[0]);
            let dir = f[5];
            if dir.first() == Some(&b'/') {
                home.clear();
                home.push(b"HOME=").push(dir);
            }
            break;
        }
    }
    let name = name.bytes();
    let mut missing = if name.is_empty() && id(user).is_none() { Some(user) } else { None };
    let mut gid = group.map(|g| id(g).ok_or(g));
    for line in image_file(root, c"etc/group", &mut buf).split(|&c| c == b'\n') {
        let f = fields(line);
        let Some(n) = id(f[2]) else { continue };
        if let Some(Err(g)) = gid {
            if f[0] == g {
                gid = Some(Ok(n));
            }
        }
        let member = !name.is_empty() && f[3].split(|&c| c == b',').any(|m| m == name);
        if member && ids.ngroups < MAX_GROUPS {
            ids.groups[ids.ngroups] = n;
            ids.ngroups += 1;
        }
    }
    match gid {
        Some(Ok(n)) => ids.gid = n,
        Some(Err(g)) => missing = missing.or(Some(g)),
        None => {}
    }
    match missing {
        Some(what) => Err(Error::new(Step::User, what, Errno::ENOENT)),
        None => Ok(ids),
    }
}

/// The first six fields of a `:`-separated line: name, password, id, then the gid, gecos and
/// home of passwd or the members of group.
fn fields(line: &[u8]) -> [&[u8]; 6] {
    let mut f = [&b""[..]; 6];
    for (i, p) in line.split(|&c| c == b':').take(6).enumerate() {
        f[i] = p;
    }
    f
}

/// Become the user that --user names (`spec`), in the command's process just before execve:
/// supplementary groups, gid, uid. Any uid but 0 ends with no capabilities (effective,
/// permitted, inheritable, ambient; the bounding set stays). `home` receives `HOME=...`.
///
/// Not root, the user namespace maps only the caller, as 0: setgroups is denied there (the
/// groups stay as they are), and any other uid or gid fails with EINVAL.
pub fn switch_user<'a>(spec: &'a [u8], home: &mut Buf<PATH_MAX>) -> Result<(), Error<'a>> {
    let e = |errno| Error::new(Step::User, spec, errno);
    let root = sys::openat(AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(e)?;
    let ids = resolve(root, spec, home);
    sys::close(root);
    let ids = ids?;
    match sys::setgroups(&ids.groups[..ids.ngroups]) {
        Err(Errno::EPERM) if setgroups_denied() => {}
        r => r.map_err(e)?,
    }
    sys::setresgid(ids.gid).and_then(|()| sys::setresuid(ids.uid)).map_err(e)?;
    if ids.uid != 0 {
        sys::prctl4(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64, 0).and_then(|()| sys::capset(0, 0, 0)).map_err(e)?;
    }
    Ok(())
}

/// A user namespace whose maps an unprivileged process wrote: setgroups(2) is denied in it.
fn setgroups_denied() -> bool {
    let mut b = [0u8; 8];
    sys::read_file(c"/proc/self/setgroups", &mut b).is_ok_and(|n| b[..n].starts_with(b"deny"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::vec::Vec;

    #[test]
    fn passwd_fields() {
        let f = fields(b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false");
        assert_eq!(f, [&b"nobody"[..], b"x", b"65534", b"65534", b"nobody", b"/nonexistent"]);
        assert_eq!(fields(b"staff:x:50:a,b"), [&b"staff"[..], b"x", b"50", b"a,b", b"", b""]);
        assert_eq!(fields(b"x"), [&b"x"[..], b"", b"", b"", b"", b""]);
        assert_eq!(id(b"4294967295"), None);
    }

    #[test]
    fn home_replaces_the_variable_or_is_added() {
        let owned: Vec<CString> = ["PATH=/bin", "HOME=/root", "TERM=x"].iter().map(|s| CString::new(*s).unwrap()).collect();
        let mut ptrs: Vec<*const u8> = owned.iter().map(|c| c.as_ptr() as *const u8).collect();
        ptrs.push(std::ptr::null());
        let read = |p: *const *const u8| -> Vec<Vec<u8>> {
            // SAFETY: a NULL-terminated array of live C strings, made here.
            let env = unsafe { Env::new(p) };
            ["PATH", "HOME", "TERM"].iter().filter_map(|k| env.entry(k.as_bytes()).map(|e| e.to_bytes().to_vec())).collect()
        };
        let mut out = Envp::new();
        // SAFETY: as above.
        let p = sys::env_with(unsafe { Env::new(ptrs.as_ptr()) }, c"HOME=/home/a", &mut out);
        assert_eq!(read(p), [b"PATH=/bin".to_vec(), b"HOME=/home/a".to_vec(), b"TERM=x".to_vec()]);
        assert_eq!(out.len(), 3);
        ptrs.remove(1);
        let mut out = Envp::new();
        // SAFETY: as above.
        let p = sys::env_with(unsafe { Env::new(ptrs.as_ptr()) }, c"HOME=/", &mut out);
        assert_eq!(read(p)[1], b"HOME=/");
        assert_eq!(out.len(), 3);
    }
}
