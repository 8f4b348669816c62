//! sandbox as an OCI runtime, selected by the name it is called by (`sandbox-oci`): the command
//! line engines drive runc and crun with, `PATH [GLOBAL OPTIONS] COMMAND [OPTIONS] ID [ARGS]`.
//!
//!   mod        global options, the commands, errors and the --log file
//!   json       a JSON reader over a fixed buffer
//!   config     config.json to a typed spec
//!   record     the container's state under --root
//!   create     create, start, state, kill, delete (the engine's side)
//!   container  (inside) namespaces, root, limits, the gate, credentials and execve
//!   confine    the process's seccomp profile
//!   devices    linux.resources.devices as a cgroup v2 device program
//!   exec       a new process in a running container
//!   info       ps, pause, resume, list, features, spec
//!   run        create, start, wait and delete in one
//!   update     new limits for a container's cgroup

mod config;
mod confine;
mod container;
mod create;
mod devices;
mod exec;
mod info;
mod json;
mod record;
mod run;
mod update;

/// The reasons of error lines (src/texts.rs, OCI_WHY), compressed: error::push_packed.
#[allow(dead_code)]
pub mod why {
    include!(concat!(env!("OUT_DIR"), "/why.rs"));
}

use crate::error::{push_text, OCI_AT};
use crate::out::{Buf, Bytes};
use crate::sys::{self, Args, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

pub const NAME: &[u8] = b"sandbox-oci";

/// What failed: the texts of the error lines. The discriminant travels from the container's
/// process to `create` over the report channel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Step {
    Usage = 1,
    Config,
    Refused,
    StateDir,
    Exists,
    NotFound,
    Status,
    Bundle,
    Rootfs,
    Namespace,
    Clone,
    IdMap,
    Cgroup,
    NoController,
    Mount,
    Propagation,
    PivotRoot,
    Device,
    Mask,
    ReadOnly,
    Sysctl,
    Hostname,
    Rlimit,
    OomScore,
    AppArmor,
    User,
    Caps,
    NoNewPrivs,
    Seccomp,
    Cwd,
    Exec,
    Console,
    Gate,
    Signal,
    Delete,
    SelfCopy,
    PidFile,
    Freeze,
    Process,
    Stdio,
}


impl Step {
    /// The step a report byte names (the discriminants are 1, 2, ... in the order of STEPS).
    pub fn from_u8(v: u8) -> Step {
        STEPS.get((v as usize).wrapping_sub(1)).copied().unwrap_or(Step::Clone)
    }
}

const STEPS: [Step; Step::Stdio as usize] = [
    Step::Usage,
    Step::Config,
    Step::Refused,
    Step::StateDir,
    Step::Exists,
    Step::NotFound,
    Step::Status,
    Step::Bundle,
    Step::Rootfs,
    Step::Namespace,
    Step::Clone,
    Step::IdMap,
    Step::Cgroup,
    Step::NoController,
    Step::Mount,
    Step::Propagation,
    Step::PivotRoot,
    Step::Device,
    Step::Mask,
    Step::ReadOnly,
    Step::Sysctl,
    Step::Hostname,
    Step::Rlimit,
    Step::OomScore,
    Step::AppArmor,
    Step::User,
    Step::Caps,
    Step::NoNewPrivs,
    Step::Seccomp,
    Step::Cwd,
    Step::Exec,
    Step::Console,
    Step::Gate,
    Step::Signal,
    Step::Delete,
    Step::SelfCopy,
    Step::PidFile,
    Step::Freeze,
    Step::Process,
    Step::Stdio,
];

/// A failure: the step, the path or field it concerns, the OS error (0: none) and, for a
/// refused config, why.
#[derive(Clone, Copy, Debug)]
pub struct Fail<'a> {
    pub step: Step,
    pub path: &'a [u8],
    pub errno: i32,
    pub why: &'static [u8],
}

impl<'a> Fail<'a> {
    pub fn new(step: Step, path: &'a [u8], errno: Errno) -> Fail<'a> {
        Fail { step, path, errno: errno.into_raw(), why: b"" }
    }
    pub fn usage(step: Step, path: &'a [u8], why: &'static [u8]) -> Fail<'a> {
        Fail { step, path, errno: 0, why }
    }
    /// The hint where `why` gives none: its number among texts::OCI_HINTS.
    fn hint(&self) -> Option<usize> {
        Some(match (self.step, self.errno) {
            (Step::Exec, libc::ENOENT) => 0,
            (Step::Exec, libc::EACCES) => 1,
            (Step::Mount | Step::Mask | Step::ReadOnly | Step::Device, libc::ELOOP) | (Step::Mount, libc::EXDEV) => 2,
            (Step::NoController, _) => 3,
            (Step::Exists, _) => 4,
            (Step::Seccomp, libc::E2BIG) => 5,
            (Step::AppArmor, libc::ENOENT) => 6,
            (Step::StateDir, libc::EACCES | libc::EPERM | libc::EROFS) => 7,
            (Step::Config, libc::EEXIST) => 8,
            _ => return None,
        })
    }

    /// The line, without the trailing newline: `sandbox-oci: ID: what: path: reason (hint)`.
    pub fn line(&self, id: &[u8], b: &mut Buf<1400>) {
        b.clear();
        b.push(NAME).push(b": ");
        if !id.is_empty() {
            b.push_printable(&id[..id.len().min(128)]).push(b": ");
        }
        push_text(b, WHAT_AT + self.step as usize - 1);
        crate::error::push_where_why(b, self.path, self.errno);
        let hint = if self.why.is_empty() { self.hint() } else { None };
        if !self.why.is_empty() || hint.is_some() {
            b.push(if self.errno != 0 { b" (" } else { b": " });
            crate::error::push_packed(b, self.why);
            if let Some(h) = hint {
                push_text(b, HINT_AT + h);
            }
            if self.errno != 0 {
                b.push(b")");
            }
        }
    }
}

/// The global options, and what every command needs from them.
pub struct Global {
    pub root: &'static CStr,
    pub log: Fd,
    pub json_log: bool,
    pub systemd_cgroup: bool,
    pub no_cgroups: bool,
    pub debug: bool,
    /// The container the command is about, once known.
    pub id: core::cell::Cell<&'static [u8]>,
    /// `--root` once opened and checked (record::open_root); -1 before.
    pub root_fd: core::cell::Cell<i32>,
}

impl Global {
    /// `--root`, opened and checked once (made first when `make`).
    pub fn state_root(&self, make: bool) -> Result<Fd, Fail<'static>> {
        if self.root_fd.get() < 0 {
            self.root_fd.set(record::open_root(self.root, make)?.0);
        }
        Ok(Fd(self.root_fd.get()))
    }

    /// Print the error on stderr and into --log; the status to exit with.
    pub fn fail(&self, id: &[u8], f: &Fail) -> i32 {
        let mut b = Buf::<1400>::new();
        f.line(id, &mut b);
        let n = b.len();
        b.push(b"\n");
        let _ = sys::write_all(sys::STDERR, b.bytes());
        if self.log.0 >= 0 {
            if self.json_log {
                let mut j = Buf::<4096>::new();
                j.push(b"{\"level\":\"error\",\"msg\":");
                json_str(&mut j, &b.bytes()[NAME.len() + 2..n]);
                j.push(b"}\n");
                let _ = sys::write_all(self.log, j.bytes());
            } else {
                let _ = sys::write_all(self.log, b.bytes());
            }
        }
        1
    }
}

/// Append `s` as a JSON string (quoted, escaped).
pub fn json_str(b: &mut Bytes<[u8]>, s: &[u8]) {
    b.push(b"\"");
    for &c in s {
        match c {
            b'"' => b.push(b"\\\""),
            b'\\' => b.push(b"\\\\"),
            b'\n' => b.push(b"\\n"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                b.push(b"\\u00").push(&[HEX[(c >> 4) as usize], HEX[(c & 15) as usize]])
            }
            _ => b.push(core::slice::from_ref(&c)),
        };
    }
    b.push(b"\"");
}

/// Command-line options: `--name value`, `--name=value`, `-name`, and boolean ones.
pub struct Opts {
    args: Args,
    /// The next argument to look at.
    pub at: usize,
}

pub enum Arg {
    /// An option, its name without dashes, and its value when given with `=`.
    Opt(&'static [u8], Option<&'static CStr>),
    /// The first argument that is not an option (left for `word`).
    Word,
    End,
}

impl Opts {
    pub fn next(&mut self) -> Arg {
        if self.at >= self.args.len() {
            return Arg::End;
        }
        let a = self.args.get(self.at);
        let b = a.to_bytes();
        if b.len() < 2 || b[0] != b'-' {
            return Arg::Word;
        }
        self.at += 1;
        if b == b"--" {
            return if self.at < self.args.len() { Arg::Word } else { Arg::End };
        }
        let name = if b.starts_with(b"--") { &b[2..] } else { &b[1..] };
        match name.iter().position(|&c| c == b'=') {
            Some(i) => Arg::Opt(&name[..i], CStr::from_bytes_until_nul(&a.to_bytes_with_nul()[i + 1 + (b.len() - name.len())..]).ok()),
            None => Arg::Opt(name, None),
        }
    }
    /// The value of an option: given with `=`, or the next argument.
    pub fn value(&mut self, name: &'static [u8], given: Option<&'static CStr>) -> Result<&'static CStr, Fail<'static>> {
        if let Some(v) = given {
            return Ok(v);
        }
        if self.at >= self.args.len() {
            return Err(Fail::usage(Step::Usage, name, why::OPTION_NEEDS_A_VALUE));
        }
        self.at += 1;
        Ok(self.args.get(self.at - 1))
    }
    /// The word at `at` (consumed).
    pub fn word(&mut self) -> Option<&'static CStr> {
        if self.at >= self.args.len() {
            return None;
        }
        self.at += 1;
        Some(self.args.get(self.at - 1))
    }
}

/// The texts of sandbox-oci (src/texts.rs, expanded by error::push_text): the help, spec's
/// config.json, features' document in two parts, then what each step is, then the hints.
pub const HELP: usize = OCI_AT;
pub const SPEC: usize = OCI_AT + 1;
pub const FEATURES: usize = OCI_AT + 2;
pub const FEATURES_END: usize = OCI_AT + 3;
const WHAT_AT: usize = OCI_AT + 4;
const HINT_AT: usize = WHAT_AT + STEPS.len();

/// Write text number `i` to `fd`.
pub fn print_text(fd: Fd, i: usize) {
    let mut b = Buf::<4096>::new();
    push_text(&mut b, i);
    let _ = sys::write_all(fd, b.bytes());
}

static XDG_ROOT: sys::Static<[u8; crate::state::PATH_MAX]> = sys::Static::new([0; crate::state::PATH_MAX]);

/// `--log`: a regular file, appended to (made if missing); none if it is anything else (a
/// link, a FIFO that would hang us, a device) or cannot be opened.
fn log_file(path: &CStr) -> Fd {
    let f = sys::openat(AT_FDCWD, path, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC, 0o644).unwrap_or(Fd(-1));
    if sys::fstat(f).is_ok_and(|st| st.mode & libc::S_IFMT == libc::S_IFREG) {
        return f;
    }
    sys::close(f);
    Fd(-1)
}

/// The entry of the OCI runtime: `argv[0]` named `sandbox-oci`.
pub fn main(args: Args, env: sys::Env) -> i32 {
    // Not dumpable, from the start: no process of a container (same uid, same capabilities once
    // ours are lowered) may open /proc/PID/fd of ours or trace us while we hold host files.
    // Every process made here inherits it; the container's command's execve resets it.
    let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
    let mut g = Global { root: c"/run/sandbox-oci", log: Fd(-1), json_log: false, systemd_cgroup: false, no_cgroups: false, debug: false, id: core::cell::Cell::new(b""), root_fd: core::cell::Cell::new(-1) };
    // Rootless engines run the runtime in a user namespace of theirs: state under
    // $XDG_RUNTIME_DIR then, as runc keeps it.
    let mut xdg = Buf::<{ crate::state::PATH_MAX }>::new();
    if let Some(dir) = env.get(b"XDG_RUNTIME_DIR").filter(|d| d.to_bytes().first() == Some(&b'/')) {
        if sys::geteuid() != 0 || container::in_user_namespace() {
            xdg.push(dir.to_bytes()).push(b"/sandbox-oci");
            g.root = XDG_ROOT.take().map_or(g.root, |b| {
                b[..xdg.len() + 1].copy_from_slice(xdg.c().to_bytes_with_nul());
                CStr::from_bytes_until_nul(&b[..]).unwrap_or(g.root)
            });
        }
    }
    let mut o = Opts { args, at: 1 };
    // (rootless, criu and log-level: runc's, changing nothing here.)
    const GLOBAL: &OptTable = &(b"root log log-format systemd-cgroup cgroup-manager debug v version h help rootless criu log-level", &[VALUE, 1 | VALUE, 2 | VALUE, 3, 4 | VALUE, 5, 6, 6, 7, 7, IGNORED | VALUE, IGNORED | VALUE, IGNORED | VALUE]);
    // The version's text, or (empty) the help.
    let mut show: Option<&[u8]> = None;
    let r = each_option(&mut o, GLOBAL, &mut |i, v| {
        let b = v.to_bytes();
        match i {
            0 => g.root = v,
            1 => g.log = log_file(v),
            2 => g.json_log = b == b"json",
            3 => g.systemd_cgroup = true,
            4 => {
                g.no_cgroups = b == b"disabled";
                g.systemd_cgroup |= b == b"systemd";
            }
            5 => g.debug = true,
            6 => show = Some(concat!("sandbox-oci version ", env!("CARGO_PKG_VERSION"), "\nspec: 1.0.2\n").as_bytes()),
            _ => show = Some(b""),
        }
        Ok(())
    });
    if let Some(text) = show {
        if text.is_empty() {
            print_text(Fd(1), HELP);
        }
        let _ = sys::write_all(Fd(1), text);
        return 0;
    }
    if let Err(f) = r {
        return g.fail(b"", &f);
    }
    let Some(cmd) = o.word() else {
        print_text(sys::STDERR, HELP);
        return 1;
    };
    let cmd = cmd.to_bytes();
    const COMMANDS: &[u8] = b"create start state kill delete exec ps pause resume list features spec run update";
    let r = match crate::out::word_at(COMMANDS, cmd) {
        Some(0) => create::create(&g, &mut o, &args, &env),
        Some(1) => create::start(&g, &mut o),
        Some(2) => create::state(&g, &mut o),
        Some(3) => create::kill(&g, &mut o),
        Some(4) => create::delete(&g, &mut o),
        Some(5) => exec::exec(&g, &mut o, &args, &env),
        Some(6) => info::ps(&g, &mut o),
        Some(n @ (7 | 8)) => info::freeze(&g, &mut o, n == 7),
        Some(9) => info::list(&g, &mut o),
        Some(10) => info::features(),
        Some(11) => info::spec(&mut o),
        Some(12) => run::run(&g, &mut o, &args, &env),
        Some(_) => update::update(&g, &mut o),
        None => Err(Fail::usage(Step::Usage, cmd, why::UNKNOWN_COMMAND)),
    };
    match r {
        Ok(status) => status,
        Err(f) => g.fail(g.id.get(), &f),
    }
}

/// What a command returns: its exit status, or a failure and the container it concerns.
pub type Done<'a> = Result<i32, Fail<'a>>;

/// The container id: the next word; [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 255 bytes (a file name).
/// Errors from here on name it.
pub fn take_id(g: &Global, o: &mut Opts) -> Result<&'static CStr, Fail<'static>> {
    let id = o.word().ok_or(Fail::usage(Step::Usage, b"", why::A_CONTAINER_ID_IS_NEEDED))?;
    let b = id.to_bytes();
    let ok = !b.is_empty() && b.len() <= 255 && b[0].is_ascii_alphanumeric() && b.iter().all(|&c| c.is_ascii_alphanumeric() || b"_.+-".contains(&c));
    if !ok {
        return Err(Fail::usage(Step::Usage, b, why::INVALID_CONTAINER_ID));
    }
    g.id.set(b);
    Ok(id)
}

/// A command's options: their names (without dashes) as a word list, and the index each one's
/// handler gets, in the same order; `VALUE` marks one that takes a value. Options with nothing
/// to do here have index `IGNORED`.
pub type OptTable = (&'static [u8], &'static [u8]);
pub const VALUE: u8 = 0x80;
pub const IGNORED: u8 = 0x7f;

/// Read a command's options up to its first other word, handing each to `f` as (index, value;
/// "" for a flag). One reader for every command: a table each, not code each.
pub fn each_option(o: &mut Opts, table: &OptTable, f: &mut dyn FnMut(u8, &'static CStr) -> Result<(), Fail<'static>>) -> Result<(), Fail<'static>> {
    while let Arg::Opt(name, given) = o.next() {
        let Some(&i) = crate::out::word_at(table.0, name).and_then(|i| table.1.get(i)) else { return Err(unknown(name)) };
        let v = if i & VALUE != 0 { o.value(name, given)? } else { c"" };
        if i & !VALUE != IGNORED {
            f(i & !VALUE, v)?;
        }
    }
    Ok(())
}

/// A number an option takes, below 65536.
pub fn small_number(v: &'static CStr) -> Result<u32, Fail<'static>> {
    crate::cgroup::parse_u64(v.to_bytes()).filter(|&n| n < 65536).map(|n| n as u32).ok_or(Fail::usage(Step::Usage, v.to_bytes(), why::A_NUMBER_IS_NEEDED))
}

/// Options a command does not know: an error naming it.
pub fn unknown(name: &'static [u8]) -> Fail<'static> {
    Fail::usage(Step::Usage, name, why::UNKNOWN_OPTION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_through_their_byte() {
        for s in STEPS {
            assert_eq!(Step::from_u8(s as u8), s);
        }
        assert_eq!(Step::from_u8(0), Step::Clone);
        assert_eq!(Step::from_u8(200), Step::Clone);
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut b = Buf::<64>::new();
        json_str(&mut b, b"a\"b\\c\nd\x01");
        assert_eq!(b.bytes(), br#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn error_lines_name_the_container_step_path_and_reason() {
        let mut b = Buf::<1400>::new();
        Fail::new(Step::Rootfs, b"/x", Errno::ENOENT).line(b"c1", &mut b);
        assert_eq!(b.bytes(), b"sandbox-oci: c1: root filesystem: /x: No such file or directory");
        Fail::usage(Step::Refused, b"hooks", b"not supported by sandbox").line(b"c1", &mut b);
        assert_eq!(b.bytes(), b"sandbox-oci: c1: config.json: hooks: not supported by sandbox");
    }
}
