//! Step 1: read the command line into a `Config`. Pure: no system calls, so every rejected input
//! is rejected before anything exists on disk.
//!
//! Options end at `--` or at the first argument that is not an option: the kernel hands an init
//! what follows `--` on its command line and drops a second `--`, so `--` must be optional.

use crate::caps;
use crate::cgroup::{self, Limits};
use crate::error::{Error, Step};
use crate::sys::Args;
use core::ffi::CStr;

pub const MAX_LOWERS: usize = 128;
pub const MAX_BINDS: usize = 64;
pub const MAX_ENVS: usize = 4096;
pub const MAX_NAME: usize = 64;
pub const MAX_DEVICES: usize = 32;
pub const MAX_TMPFS: usize = 16;

#[derive(Clone, Copy)]
pub struct Bind {
    /// The host side, as the user wrote it (relative to the caller's working directory).
    pub src: &'static [u8],
    /// The sandbox side, absolute.
    pub dst: &'static [u8],
    pub ro: bool,
}

pub struct Config {
    pub lowers: [&'static CStr; MAX_LOWERS],
    pub nlowers: usize,
    pub name: Option<&'static CStr>,
    pub state_dir: Option<&'static CStr>,
    pub keep: bool,
    pub hostname: Option<&'static CStr>,
    /// How many --env (their values are read from argv again at exec, see `envs`).
    pub nenvs: usize,
    pub cwd: Option<&'static CStr>,
    pub binds: [Bind; MAX_BINDS],
    pub nbinds: usize,
    /// A network namespace of its own (--net none, the default).
    pub netns: bool,
    pub timings: bool,
    /// cgroup v2 limits.
    pub limits: Limits,
    /// The size of /tmp in bytes (default: 10% of RAM).
    pub tmp_size: Option<u64>,
    /// Capabilities of the command (bounding, permitted, effective, inheritable).
    pub caps: u64,
    /// The capabilities named one by one in --cap-add (and not taken away after): an error if
    /// sandbox lacks one. The default set and `all` come down to what sandbox has (caps::limit).
    pub caps_named: u64,
    /// --user USER[:GROUP], checked here, resolved inside (exec::switch_user).
    pub user: Option<&'static [u8]>,
    /// --device and --dev-bind: host device nodes bound inside.
    pub devices: [Bind; MAX_DEVICES],
    pub ndevices: usize,
    /// --tmpfs: where, and the size in bytes (None: 10% of RAM).
    pub tmpfs: [(&'static [u8], Option<u64>); MAX_TMPFS],
    pub ntmpfs: usize,
    /// --read-only: no writable layer; the root is the lowers.
    pub read_only: bool,
    /// Index in argv where the command starts.
    pub command: usize,
}

#[allow(clippy::large_enum_variant)] // one value, on the stack, once: no heap to box into
pub enum Parsed {
    Run(Config),
    /// --list, --remove, --stop or --join: a sandbox of the state directory, by name.
    Named(Named),
    Help,
    Version,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    List,
    Remove,
    Stop,
    Join,
}

pub struct Named {
    pub mode: Mode,
    /// The sandbox's name (empty for --list).
    pub name: &'static CStr,
    pub state_dir: Option<&'static CStr>,
    /// --list --json.
    pub json: bool,
    /// --stop --signal (default SIGTERM).
    pub signal: i32,
    /// --join: --cwd and the index of the command in argv (its --env and --user values, checked
    /// here, are read from argv again: the command's process switches as a run's does, exec.rs).
    pub cwd: Option<&'static CStr>,
    pub command: usize,
}


/// A name is `[A-Za-z0-9][A-Za-z0-9_.-]*`, 1 to 64 bytes: a single path component that is never
/// `.` or `..`, and a valid hostname length.
pub fn valid_name(n: &[u8]) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME
        && n[0].is_ascii_alphanumeric()
        && n.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// Split `SRC:DST` at the last `:` (host paths are the ones likely to hold odd characters);
/// without a `:`, DST is SRC.
pub fn split_bind(s: &'static [u8]) -> Option<(&'static [u8], &'static [u8])> {
    let (src, dst) = match s.iter().rposition(|&c| c == b':') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, s),
    };
    // DST is absolute, is not the root itself, has no `..`, and fits a path.
    let mut parts = dst.split(|&c| c == b'/').filter(|p| !p.is_empty() && *p != b".");
    let named = parts.clone().next().is_some();
    if src.is_empty() || src.len() >= 4096 || dst.len() >= 4096 || dst.first() != Some(&b'/') || !named {
        return None;
    }
    if parts.any(|p| p == b"..") {
        return None;
    }
    Some((src, dst))
}

/// `USER[:GROUP]`: each a number below 2^32-1 or a name of the image's passwd or group file
/// (`[A-Za-z0-9_.$-]`, not starting with `-`, at most 32 bytes). Returns the two parts.
pub fn user_spec(s: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let ok = |p: &[u8]| {
        let name = p.len() <= 32 && p.first().is_some_and(|&c| c != b'-') && p.iter().all(|&c| c.is_ascii_alphanumeric() || b"_.$-".contains(&c));
        name && (!p.iter().all(u8::is_ascii_digit) || cgroup::parse_u64(p).is_some_and(|n| n < u32::MAX as u64))
    };
    let (user, group) = match s.iter().position(|&c| c == b':') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    (ok(user) && group.is_none_or(ok)).then_some((user, group))
}

/// `DST[:SIZE]` of --tmpfs: DST as a bind's (absolute, not /, no ..), and no `:` in it.
pub fn split_tmpfs(s: &'static [u8]) -> Option<(&'static [u8], Option<u64>)> {
    let (dst, size) = match s.iter().rposition(|&c| c == b':') {
        Some(i) => (&s[..i], Some(cgroup::parse_size(&s[i + 1..])?)),
        None => (s, None),
    };
    match split_bind(dst) {
        Some((_, d)) if d == dst => Some((dst, size)),
        _ => None,
    }
}

/// The --user value, if given (the parser has checked it): read again by the command's process.
pub fn user(args: &Args) -> Option<&'static [u8]> {
    let mut u = None;
    for o in Opts::new(args).map_while(Result::ok) {
        if o.id == USER {
            u = o.value.map(CStr::to_bytes);
        }
    }
    u
}

/// The options, each by its place among these words (out::words): those that take a value are
/// in `VALUED`.
const NAMES: &[u8] = b"--join --remove --stop --list --signal --user --device --dev-bind --tmpfs --lower \
    --name --state-dir --hostname --env --cwd --bind --ro-bind --net --cap-add --cap-drop \
    --memory --pids --cpus --tmp-size --json --keep --timings --read-only --help --version \
    -h -V";
const JOIN: u8 = 0;
// 1: --remove, told by its place in MODES.
const STOP: u8 = 2;
const LIST: u8 = 3;
const SIGNAL: u8 = 4;
const USER: u8 = 5;
const DEVICE: u8 = 6;
const DEV_BIND: u8 = 7;
const TMPFS: u8 = 8;
const LOWER: u8 = 9;
const NAME: u8 = 10;
const STATE_DIR: u8 = 11;
const HOSTNAME: u8 = 12;
const ENV: u8 = 13;
const CWD: u8 = 14;
const BIND: u8 = 15;
const RO_BIND: u8 = 16;
const NET: u8 = 17;
const CAP_ADD: u8 = 18;
const CAP_DROP: u8 = 19;
const MEMORY: u8 = 20;
const PIDS: u8 = 21;
const CPUS: u8 = 22;
const TMP_SIZE: u8 = 23;
const JSON: u8 = 24;
const KEEP: u8 = 25;
const TIMINGS: u8 = 26;
const READ_ONLY: u8 = 27;
const HELP_ID: u8 = 28;
const VERSION: u8 = 29;
/// Not an option of sandbox.
const UNKNOWN: u8 = 32;
/// The options that take a value: all but --list and those from --json on.
const VALUED: u64 = (1 << JSON) - 1 - (1 << LIST);

/// One option of the command line: which (an index of `NAMES`), as written, and its value if it
/// takes one.
pub struct Opt {
    id: u8,
    pub name: &'static [u8],
    pub value: Option<&'static CStr>,
}

/// The options of argv, in order, each with its value (`--opt value` or `--opt=value`). Stops at
/// `--` or at the first argument that is not an option; `next_arg` is then where the command is.
pub struct Opts<'a> {
    args: &'a Args,
    pub next_arg: usize,
    done: bool,
}

impl<'a> Opts<'a> {
    pub fn new(args: &'a Args) -> Opts<'a> {
        Opts { args, next_arg: 1, done: false }
    }
}

impl Iterator for Opts<'_> {
    type Item = Result<Opt, Error<'static>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next_arg >= self.args.len() {
            return None;
        }
        let whole = self.args.get(self.next_arg);
        let arg = whole.to_bytes();
        if arg == b"--" {
            self.next_arg += 1;
            self.done = true;
            return None;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            self.done = true;
            return None;
        }
        self.next_arg += 1;
        let (name, inline) = match arg.iter().position(|&b| b == b'=') {
            Some(eq) if arg.starts_with(b"--") => {
                (&arg[..eq], CStr::from_bytes_until_nul(&whole.to_bytes_with_nul()[eq + 1..]).ok())
            }
            _ => (arg, None),
        };
        // -h and -V are --help and --version.
        let id = match crate::out::word_at(NAMES, name) {
            Some(i) if i >= 30 => i as u8 - 2,
            Some(i) => i as u8,
            None => UNKNOWN,
        };
        let mut value = None;
        if VALUED >> id & 1 != 0 {
            value = match inline {
                Some(v) => Some(v),
                None if self.next_arg < self.args.len() => {
                    self.next_arg += 1;
                    Some(self.args.get(self.next_arg - 1))
                }
                None => {
                    self.done = true;
                    return Some(Err(Error::usage(Step::MissingValue, name)));
                }
            };
        } else if inline.is_some() {
            self.done = true;
            return Some(Err(Error::usage(Step::UnknownOption, arg)));
        }
        Some(Ok(Opt { id, name, value }))
    }
}

/// The --env values, in order (the parser has checked them).
pub fn envs(args: &Args) -> impl Iterator<Item = &'static CStr> + '_ {
    Opts::new(args).map_while(Result::ok).filter(|o| o.id == ENV).filter_map(|o| o.value)
}

/// `KEY=VALUE` with a KEY.
fn env_ok(v: &[u8]) -> bool {
    v.iter().position(|&b| b == b'=').is_some_and(|eq| eq > 0)
}

/// The command line: a run, or (with --list, --remove, --stop or --join anywhere among the
/// options) a sandbox of the state directory by name, read with the options that go with it.
pub fn parse(args: &Args) -> Result<Parsed, Error<'static>> {
    // The mode: the first of --join, --remove, --stop and --list (RUN: none).
    const RUN: u8 = u8::MAX;
    let mode = Opts::new(args).map_while(Result::ok).find(|o| o.id <= LIST).map_or(RUN, |o| o.id);
    let named = mode != RUN;
    let join = mode == JOIN;
    let mut c = Config {
        lowers: [c""; MAX_LOWERS],
        nlowers: 0,
        name: None,
        state_dir: None,
        keep: false,
        hostname: None,
        nenvs: 0,
        cwd: None,
        binds: [Bind { src: b"", dst: b"", ro: false }; MAX_BINDS],
        nbinds: 0,
        netns: true,
        timings: false,
        caps: caps::DEFAULT,
        caps_named: 0,
        limits: Limits::default(),
        tmp_size: None,
        user: None,
        devices: [Bind { src: b"", dst: b"", ro: false }; MAX_DEVICES],
        ndevices: 0,
        tmpfs: [(b"", None); MAX_TMPFS],
        ntmpfs: 0,
        read_only: false,
        command: args.len(),
    };
    let (mut json, mut signal, mut seen) = (false, libc::SIGTERM, false);
    let mut sandbox_opt: Option<&'static [u8]> = None;
    let mut opts = Opts::new(args);
    for o in &mut opts {
        let o = o?;
        let opt = o.name;
        let v = o.value.unwrap_or(c"");
        let vb = v.to_bytes();
        // Every option but these needs --lower.
        if !matches!(o.id, LOWER | STATE_DIR | TIMINGS) {
            sandbox_opt = Some(opt);
        }
        let (step, what) = match o.id {
            HELP_ID => return Ok(Parsed::Help),
            VERSION => return Ok(Parsed::Version),
            // The mode's own option, once: the sandbox's name.
            id if id == mode && !seen => {
                seen = true;
                if mode != LIST && !valid_name(vb) {
                    return Err(Error::usage(Step::BadName, vb));
                }
                c.name = Some(v);
                continue;
            }
            STATE_DIR if vb.is_empty() => (Step::MissingValue, opt),
            STATE_DIR => {
                c.state_dir = Some(v);
                continue;
            }
            JSON if mode == LIST => {
                json = true;
                continue;
            }
            SIGNAL if mode == STOP => match parse_signal(vb) {
                Some(s) => {
                    signal = s;
                    continue;
                }
                None => (Step::BadSignal, vb),
            },
            KEEP | TIMINGS | READ_ONLY if named => (Step::UnknownOption, opt),
            UNKNOWN => (Step::UnknownOption, opt),
            // A named mode takes only the above, and --join a command's --env, --cwd and --user.
            ENV | CWD | USER if join => match o.id {
                ENV if !env_ok(vb) => (Step::BadEnv, vb),
                CWD if vb.first() != Some(&b'/') => (Step::Cwd, vb),
                USER if user_spec(vb).is_none() => (Step::BadUser, vb),
                CWD => {
                    c.cwd = Some(v);
                    continue;
                }
                USER => {
                    c.user = Some(vb);
                    continue;
                }
                _ => continue,
            },
            _ if named => (Step::Misplaced, opt),
            KEEP => {
                c.keep = true;
                continue;
            }
            TIMINGS => {
                c.timings = true;
                continue;
            }
            READ_ONLY => {
                c.read_only = true;
                continue;
            }
            LOWER if vb.is_empty() => (Step::MissingValue, opt),
            LOWER => match c.lowers.get_mut(c.nlowers) {
                Some(slot) => {
                    *slot = v;
                    c.nlowers += 1;
                    continue;
                }
                None => (Step::TooMany, opt),
            },
            NAME if valid_name(vb) => {
                c.name = Some(v);
                continue;
            }
            NAME => (Step::BadName, vb),
            HOSTNAME if vb.is_empty() || vb.len() > 64 => (Step::BadHostname, vb),
            HOSTNAME => {
                c.hostname = Some(v);
                continue;
            }
            ENV if !env_ok(vb) => (Step::BadEnv, vb),
            ENV if c.nenvs == MAX_ENVS => (Step::TooMany, opt),
            ENV => {
                c.nenvs += 1;
                continue;
            }
            CWD if vb.first() != Some(&b'/') => (Step::Cwd, vb),
            CWD => {
                c.cwd = Some(v);
                continue;
            }
            BIND | RO_BIND | DEVICE | DEV_BIND => {
                // --device PATH is PATH:PATH; both may name a DST as --bind does.
                let dev = matches!(o.id, DEVICE | DEV_BIND);
                let (list, n) = if dev { (&mut c.devices[..], &mut c.ndevices) } else { (&mut c.binds[..], &mut c.nbinds) };
                match (split_bind(vb), list.get_mut(*n)) {
                    (None, _) => (Step::BadBind, vb),
                    (Some(_), None) => (Step::TooMany, opt),
                    (Some((src, dst)), Some(slot)) => {
                        *slot = Bind { src, dst, ro: o.id == RO_BIND };
                        *n += 1;
                        continue;
                    }
                }
            }
            CAP_ADD | CAP_DROP => match caps::parse(vb) {
                None => (Step::BadCap, vb),
                Some(bits) if o.id == CAP_ADD => {
                    c.caps |= bits;
                    if bits != caps::ALL {
                        c.caps_named |= bits;
                    }
                    continue;
                }
                Some(bits) => {
                    c.caps &= !bits;
                    c.caps_named &= !bits;
                    continue;
                }
            },
            MEMORY | PIDS | CPUS | TMP_SIZE => {
                let n = match o.id {
                    PIDS => cgroup::parse_u64(vb).filter(|&n| n > 0),
                    CPUS => cgroup::parse_cpus(vb),
                    _ => cgroup::parse_size(vb),
                };
                let slot = match o.id {
                    MEMORY => &mut c.limits.memory,
                    PIDS => &mut c.limits.pids,
                    CPUS => &mut c.limits.cpu_quota,
                    _ => &mut c.tmp_size,
                };
                if n.is_some() {
                    *slot = n;
                    continue;
                }
                (if o.id == TMP_SIZE { Step::BadTmpSize } else { Step::BadLimit }, vb)
            }
            USER if user_spec(vb).is_none() => (Step::BadUser, vb),
            USER => {
                c.user = Some(vb);
                continue;
            }
            TMPFS => match (split_tmpfs(vb), c.tmpfs.get_mut(c.ntmpfs)) {
                (None, _) => (Step::BadTmpfs, vb),
                (Some(_), None) => (Step::TooMany, opt),
                (Some(t), Some(slot)) => {
                    *slot = t;
                    c.ntmpfs += 1;
                    continue;
                }
            },
            NET if vb == b"none" || vb == b"host" => {
                c.netns = vb == b"none";
                continue;
            }
            NET => (Step::BadNet, vb),
            SIGNAL => (Step::Misplaced, opt),
            // --json.
            _ => (Step::UnknownOption, opt),
        };
        return Err(Error::usage(step, what));
    }
    c.command = opts.next_arg;
    let extra = c.command < args.len();
    if named {
        const MODES: [Mode; 4] = [Mode::Join, Mode::Remove, Mode::Stop, Mode::List];
        let n = Named { mode: MODES[mode as usize], name: c.name.unwrap_or(c""), state_dir: c.state_dir, json, signal, cwd: c.cwd, command: c.command };
        return match () {
            _ if join && !extra => Err(Error::usage(Step::NoCommand, b"")),
            _ if !join && extra => Err(Error::usage(Step::Misplaced, args.get(c.command).to_bytes())),
            _ => Ok(Parsed::Named(n)),
        };
    }
    if !extra {
        return Err(Error::usage(Step::NoCommand, b""));
    }
    if c.nlowers > 0 && c.name.is_none() {
        return Err(Error::usage(Step::NoName, b""));
    }
    if c.read_only && c.keep {
        return Err(Error::usage(Step::ReadOnlyKeep, b"--keep"));
    }
    if c.nlowers == 0 {
        if let Some(opt) = sandbox_opt.or(c.state_dir.map(|_| &b"--state-dir"[..])) {
            return Err(Error::usage(Step::NeedsLower, opt));
        }
    }
    Ok(Parsed::Run(c))
}

/// The signals' names without SIG, from 1 (out::words).
pub const SIGNALS: &[u8] = b"HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD \
    CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS";

/// A signal by number (1 to 64) or name, with or without SIG, in any case.
pub fn parse_signal(v: &[u8]) -> Option<i32> {
    if let Some(n) = cgroup::parse_u64(v) {
        return (1..=64).contains(&n).then_some(n as i32);
    }
    // No name is longer than SIGSTKFLT.
    let mut up = [0u8; 12];
    let up = up.get_mut(..v.len())?;
    for (u, c) in up.iter_mut().zip(v) {
        *u = c.to_ascii_uppercase();
    }
    crate::out::word_at(SIGNALS, up.strip_prefix(b"SIG").unwrap_or(up)).map(|i| i as i32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec;
    use std::ffi::CString;
    use std::vec::Vec;

    fn args(v: &[&str]) -> Args {
        let mut out: Vec<*const u8> = vec![];
        for s in std::iter::once(&"sandbox").chain(v) {
            out.push(Box::leak(CString::new(*s).unwrap().into_boxed_c_str()).as_ptr() as *const u8);
        }
        out.push(std::ptr::null());
        let n = out.len() - 1;
        // SAFETY: a leaked, NULL-terminated array of leaked C strings.
        unsafe { Args::new(n as i32, Box::leak(out.into_boxed_slice()).as_ptr()) }
    }

    fn run(v: &[&str]) -> Config {
        match parse(&args(v)) {
            Ok(Parsed::Run(c)) => c,
            Ok(_) => panic!("not a run"),
            Err(e) => panic!("error {:?}", e.step),
        }
    }

    fn err(v: &[&str]) -> Step {
        match parse(&args(v)) {
            Err(e) => e.step,
            Ok(_) => panic!("accepted {v:?}"),
        }
    }

    #[test]
    fn options_end_at_the_first_non_option_or_double_dash() {
        let a = args(&["--lower", "img", "--name", "a1", "sh", "--name", "x"]);
        let Ok(Parsed::Run(c)) = parse(&a) else { panic!() };
        assert_eq!(c.command, 5);
        assert_eq!(c.name.unwrap().to_bytes(), b"a1");
        let c = run(&["--lower=img", "--name=b", "--", "--keep"]);
        assert_eq!(c.command, 4);
        assert!(!c.keep);
        assert_eq!(c.lowers[0].to_bytes(), b"img");
        let c = run(&["true"]);
        assert_eq!(c.command, 1);
        assert_eq!(c.nlowers, 0);
    }

    #[test]
    fn every_option_is_read() {
        let c = run(&[
            "--lower", "a b", "--lower", "c,d:e", "--name", "n", "--state-dir", "/s", "--keep",
            "--hostname", "h", "--env", "A=1", "--env", "B=", "--cwd", "/w", "--bind", "/x:/y",
            "--ro-bind", "/p:q:/r", "--net", "host", "--timings", "--cap-drop", "all", "--cap-add",
            "net_admin", "--memory", "64M", "--pids", "20", "--cpus", "0.5", "--tmp-size", "1g", "cmd",
        ]);
        assert_eq!(c.tmp_size, Some(1 << 30));
        assert_eq!(c.limits.memory, Some(64 << 20));
        assert_eq!(c.limits.pids, Some(20));
        assert_eq!(c.limits.cpu_quota, Some(50_000));
        assert_eq!(c.caps, 1 << 12);
        assert_eq!(c.nlowers, 2);
        assert_eq!(c.lowers[1].to_bytes(), b"c,d:e");
        assert_eq!(c.state_dir.unwrap().to_bytes(), b"/s");
        assert!(c.keep && c.timings && !c.netns);
        assert_eq!(c.hostname.unwrap().to_bytes(), b"h");
        assert_eq!(c.nenvs, 2);
        let a = args(&["--hostname", "--env", "--env", "A=1", "--env=B=2", "x", "--env", "C=3"]);
        let v: Vec<&[u8]> = envs(&a).map(|e| e.to_bytes()).collect();
        assert_eq!(v, [&b"A=1"[..], b"B=2"]);
        assert_eq!(c.cwd.unwrap().to_bytes(), b"/w");
        assert_eq!(c.nbinds, 2);
        assert_eq!((c.binds[0].src, c.binds[0].dst, c.binds[0].ro), (&b"/x"[..], &b"/y"[..], false));
        assert_eq!((c.binds[1].src, c.binds[1].dst, c.binds[1].ro), (&b"/p:q"[..], &b"/r"[..], true));
        let c = run(&[
            "--lower", "i", "--name", "n", "--user", "nobody:tty", "--device", "/dev/fuse", "--dev-bind", "/dev/null:/mnt/n",
            "--tmpfs", "/a", "--tmpfs", "/b/c:8M", "--read-only", "--user=1000:1000", "sh",
        ]);
        assert_eq!(c.user, Some(&b"1000:1000"[..]));
        assert_eq!(user(&args(&["--user", "a", "--user=b:c", "x", "--user", "d"])), Some(&b"b:c"[..]));
        assert!(c.read_only);
        assert_eq!(c.ndevices, 2);
        assert_eq!((c.devices[0].src, c.devices[0].dst), (&b"/dev/fuse"[..], &b"/dev/fuse"[..]));
        assert_eq!((c.devices[1].src, c.devices[1].dst), (&b"/dev/null"[..], &b"/mnt/n"[..]));
        assert_eq!(c.ntmpfs, 2);
        assert_eq!(c.tmpfs[0], (&b"/a"[..], None));
        assert_eq!(c.tmpfs[1], (&b"/b/c"[..], Some(8 << 20)));
    }

    #[test]
    fn users_are_numbers_or_names() {
        assert_eq!(user_spec(b"0"), Some((&b"0"[..], None)));
        assert_eq!(user_spec(b"alice:staff"), Some((&b"alice"[..], Some(&b"staff"[..]))));
        assert!(user_spec(b"4294967294:1").is_some());
        assert!(user_spec(b"4294967295").is_none());
        for bad in [&b""[..], b":1", b"1:", b"a b", b"-a", b"a/b", b"a:b:c", &[b'x'; 33]] {
            assert!(user_spec(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(err(&["--frob", "x"]), Step::UnknownOption);
        assert_eq!(err(&["--frob"]), Step::UnknownOption);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--frob", "--", "sh"]), Step::UnknownOption);
        assert_eq!(err(&["-x", "x"]), Step::UnknownOption);
        assert_eq!(err(&["--keep=1", "x"]), Step::UnknownOption);
        assert_eq!(err(&["--lower"]), Step::MissingValue);
        assert_eq!(err(&["--lower", "i", "--name", "n"]), Step::NoCommand);
        assert_eq!(err(&[]), Step::NoCommand);
        assert_eq!(err(&["--lower", "i", "sh"]), Step::NoName);
        assert_eq!(err(&["--name", "n", "sh"]), Step::NeedsLower);
        assert_eq!(err(&["--lower", "i", "--name", "a/b", "sh"]), Step::BadName);
        assert_eq!(err(&["--lower", "i", "--name", "..", "sh"]), Step::BadName);
        assert_eq!(err(&["--lower", "i", "--name", "", "sh"]), Step::BadName);
        let long = "a".repeat(300);
        assert_eq!(err(&["--lower", "i", "--name", &long, "sh"]), Step::BadName);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--net", "x", "sh"]), Step::BadNet);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--env", "NOEQ", "sh"]), Step::BadEnv);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--bind", "/a:rel", "sh"]), Step::BadBind);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--cwd", "rel", "sh"]), Step::Cwd);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--cap-add", "FLY", "sh"]), Step::BadCap);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--memory", "lots", "sh"]), Step::BadLimit);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--pids", "0", "sh"]), Step::BadLimit);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--cpus", "-1", "sh"]), Step::BadLimit);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--tmp-size", "0", "sh"]), Step::BadTmpSize);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--tmp-size", "1.5G", "sh"]), Step::BadTmpSize);
        assert_eq!(err(&["--tmp-size", "1G", "sh"]), Step::NeedsLower);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--user", "a b", "sh"]), Step::BadUser);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--device", "rel", "sh"]), Step::BadBind);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--dev-bind", "/dev/null:/", "sh"]), Step::BadBind);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--tmpfs", "/", "sh"]), Step::BadTmpfs);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--tmpfs", "/a:b:1M", "sh"]), Step::BadTmpfs);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--tmpfs", "/a/../b", "sh"]), Step::BadTmpfs);
        assert_eq!(err(&["--lower", "i", "--name", "n", "--read-only", "--keep", "sh"]), Step::ReadOnlyKeep);
        assert_eq!(err(&["--read-only", "sh"]), Step::NeedsLower);
        assert_eq!(err(&["--user", "0", "sh"]), Step::NeedsLower);
    }

    fn named(v: &[&str]) -> Named {
        match parse(&args(v)) {
            Ok(Parsed::Named(n)) => n,
            Ok(_) => panic!("not a named mode: {v:?}"),
            Err(e) => panic!("error {:?} for {v:?}", e.step),
        }
    }

    #[test]
    fn named_modes_are_read_with_their_options() {
        let n = named(&["--state-dir", "/s", "--list", "--json"]);
        assert_eq!((n.mode, n.json, n.state_dir.unwrap().to_bytes()), (Mode::List, true, &b"/s"[..]));
        let n = named(&["--stop", "web", "--signal", "sigusr1"]);
        assert_eq!((n.mode, n.name.to_bytes(), n.signal), (Mode::Stop, &b"web"[..], libc::SIGUSR1));
        assert_eq!(named(&["--stop", "web"]).signal, libc::SIGTERM);
        assert_eq!(named(&["--remove=old"]).name.to_bytes(), b"old");
        let a = ["--join", "w", "--env", "A=1", "--cwd", "/t", "--user", "5:6", "--", "sh", "-c", "x"];
        let n = named(&a);
        assert_eq!((n.mode, user(&args(&a)), n.cwd.unwrap().to_bytes(), n.command), (Mode::Join, Some(&b"5:6"[..]), &b"/t"[..], 10));
        // After the command, options are the command's.
        assert_eq!(named(&["--join", "w", "sh", "--list"]).command, 3);
        assert!(matches!(parse(&args(&["--lower", "i", "--name", "n", "--", "sandbox", "--list"])), Ok(Parsed::Run(_))));
        assert!(matches!(parse(&args(&["--list", "--help"])), Ok(Parsed::Help)));
    }

    #[test]
    fn named_modes_refuse_what_does_not_belong() {
        assert_eq!(err(&["--list", "x"]), Step::Misplaced);
        assert_eq!(err(&["--list", "--list"]), Step::Misplaced);
        assert_eq!(err(&["--list", "--stop", "a"]), Step::Misplaced);
        assert_eq!(err(&["--list", "--keep"]), Step::UnknownOption);
        assert_eq!(err(&["--remove", "a", "--signal", "1"]), Step::Misplaced);
        assert_eq!(err(&["--join", "a", "--lower", "i", "sh"]), Step::Misplaced);
        assert_eq!(err(&["--join", "a"]), Step::NoCommand);
        assert_eq!(err(&["--join", "../a", "sh"]), Step::BadName);
        assert_eq!(err(&["--join", "a", "--user", "x:", "sh"]), Step::BadUser);
        assert_eq!(err(&["--join", "a", "--cwd", "t", "sh"]), Step::Cwd);
        assert_eq!(err(&["--join", "a", "--env", "=1", "sh"]), Step::BadEnv);
        assert_eq!(err(&["--stop", "a", "--signal", "0"]), Step::BadSignal);
        assert_eq!(err(&["--signal", "1", "sh"]), Step::Misplaced);
        assert_eq!(err(&["--list", "--state-dir="]), Step::MissingValue);
    }

    #[test]
    fn signals_and_users() {
        assert_eq!(parse_signal(b"TERM"), Some(15));
        assert_eq!(parse_signal(b"SIGKILL"), Some(9));
        assert_eq!(parse_signal(b"sigrtmin"), None);
        assert_eq!(parse_signal(b"sys"), Some(31));
        assert_eq!(parse_signal(b"64"), Some(64));
        assert_eq!(parse_signal(b"65"), None);
        assert_eq!(parse_signal(b"SIG"), None);
    }

    #[test]
    fn help_and_version_win() {
        assert!(matches!(parse(&args(&["--help"])), Ok(Parsed::Help)));
        assert!(matches!(parse(&args(&["-h", "--bogus"])), Ok(Parsed::Help)));
        assert!(matches!(parse(&args(&["-V"])), Ok(Parsed::Version)));
    }

    #[test]
    fn names() {
        assert!(valid_name(b"hello1"));
        assert!(valid_name(b"a.b-c_d"));
        assert!(valid_name(&[b'x'; 64]));
        assert!(!valid_name(&[b'x'; 65]));
        assert!(!valid_name(b"-a"));
        assert!(!valid_name(b".hidden"));
        assert!(!valid_name(b"a b"));
    }

    #[test]
    fn binds_split_at_the_last_colon() {
        assert_eq!(split_bind(b"/a:/b"), Some((&b"/a"[..], &b"/b"[..])));
        assert_eq!(split_bind(b"/data"), Some((&b"/data"[..], &b"/data"[..])));
        assert_eq!(split_bind(b"rel:/b"), Some((&b"rel"[..], &b"/b"[..])));
        assert_eq!(split_bind(b":/b"), None);
        assert_eq!(split_bind(b"/a:b"), None);
        assert_eq!(split_bind(b"/a:/"), None);
        assert_eq!(split_bind(b"/a://./"), None);
        assert_eq!(split_bind(b"/a:/x/../y"), None);
        assert_eq!(split_bind(b"/a:/x/..y"), Some((&b"/a"[..], &b"/x/..y"[..])));
    }

    /// Seeded random command lines: the parser never panics, and every rejection renders as one
    /// `sandbox: ` line with exit status 125.
    #[test]
    fn random_command_lines_never_crash_the_parser() {
        let words = [
            "--lower", "--name", "--state-dir", "--keep", "--hostname", "--env", "--cwd", "--bind", "--ro-bind",
            "--net", "--cap-add", "--cap-drop", "--memory", "--pids", "--cpus", "--tmp-size", "--timings", "-h", "-V", "--",
            "-", "--x", "-x", "=", "--env=", "--lower=", "none", "host", "all", "a", "/", ":", "a:b", "/a:/b",
            "--list", "--json", "--remove", "--stop", "--signal", "--join", "--user", "TERM", "1:2",
            "K=V", "=V", "1", "0", "0.5", "64M", "..", "a/b", "", "sh", "--user", "--device", "--dev-bind",
            "--tmpfs", "--read-only", "/x:1M", "nobody:tty",
        ];
        let mut seed: u64 = 0x5eed_1234_abcd_0001;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let mut rejected = 0;
        for _ in 0..100_000 {
            let n = next() % 8;
            let mut v: Vec<String> = Vec::new();
            for _ in 0..n {
                let w = match next() % 5 {
                    0 => (0..next() % 12).map(|_| char::from(1 + (next() % 126) as u8)).collect(),
                    1 => "x".repeat(next() % 300),
                    _ => words[next() % words.len()].to_string(),
                };
                v.push(w);
            }
            let refs: Vec<&str> = v.iter().map(String::as_str).collect();
            if let Err(e) = parse(&args(&refs)) {
                rejected += 1;
                assert_eq!(e.status(), 125);
                let mut b = crate::out::Buf::<1400>::new();
                e.line(&mut b);
                let line = b.bytes();
                assert!(line.starts_with(b"sandbox: ") && line.ends_with(b"\n"));
                assert_eq!(line.iter().filter(|&&c| c == b'\n').count(), 1, "one line");
            }
        }
        assert!(rejected > 10_000, "the generator should mostly make bad input: {rejected}");
    }
}
