//! cgroup v2 limits: --memory, --pids, --cpus.
//!
//! The sandbox's cgroup is `<base>/<name>`, where the base is /sys/fs/cgroup/sandbox (made at
//! need, with the controllers enabled on the way), or the cgroup named by $SANDBOX_CGROUP: a
//! subtree delegated to a user who is not root (for instance by systemd's Delegate=yes). PID 1
//! is born in it (clone3 with CLONE_INTO_CGROUP), so no process of the sandbox ever runs outside,
//! and it is removed when the sandbox has ended. Without limit options nothing touches cgroups.

use crate::cli::Config;
use crate::error::{Error, Step};
use crate::out::Buf;
use crate::state::PATH_MAX;
use crate::sys::{self, Env, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

pub const ROOT: &[u8] = b"/sys/fs/cgroup";

#[derive(Clone, Copy, Default)]
pub struct Limits {
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    /// cpu.max quota in microseconds per 100000.
    pub cpu_quota: Option<u64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpu_quota.is_some()
    }
}

/// SIZE in bytes, or with K, M, G or T (powers of 1024).
pub fn parse_size(v: &[u8]) -> Option<u64> {
    let (num, mul) = match v.last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        b't' | b'T' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    parse_u64(num)?.checked_mul(mul).filter(|&n| n > 0)
}

pub fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0, |n, d| n * 10 + (d - b'0') as u64))
}

/// CPUs as a decimal (0.5, 2, 1.25) to a cpu.max quota for a 100000 µs period; at least 1000.
pub fn parse_cpus(v: &[u8]) -> Option<u64> {
    let (int, frac) = match v.iter().position(|&c| c == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 5 || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let i = if int.is_empty() { 0 } else { parse_u64(int)? };
    let mut f = if frac.is_empty() { 0 } else { parse_u64(frac)? };
    for _ in frac.len()..5 {
        f *= 10;
    }
    i.checked_mul(100_000)?.checked_add(f).filter(|&q| q >= 1000)
}

pub struct Cgroup<'a> {
    /// `<base>/<name>`, for messages.
    pub path: &'a [u8],
    /// The cgroup's directory, for CLONE_INTO_CGROUP.
    pub fd: Fd,
    /// The directory it is made in, and its name there: removed by them, not by path.
    base: Fd,
    name: &'a CStr,
}

fn controllers(l: &Limits) -> [(&'static [u8], bool); 3] {
    [(b"memory", l.memory.is_some()), (b"pids", l.pids.is_some()), (b"cpu", l.cpu_quota.is_some())]
}

fn has_word(list: &[u8], w: &[u8]) -> bool {
    list.split(|&c| c == b' ' || c == b'\n').any(|x| x == w)
}

/// Make the sandbox's cgroup with its limits. `buf` receives its path.
pub fn create<'a>(cfg: &Config, env: &Env, buf: &'a mut Buf<PATH_MAX>) -> Result<Cgroup<'a>, Error<'a>> {
    let l = cfg.limits;
    let delegated = env.get(b"SANDBOX_CGROUP").filter(|p| p.to_bytes().first() == Some(&b'/'));
    let at = delegated.map_or(ROOT, |p| p.to_bytes());
    let mut base = Buf::<PATH_MAX>::new();
    base.push(at);
    // Only a cgroup (no file there is a link), and a delegated one only the caller's: a
    // SANDBOX_CGROUP that root inherits from a user (sudo -E) may lead anywhere of theirs.
    let open = |path: &CStr| -> Result<Fd, Error<'a>> {
        let fd = sys::openat(AT_FDCWD, path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|er| Error::new(Step::Cgroup, at, er))?;
        let cgroup2 = sys::fs_type_of(fd) == Ok(0x6367_7270);
        if cgroup2 && (delegated.is_none() || sys::fstat(fd).map(|st| st.uid) == Ok(sys::geteuid())) {
            return Ok(fd);
        }
        sys::close(fd);
        Err(Error::new(Step::Cgroup, at, if cgroup2 { Errno::EPERM } else { Errno::ENOTDIR }))
    };
    // What the base offers: a hybrid host has no cgroup2 at /sys/fs/cgroup, or one without
    // controllers; say which controller is missing.
    let opened = match open(base.c()) {
        Err(er) if delegated.is_none() && er.errno == Errno::ENOTDIR.into_raw() => None,
        r => Some(r?),
    };
    let mut have = [0u8; 512];
    let n = opened.map_or(0, |fd| sys::read_file_at(fd, c"cgroup.controllers", &mut have).unwrap_or(0));
    let mut enable = Buf::<64>::new();
    for (c, needed) in controllers(&l) {
        if needed {
            if !has_word(&have[..n], c) {
                if let Some(fd) = opened {
                    sys::close(fd);
                }
                return Err(Error::usage(Step::NoController, c));
            }
            let sep: &[u8] = if enable.len() > 0 { b" +" } else { b"+" };
            enable.push(sep).push(c);
        }
    }
    let Some(mut fd) = opened else {
        return Err(Error::new(Step::Cgroup, ROOT, Errno::ENOTDIR));
    };
    let e = |path: &'a [u8]| move |errno| Error::new(Step::Cgroup, path, errno);
    // /sys/fs/cgroup -> /sys/fs/cgroup/sandbox -> /sys/fs/cgroup/sandbox/<name>; a delegated
    // cgroup is the base itself. Controllers are enabled on the way; only the base's must be.
    let mut top = delegated.is_none();
    let (base_fd, r) = loop {
        let r = sys::write_file(fd, c"cgroup.subtree_control", enable.bytes());
        if !top {
            break (fd, r);
        }
        top = false;
        sys::close(fd);
        base.push(b"/sandbox");
        match sys::mkdirat(AT_FDCWD, base.c(), 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(er) => return Err(Error::new(Step::Cgroup, ROOT, er)),
        }
        fd = open(base.c())?;
    };
    let name = cfg.name.unwrap_or(c"sandbox");
    buf.push(base.bytes()).push(b"/").push(name.to_bytes());
    let path: &'a Buf<PATH_MAX> = buf;
    r.map_err(e(path.bytes()))?;
    // A cgroup left by a run that was killed (its processes die with it) is replaced.
    if let Err(er) = mkdir_fresh(base_fd, name) {
        sys::close(base_fd);
        return Err(Error::new(Step::Cgroup, path.bytes(), er));
    }
    let fd = sys::openat(base_fd, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0);
    let fd = fd.map_err(e(path.bytes())).inspect_err(|_| sys::close(base_fd))?;
    let cg = Cgroup { path: path.bytes(), fd, base: base_fd, name };
    let mut v = Buf::<48>::new();
    let limits: [(&CStr, Option<u64>); 3] =
        [(c"memory.max", l.memory), (c"pids.max", l.pids), (c"cpu.max", l.cpu_quota)];
    for (i, (file, value)) in limits.into_iter().enumerate() {
        if let Some(n) = value {
            v.clear();
            v.push_u64(n);
            if i == 2 {
                v.push(b" 100000");
            }
            if let Err(er) = sys::write_file(cg.fd, file, v.bytes()) {
                cg.remove();
                return Err(Error::new(Step::Cgroup, file.to_bytes(), er));
            }
        }
    }
    Ok(cg)
}

fn mkdir_fresh(base: Fd, name: &CStr) -> Result<(), Errno> {
    match sys::mkdirat(base, name, 0o755) {
        Err(Errno::EEXIST) => {
            rmdir_patiently(base, name)?;
            sys::mkdirat(base, name, 0o755)
        }
        r => r,
    }
}

/// rmdir a cgroup, giving the processes that were just killed in it a moment to be gone.
fn rmdir_patiently(dir: Fd, name: &CStr) -> Result<(), Errno> {
    let mut tries = 0;
    loop {
        match sys::unlinkat(dir, name, libc::AT_REMOVEDIR) {
            Err(Errno::EBUSY) if tries < 200 => {
                tries += 1;
                sys::sleep_ms(1);
            }
            Err(Errno::ENOENT) => return Ok(()),
            r => return r,
        }
    }
}

impl Cgroup<'_> {
    pub fn remove(&self) {
        sys::close(self.fd);
        if let Err(e) = rmdir_patiently(self.base, self.name) {
            Error::new(Step::Cgroup, self.path, e).print();
        }
        sys::close(self.base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"64M"), Some(64 << 20));
        assert_eq!(parse_size(b"1g"), Some(1 << 30));
        assert_eq!(parse_size(b"4096"), Some(4096));
        assert_eq!(parse_size(b"0"), None);
        assert_eq!(parse_size(b"M"), None);
        assert_eq!(parse_size(b"1.5G"), None);
        assert_eq!(parse_size(b"99999999999999999999"), None);
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus(b"0.5"), Some(50_000));
        assert_eq!(parse_cpus(b"2"), Some(200_000));
        assert_eq!(parse_cpus(b"1.25"), Some(125_000));
        assert_eq!(parse_cpus(b".01"), Some(1000));
        assert_eq!(parse_cpus(b"0.001"), None);
        assert_eq!(parse_cpus(b"x"), None);
        assert_eq!(parse_cpus(b""), None);
    }

    #[test]
    fn words() {
        assert!(has_word(b"cpuset cpu io memory pids\n", b"cpu"));
        assert!(!has_word(b"cpuset io\n", b"cpu"));
    }
}
