//! What failed, where and why: a small `Copy` error and the one line it prints.
//!
//! Every error of sandbox itself is printed as
//!     sandbox: <what failed>: <path or argument>: <OS reason> (<hint>)
//! and ends the run with status 125; a command that cannot be executed gives 126, one that is not
//! found 127 (the convention of shells, tini and docker).

use crate::out::{Buf, Bytes};
use crate::sys::{self, Errno};

pub const EXIT_SANDBOX: i32 = 125;
pub const EXIT_CANNOT_EXEC: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

/// The step that failed. The discriminant travels over the report socket from the child.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Step {
    // Command line (no OS error).
    UnknownOption = 1,
    MissingValue,
    NoCommand,
    NoName,
    NeedsLower,
    BadName,
    BadHostname,
    BadNet,
    BadEnv,
    BadBind,
    BadCap,
    BadLimit,
    BadTmpSize,
    TooMany,
    // Host side, before the sandbox exists.
    Lower,
    BindSource,
    StateDir,
    Layer,
    InUse,
    NotOwner,
    StateDirUnsafe,
    CapMissing,
    NoController,
    Cgroup,
    Namespaces,
    // Inside, while building the root.
    Propagation,
    Replaced,
    Overlay,
    PivotRoot,
    Proc,
    Dev,
    Sys,
    Tmp,
    Bind,
    Hostname,
    Loopback,
    Cwd,
    Fork,
    Privileges,
    Terminal,
    // The command.
    Exec,
    ExecHere,
    // At exit.
    Cleanup,
    // Before anything: the sealed copy of the binary.
    SelfCopy,
    // Named sandboxes: --list, --remove, --stop, --join.
    Misplaced,
    BadSignal,
    BadUser,
    NoSuch,
    NotRunning,
    Running,
    Record,
    Join,
    // The machine's init.
    Machine,
    // --user, --device, --tmpfs, --read-only, the name service files.
    User,
    BadTmpfs,
    ReadOnlyKeep,
    Device,
    Tmpfs,
    ReadOnly,
    NameService,
    // Before anything: what the command is given as its stdio.
    Stdio,
}

impl Step {
    /// The step a report byte names (the discriminants are 1, 2, ... in the order of ALL).
    pub fn from_u8(v: u8) -> Step {
        ALL.get((v as usize).wrapping_sub(1)).copied().unwrap_or(Step::Fork)
    }

    /// What failed: the number of its text (src/texts.rs).
    fn what(self) -> usize {
        WHAT_AT + self as usize - 1
    }

    /// A hint where the raw errno (or no errno) leaves the user guessing.
    fn hint(self, errno: i32) -> Option<usize> {
        HINT_OF.iter().find(|&&(step, e, _)| step == self && (e == ANY || e as i32 == errno)).map(|&(_, _, i)| HINT_AT + i as usize)
    }
}

/// The texts (src/texts.rs, compressed by build.rs): the help, then what each step is, then the
/// hints, then sandbox-oci's texts (OCI_AT) and the OS reasons (ERRNO_AT), NUL between them; a
/// byte b stands for the two of `PAIRS` at 2 * (b ^ 0x80) where
/// those are there and not 0 (from 0x80 up, and control characters other than newline).
static TEXTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/texts.bin"));
static PAIRS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pairs.bin"));
pub const HELP: usize = 0;
const WHAT_AT: usize = 1;
const HINT_AT: usize = WHAT_AT + ALL.len();

// Where the texts of sandbox-oci (src/texts.rs: OCI, OCI_WHAT, OCI_HINTS) and the OS reasons
// start (build.rs).
include!(concat!(env!("OUT_DIR"), "/text_at.rs"));

/// Text number `i`, compressed.
fn packed(i: usize) -> &'static [u8] {
    TEXTS.split(|&c| c == 0).nth(i).unwrap_or(b"")
}

/// Append text number `i`.
pub fn push_text(b: &mut Bytes<[u8]>, i: usize) {
    for &c in packed(i) {
        expand(b, c);
    }
}

/// Append `: path` (up to 1024 bytes of it, shown printable) unless it is empty, and `: reason`
/// for an errno other than 0: the middle of the error lines of sandbox and sandbox-oci.
#[inline(never)]
pub fn push_where_why(b: &mut Bytes<[u8]>, path: &[u8], errno: i32) {
    if !path.is_empty() {
        b.push(b": ").push_printable(&path[..path.len().min(1024)]);
    }
    if errno != 0 {
        b.push(b": ");
        push_reason(b, errno);
    }
}

/// Append the OS reason for an errno, as `Errno::description` words it, or `errno N` for one
/// it has no text for.
pub fn push_reason(b: &mut Bytes<[u8]>, errno: i32) {
    let t = match errno {
        1..=133 => packed(ERRNO_AT + errno as usize - 1),
        512..=531 => packed(ERRNO_AT + 133 + (errno - 512) as usize),
        _ => b"",
    };
    if t.is_empty() {
        b.push(b"errno ").push_i64(errno as i64);
    }
    for &c in t {
        expand(b, c);
    }
}

/// Append a text compressed as those of the table are (oci::why's; plain ASCII stays itself).
pub fn push_packed(b: &mut Bytes<[u8]>, t: &[u8]) {
    for &c in t {
        expand(b, c);
    }
}

fn expand(b: &mut Bytes<[u8]>, c: u8) {
    match PAIRS.get(2 * (c ^ 0x80) as usize..) {
        Some([x, y, ..]) if *x != 0 => {
            expand(b, *x);
            expand(b, *y);
        }
        _ => {
            b.push(&[c]);
        }
    }
}

/// Any errno (the errnos named are all below it).
const ANY: u8 = 255;
const HINT_OF: [(Step, u8, u8); 82] = [
    (Step::Stdio, ANY, 52),
    (Step::UnknownOption, ANY, 0),
    (Step::MissingValue, ANY, 0),
    (Step::NoCommand, ANY, 0),
    (Step::NeedsLower, ANY, 0),
    (Step::Misplaced, ANY, 0),
    (Step::BadSignal, ANY, 1),
    (Step::NoSuch, ANY, 2),
    (Step::NotRunning, ANY, 3),
    (Step::Running, ANY, 4),
    (Step::Record, libc::ELOOP as u8, 5),
    (Step::Record, libc::EPERM as u8, 5),
    (Step::Join, libc::EPERM as u8, 6),
    (Step::Join, libc::EACCES as u8, 6),
    (Step::Join, libc::ESRCH as u8, 7),
    (Step::Join, libc::ENOMEM as u8, 7),
    (Step::NoName, ANY, 8),
    (Step::BadName, ANY, 9),
    (Step::BadHostname, ANY, 10),
    (Step::BadNet, ANY, 11),
    (Step::BadEnv, ANY, 12),
    (Step::BadBind, ANY, 13),
    (Step::BadCap, ANY, 14),
    (Step::BadLimit, ANY, 15),
    (Step::BadTmpSize, ANY, 16),
    (Step::NoController, ANY, 17),
    (Step::Cgroup, libc::EACCES as u8, 18),
    (Step::Cgroup, libc::EPERM as u8, 18),
    (Step::Cgroup, libc::EROFS as u8, 18),
    (Step::Cgroup, libc::ENOTDIR as u8, 18),
    (Step::Lower, libc::ENOTDIR as u8, 19),
    (Step::Lower, libc::ELOOP as u8, 19),
    (Step::InUse, ANY, 20),
    (Step::NotOwner, ANY, 21),
    (Step::StateDirUnsafe, ANY, 22),
    (Step::Replaced, ANY, 23),
    (Step::Layer, libc::ENOTDIR as u8, 24),
    (Step::Layer, libc::ELOOP as u8, 24),
    (Step::CapMissing, ANY, 25),
    (Step::TooMany, ANY, 26),
    (Step::Cwd, 0, 27),
    (Step::StateDir, libc::EROFS as u8, 28),
    (Step::Layer, libc::EROFS as u8, 28),
    (Step::StateDir, libc::ENOSPC as u8, 28),
    (Step::Layer, libc::ENOSPC as u8, 28),
    (Step::StateDir, libc::EACCES as u8, 29),
    (Step::StateDir, libc::EPERM as u8, 29),
    (Step::Namespaces, libc::EPERM as u8, 30),
    (Step::Namespaces, libc::ENOSPC as u8, 31),
    (Step::Namespaces, libc::EUSERS as u8, 31),
    (Step::Overlay, libc::ENODEV as u8, 32),
    (Step::Overlay, libc::ELOOP as u8, 33),
    (Step::Proc, libc::ELOOP as u8, 34),
    (Step::Dev, libc::ELOOP as u8, 34),
    (Step::Sys, libc::ELOOP as u8, 34),
    (Step::Tmp, libc::ELOOP as u8, 34),
    (Step::Bind, libc::ELOOP as u8, 34),
    (Step::Tmpfs, libc::ELOOP as u8, 34),
    (Step::Device, libc::ELOOP as u8, 34),
    (Step::NameService, libc::ELOOP as u8, 34),
    (Step::PivotRoot, libc::EXDEV as u8, 35),
    (Step::Overlay, libc::EINVAL as u8, 36),
    (Step::Cwd, libc::ENOENT as u8, 37),
    (Step::Cwd, libc::ELOOP as u8, 38),
    (Step::Cwd, libc::EXDEV as u8, 38),
    (Step::BadUser, ANY, 39),
    (Step::User, libc::ENOENT as u8, 40),
    (Step::User, libc::EINVAL as u8, 41),
    (Step::User, libc::EPERM as u8, 42),
    (Step::BadTmpfs, ANY, 43),
    (Step::ReadOnlyKeep, ANY, 44),
    (Step::Device, libc::ENODEV as u8, 45),
    (Step::ReadOnly, libc::EEXIST as u8, 46),
    (Step::Bind, libc::EROFS as u8, 47),
    (Step::Tmpfs, libc::EROFS as u8, 47),
    (Step::Device, libc::EROFS as u8, 47),
    (Step::Exec, libc::ENOENT as u8, 48),
    (Step::ExecHere, libc::ENOENT as u8, 49),
    (Step::Exec, libc::EACCES as u8, 50),
    (Step::ExecHere, libc::EACCES as u8, 50),
    (Step::Exec, libc::ENOEXEC as u8, 51),
    (Step::ExecHere, libc::ENOEXEC as u8, 51),
];

const ALL: [Step; Step::Stdio as usize] = [
    Step::UnknownOption,
    Step::MissingValue,
    Step::NoCommand,
    Step::NoName,
    Step::NeedsLower,
    Step::BadName,
    Step::BadHostname,
    Step::BadNet,
    Step::BadEnv,
    Step::BadBind,
    Step::BadCap,
    Step::BadLimit,
    Step::BadTmpSize,
    Step::TooMany,
    Step::Lower,
    Step::BindSource,
    Step::StateDir,
    Step::Layer,
    Step::InUse,
    Step::NotOwner,
    Step::StateDirUnsafe,
    Step::CapMissing,
    Step::NoController,
    Step::Cgroup,
    Step::Namespaces,
    Step::Propagation,
    Step::Replaced,
    Step::Overlay,
    Step::PivotRoot,
    Step::Proc,
    Step::Dev,
    Step::Sys,
    Step::Tmp,
    Step::Bind,
    Step::Hostname,
    Step::Loopback,
    Step::Cwd,
    Step::Fork,
    Step::Privileges,
    Step::Terminal,
    Step::Exec,
    Step::ExecHere,
    Step::Cleanup,
    Step::SelfCopy,
    Step::Misplaced,
    Step::BadSignal,
    Step::BadUser,
    Step::NoSuch,
    Step::NotRunning,
    Step::Running,
    Step::Record,
    Step::Join,
    Step::Machine,
    Step::User,
    Step::BadTmpfs,
    Step::ReadOnlyKeep,
    Step::Device,
    Step::Tmpfs,
    Step::ReadOnly,
    Step::NameService,
    Step::Stdio,
];

/// A failure: the step, the path or argument it concerns, and the OS error (0: none).
#[derive(Clone, Copy, Debug)]
pub struct Error<'a> {
    pub step: Step,
    pub path: &'a [u8],
    pub errno: i32,
}

impl<'a> Error<'a> {
    pub fn new(step: Step, path: &'a [u8], errno: Errno) -> Error<'a> {
        Error { step, path, errno: errno.into_raw() }
    }
    pub fn usage(step: Step, path: &'a [u8]) -> Error<'a> {
        Error { step, path, errno: 0 }
    }

    /// The exit status this error ends the run with.
    pub fn status(&self) -> i32 {
        match (self.step, self.errno) {
            (Step::Exec | Step::ExecHere, libc::ENOENT) => EXIT_NOT_FOUND,
            (Step::Exec | Step::ExecHere, _) => EXIT_CANNOT_EXEC,
            _ => EXIT_SANDBOX,
        }
    }

    /// The whole line, written with one write(2) so that lines of concurrent runs do not mix.
    pub fn line(&self, b: &mut Buf<1400>) {
        b.clear();
        b.push(b"sandbox: ");
        push_text(b, self.step.what());
        push_where_why(b, self.path, self.errno);
        if let Some(hint) = self.step.hint(self.errno) {
            b.push(b" (");
            push_text(b, hint);
            b.push(b")");
        }
        b.push(b"\n");
    }

    pub fn print(&self) {
        let mut b = Buf::<1400>::new();
        self.line(&mut b);
        let _ = sys::write_all(sys::STDERR, b.bytes());
    }
}

/// Print a line `sandbox: <msg>` on stderr.
pub fn say(msg: &[u8]) {
    let mut b = Buf::<512>::new();
    b.push(b"sandbox: ").push(msg).push(b"\n");
    let _ = sys::write_all(sys::STDERR, b.bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: Error) -> std::string::String {
        let mut b = Buf::<1400>::new();
        e.line(&mut b);
        std::string::String::from_utf8(b.bytes().to_vec()).unwrap()
    }

    #[test]
    fn lines_name_step_path_reason_and_hint() {
        let e = Error::new(Step::Lower, b"/no/such", Errno::ENOENT);
        assert_eq!(text(e), "sandbox: lower directory: /no/such: No such file or directory\n");
        assert_eq!(e.status(), 125);
        let e = Error::new(Step::Overlay, b"/x", Errno::ELOOP);
        assert!(text(e).ends_with("(overlay directories may not overlap)\n"));
        let e = Error::usage(Step::UnknownOption, b"--frob");
        assert_eq!(text(e), "sandbox: unknown option: --frob (see sandbox --help)\n");
    }

    #[test]
    fn exec_statuses_follow_the_shell_convention() {
        assert_eq!(Error::new(Step::Exec, b"x", Errno::ENOENT).status(), 127);
        assert_eq!(Error::new(Step::Exec, b"x", Errno::EACCES).status(), 126);
        assert_eq!(Error::new(Step::Exec, b"x", Errno::ENOEXEC).status(), 126);
        assert_eq!(Error::new(Step::ExecHere, b"x", Errno::ENOENT).status(), 127);
        assert_eq!(Error::new(Step::ExecHere, b"x", Errno::EACCES).status(), 126);
    }

    #[test]
    fn errno_texts_are_the_syscalls_crate_ones() {
        let reason = |n| {
            let mut b = Buf::<256>::new();
            push_reason(&mut b, n);
            std::string::String::from_utf8(b.bytes().to_vec()).unwrap()
        };
        for n in [-1, 0].into_iter().chain(1..4200).chain([i32::MIN, i32::MAX]) {
            let want = Errno::new(n).description().map_or(std::format!("errno {n}"), str::to_string);
            assert_eq!(reason(n), want, "errno {n}");
        }
        assert_eq!(reason(libc::ENOENT), "No such file or directory");
    }

    fn nth_text(i: usize) -> std::vec::Vec<u8> {
        let mut b = Buf::<4096>::new();
        push_text(&mut b, i);
        b.bytes().to_vec()
    }

    #[test]
    fn texts_come_back_as_written() {
        use crate::texts;
        assert_eq!(texts::WHAT.len(), ALL.len());
        assert_eq!(nth_text(HELP), texts::HELP.as_bytes());
        for (i, t) in texts::WHAT.iter().enumerate() {
            assert_eq!(nth_text(WHAT_AT + i), t.as_bytes());
        }
        for (i, t) in texts::HINTS.iter().enumerate() {
            assert_eq!(nth_text(HINT_AT + i), t.as_bytes());
        }
        assert_eq!(nth_text(Step::NameService.what()), b"name service file");
        assert_eq!(nth_text(Step::Exec.hint(libc::ENOEXEC).unwrap()), b"not a binary the kernel can run");
        assert_eq!(nth_text(Step::Cwd.hint(0).unwrap()), b"--cwd takes an absolute path inside the sandbox");
        assert_eq!(Step::Cwd.hint(libc::EPERM), None);
        assert!(HINT_OF.iter().all(|&(_, _, i)| (i as usize) < texts::HINTS.len()));
        assert_eq!(OCI_AT, HINT_AT + texts::HINTS.len());
        let oci = texts::OCI.iter().chain(texts::OCI_WHAT.iter()).chain(texts::OCI_HINTS.iter());
        for (i, t) in oci.enumerate() {
            assert_eq!(nth_text(OCI_AT + i), t.as_bytes());
        }
        assert_eq!(ERRNO_AT, OCI_AT + texts::OCI.len() + texts::OCI_WHAT.len() + texts::OCI_HINTS.len());
        for (packed, (_, t)) in crate::oci::why::ALL.iter().zip(texts::OCI_WHY) {
            let mut b = Buf::<256>::new();
            push_packed(&mut b, packed);
            assert_eq!(b.bytes(), t.as_bytes());
        }
        assert_eq!(crate::oci::why::ALL.len(), texts::OCI_WHY.len());
        let mut b = Buf::<64>::new();
        push_packed(&mut b, b"plain text stays");
        assert_eq!(b.bytes(), b"plain text stays");
    }

    #[test]
    fn steps_round_trip_through_their_byte() {
        for s in ALL {
            assert_eq!(Step::from_u8(s as u8), s);
        }
    }
}
