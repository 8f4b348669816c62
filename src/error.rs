//! What failed, where and why: a small `Copy` error and the one line it prints.
//!
//! Every error of sandbox itself is printed as
//!     sandbox: <what failed>: <path or argument>: <OS reason> (<hint>)
//! and ends the run with status 125; a command that cannot be executed gives 126, one that is not
//! found 127 (the convention of shells, tini and docker).

use crate::out::Buf;
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
    // The machine's init.
    Machine,
}

impl Step {
    /// The step a report byte names (the discriminants are 1, 2, ... in the order of ALL).
    pub fn from_u8(v: u8) -> Step {
        ALL.get((v as usize).wrapping_sub(1)).copied().unwrap_or(Step::Fork)
    }

    fn what(self) -> &'static [u8] {
        match self {
            Step::UnknownOption => b"unknown option",
            Step::MissingValue => b"option needs a value",
            Step::NoCommand => b"no command given",
            Step::NoName => b"--lower needs --name",
            Step::NeedsLower => b"option needs --lower",
            Step::BadName => b"invalid name",
            Step::BadHostname => b"invalid hostname",
            Step::BadNet => b"invalid --net",
            Step::BadEnv => b"invalid --env",
            Step::BadBind => b"invalid bind",
            Step::BadCap => b"unknown capability",
            Step::BadLimit => b"invalid limit",
            Step::BadTmpSize => b"invalid --tmp-size",
            Step::TooMany => b"too many uses of option",
            Step::Lower => b"lower directory",
            Step::BindSource => b"bind source",
            Step::StateDir => b"state directory",
            Step::Layer => b"writable layer",
            Step::InUse => b"name is in use",
            Step::NotOwner => b"not yours alone",
            Step::StateDirUnsafe => b"state directory not yours alone",
            Step::CapMissing => b"cannot give capability",
            Step::NoController => b"cgroup v2 controller not available",
            Step::Cgroup => b"cgroup",
            Step::Namespaces => b"create namespaces",
            Step::Propagation => b"make mounts private",
            Step::Replaced => b"writable layer replaced while starting",
            Step::Overlay => b"mount overlay",
            Step::PivotRoot => b"pivot_root into",
            Step::Proc => b"mount /proc",
            Step::Dev => b"set up /dev",
            Step::Sys => b"mount /sys",
            Step::Tmp => b"mount /tmp",
            Step::Bind => b"bind mount",
            Step::Hostname => b"set hostname",
            Step::Loopback => b"bring up lo",
            Step::Cwd => b"working directory",
            Step::Fork => b"start the command",
            Step::Privileges => b"drop privileges",
            Step::Terminal => b"make the sandbox's terminal",
            Step::Exec | Step::ExecHere => b"cannot execute",
            Step::Cleanup => b"remove writable layer",
            Step::SelfCopy => b"run from a sealed copy of sandbox",
            Step::Machine => b"machine set-up",
        }
    }

    /// A hint where the raw errno (or no errno) leaves the user guessing.
    fn hint(self, errno: i32) -> &'static [u8] {
        match (self, errno) {
            (Step::UnknownOption | Step::MissingValue | Step::NoCommand | Step::NeedsLower, _) => {
                b"see sandbox --help"
            }
            (Step::NoName, _) => b"every sandbox with its own root has a name",
            (Step::BadName, _) => b"a name is [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 bytes",
            (Step::BadHostname, _) => b"a hostname is 1 to 64 bytes",
            (Step::BadNet, _) => b"use none or host",
            (Step::BadEnv, _) => b"use KEY=VALUE",
            (Step::BadBind, _) => b"use SRC:DST with an absolute DST other than /, without ..",
            (Step::BadCap, _) => b"names as in capabilities(7), or all",
            (Step::BadLimit, _) => b"--memory 512M, --pids 100, --cpus 1.5",
            (Step::BadTmpSize, _) => b"bytes, or with K, M, G, T: --tmp-size 512M",
            (Step::NoController, _) => {
                b"limits need cgroup v2 at /sys/fs/cgroup with this controller enabled; this host has none"
            }
            (Step::Cgroup, libc::EACCES) | (Step::Cgroup, libc::EPERM) | (Step::Cgroup, libc::EROFS) => {
                b"not root: set SANDBOX_CGROUP to a cgroup delegated to you"
            }
            (Step::Lower, libc::ENOTDIR) | (Step::Lower, libc::ELOOP) => b"--lower takes a directory",
            (Step::InUse, _) => b"another sandbox of this name is running",
            (Step::NotOwner, _) => {
                b"made by another user, or open to others: left alone; remove it or choose another --state-dir"
            }
            (Step::StateDirUnsafe, _) => {
                b"it must be yours and writable by no one else: chmod go-w it, or choose another --state-dir"
            }
            (Step::Replaced, _) => b"its directory or one above it was swapped by someone: refusing to run",
            (Step::Layer, libc::ENOTDIR) | (Step::Layer, libc::ELOOP) => {
                b"its upper and work must be directories, not symlinks: remove the layer"
            }
            (Step::CapMissing, _) => b"sandbox itself lacks it: not in its bounding set, so no process it starts can have it",
            (Step::TooMany, _) => b"at most 128 --lower, 64 --bind and --ro-bind, 4096 --env",
            (Step::Cwd, 0) => b"--cwd takes an absolute path inside the sandbox",
            (Step::StateDir | Step::Layer, libc::EROFS) | (Step::StateDir | Step::Layer, libc::ENOSPC) => {
                b"choose another place with --state-dir"
            }
            (Step::StateDir, libc::EACCES) | (Step::StateDir, libc::EPERM) => {
                b"choose one you can write with --state-dir"
            }
            (Step::Namespaces, libc::EPERM) => b"namespaces need root (or CAP_SYS_ADMIN)",
            (Step::Namespaces, libc::ENOSPC) | (Step::Namespaces, libc::EUSERS) => {
                b"a namespace limit in /proc/sys/user is reached"
            }
            (Step::Overlay, libc::ENODEV) => b"the kernel has no overlayfs: modprobe overlay",
            (Step::Overlay, libc::ELOOP) => b"overlay directories may not overlap",
            (Step::Proc | Step::Dev | Step::Sys | Step::Tmp | Step::Bind, libc::ELOOP) => {
                b"a mount point in the sandbox may not be a symlink"
            }
            (Step::PivotRoot, libc::EXDEV) => b"the old root is still reachable; refusing to run",
            (Step::Overlay, libc::EINVAL) => {
                b"overlayfs refused the layers: a layer on overlayfs, or a filesystem without d_type?"
            }
            (Step::Cwd, libc::ENOENT) => b"--cwd names a directory inside the sandbox",
            (Step::Cwd, libc::ELOOP) | (Step::Cwd, libc::EXDEV) => {
                b"--cwd is resolved inside the sandbox, and may not lead through /proc/*/cwd or other magic links"
            }
            (Step::Exec, libc::ENOENT) => b"command not found in the sandbox",
            (Step::ExecHere, libc::ENOENT) => b"command not found",
            (Step::Exec | Step::ExecHere, libc::EACCES) => b"not an executable file",
            (Step::Exec | Step::ExecHere, libc::ENOEXEC) => b"not a binary the kernel can run",
            _ => b"",
        }
    }
}

const ALL: [Step; Step::Machine as usize] = [
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
    Step::Machine,
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
        b.push(b"sandbox: ").push(self.step.what());
        if !self.path.is_empty() {
            b.push(b": ").push_printable(&self.path[..self.path.len().min(1024)]);
        }
        if self.errno != 0 {
            b.push(b": ");
            match describe(self.errno) {
                Some(d) => b.push(d),
                None => b.push(b"errno ").push_i64(self.errno as i64),
            };
        }
        let hint = self.step.hint(self.errno);
        if !hint.is_empty() {
            b.push(b" (").push(hint).push(b")");
        }
        b.push(b"\n");
    }

    pub fn print(&self) {
        let mut b = Buf::<1400>::new();
        self.line(&mut b);
        let _ = sys::write_all(sys::STDERR, b.bytes());
    }
}

/// The errno texts of the syscalls crate: (number: u16 LE, length: u8, text) after each other.
static ERRNO_TEXTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/errno.bin"));

/// The OS reason for an errno, as `Errno::description` words it.
pub fn describe(errno: i32) -> Option<&'static [u8]> {
    let mut t = ERRNO_TEXTS;
    while let [lo, hi, len, rest @ ..] = t {
        let (text, next) = rest.split_at_checked(*len as usize)?;
        if i32::from(u16::from_le_bytes([*lo, *hi])) == errno {
            return Some(text);
        }
        t = next;
    }
    None
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
        for n in -1..4200 {
            assert_eq!(describe(n), Errno::new(n).description().map(str::as_bytes), "errno {n}");
        }
        assert_eq!(describe(libc::ENOENT), Some(&b"No such file or directory"[..]));
    }

    #[test]
    fn steps_round_trip_through_their_byte() {
        for s in ALL {
            assert_eq!(Step::from_u8(s as u8), s);
        }
    }
}
