//! The last step of the command's process: its environment, the PATH search, and execve.
//! On failure the reason goes to the parent over the report channel and the process exits
//! 127 (not found) or 126 (found but not executable).

use crate::cli::{self, MAX_ENVS};
use crate::error::{Error, Step};
use crate::out::Buf;
use crate::report;
use crate::sys::{self, Args, Env, Errno, Fd, PtrArray};
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
    let e = exec_search(argv, first, envp, path);
    let name = argv.get(first).to_bytes();
    let err = Error::new(step, if name.is_empty() { b"''" } else { name }, e);
    report::send_error(report_fd, &err);
    sys::exit(err.status())
}
