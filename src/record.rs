//! The record of a running sandbox: `<state-dir>/<name>/record`, beside its writable layer and
//! never in it (the sandbox reaches its `upper`, not the directory above). The outer process
//! writes it once PID 1 exists, atomically (a new file renamed over), owned by the caller, mode
//! 0600, and removes it at exit; a run killed outright leaves it to the next start of its name.
//!
//! It says who PID 1 and the outer process are (pid and start time, /proc/PID/stat field 22: a
//! pid alone may be reused), when the run started, its lowers, and what a joined command needs
//! for the same confinement as the command: its capabilities (no_new_privs and the seccomp
//! filter follow from them), its environment, which namespaces are its own. Entries are
//! `key=value`, each ended by a NUL (no path or variable holds one).
//!
//! A record is read as input someone else may have touched: only from a state directory that
//! passed the run's checks (state.rs), without following a symlink, only a regular file of the
//! caller's that no one else may write, and a pid in it is used only while its start time is
//! the recorded one, through a pidfd that cannot move to another process.

use crate::out::Buf;
use crate::exec::Envp;
use crate::sys::{self, Errno, Fd};
use core::ffi::CStr;

const FILE: &CStr = c"record";
const NEW: &CStr = c"record.new";
/// The largest record read (a run with more --env or lowers than fit cannot be joined).
pub const MAX: usize = 128 * 1024;

/// What the outer process records of its run.
pub struct New<'a> {
    pub pid: i32,
    pub caps: u64,
    pub rootless: bool,
    pub netns: bool,
    pub cgroup: bool,
    pub lowers: &'a [&'static CStr],
    /// The command's environment.
    pub env: &'a Envp,
    /// Rootless: fds of the outer process holding PID 1's namespaces, in the order of NAMESPACES
    /// (-1: none).
    pub ns: &'a [Fd],
}

/// The namespaces a rootless joiner takes from the outer process, user first, by name in
/// /proc/PID/ns and setns type.
pub const NAMESPACES: [(&[u8], i32); 7] = [
    (b"user", libc::CLONE_NEWUSER),
    (b"mnt", libc::CLONE_NEWNS),
    (b"pid", libc::CLONE_NEWPID),
    (b"uts", libc::CLONE_NEWUTS),
    (b"ipc", libc::CLONE_NEWIPC),
    (b"cgroup", libc::CLONE_NEWCGROUP),
    (b"net", libc::CLONE_NEWNET),
];

/// The record's key of each of NAMESPACES: the outer process's fd that holds it.
pub const NS_KEYS: [&[u8]; 7] = [b"nsuser=", b"nsmnt=", b"nspid=", b"nsuts=", b"nsipc=", b"nscgroup=", b"nsnet="];

/// Bytes gathered in a buffer and written to `fd` in pieces: one write for a usual record, and
/// --list's output (manage.rs) in pieces of a few KiB. `ok`: every write succeeded.
pub struct Writer {
    pub fd: Fd,
    pub b: Buf<8192>,
    pub ok: bool,
}

impl Writer {
    pub fn new(fd: Fd) -> Writer {
        Writer { fd, b: Buf::new(), ok: true }
    }
    pub fn put(&mut self, s: &[u8]) -> &mut Self {
        if self.b.len() + s.len() >= 8191 {
            self.flush();
        }
        if s.len() >= 8191 {
            self.ok &= sys::write_all(self.fd, s).is_ok();
        } else {
            self.b.push(s);
        }
        self
    }
    pub fn flush(&mut self) {
        self.ok &= sys::write_all(self.fd, self.b.bytes()).is_ok();
        self.b.clear();
    }
    /// A record's entry `key=v`.
    fn num(&mut self, key: &[u8], v: u64) {
        let mut n = Buf::<48>::new();
        n.push(key).push(b"=").push_u64(v).push(b"\0");
        self.put(n.bytes());
    }
}

/// Write the record of this run: into a sealed memfd, which the outer process keeps open for
/// the run (returned), and as a file into the locked layer directory `dir`.
pub fn write(dir: Fd, r: &New) -> Result<Fd, Errno> {
    use crate::exe::{MFD_ALLOW_SEALING, MFD_CLOEXEC, SEALS};
    let mem = sys::memfd_create(c"sandbox-record", MFD_CLOEXEC | MFD_ALLOW_SEALING)?;
    let _ = sys::unlinkat(dir, NEW, 0);
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let fd = sys::openat(dir, NEW, flags, 0o600).inspect_err(|_| sys::close(mem))?;
    let mut ok = true;
    for to in [mem, fd] {
        let mut w = Writer::new(to);
        entries(&mut w, r, mem);
        ok &= w.ok;
    }
    sys::close(fd);
    if !ok || sys::fcntl(mem, libc::F_ADD_SEALS, SEALS).is_err() {
        sys::close(mem);
        let _ = sys::unlinkat(dir, NEW, 0);
        return Err(Errno::EIO);
    }
    sys::renameat(dir, NEW, dir, FILE).map(|()| mem)
}

fn entries(w: &mut Writer, r: &New, mem: Fd) {
    w.num(b"pid", r.pid as u64);
    w.num(b"start", start_time(r.pid).unwrap_or(0));
    w.num(b"outer", sys::getpid() as u64);
    w.num(b"outerstart", start_time(sys::getpid()).unwrap_or(0));
    w.num(b"time", sys::wall_secs());
    w.num(b"caps", r.caps);
    w.num(b"rootless", r.rootless as u64);
    w.num(b"netns", r.netns as u64);
    w.num(b"cgroup", r.cgroup as u64);
    w.num(b"recordfd", mem.0 as u64);
    for (fd, key) in r.ns.iter().zip(NS_KEYS) {
        if fd.0 >= 0 {
            w.num(&key[..key.len() - 1], fd.0 as u64);
        }
    }
    let mut cwd = [0u8; 4096];
    let cwd_len = sys::getcwd(&mut cwd).unwrap_or(0);
    for l in r.lowers {
        w.put(b"lower=");
        if l.to_bytes().first() != Some(&b'/') && cwd_len > 0 {
            w.put(&cwd[..cwd_len]);
            w.put(b"/");
        }
        w.put(l.to_bytes_with_nul());
    }
    for i in 0..r.env.len() {
        w.put(b"env=");
        w.put(r.env.get(i).to_bytes_with_nul());
    }
    w.flush();
}

/// Remove the record (and a half-written one) of the layer directory `dir`.
pub fn remove(dir: Fd) {
    let _ = sys::unlinkat(dir, FILE, 0);
    let _ = sys::unlinkat(dir, NEW, 0);
}

/// A record as read.
pub struct Record<'a> {
    pub pid: i32,
    pub start: u64,
    pub outer: i32,
    pub outer_start: u64,
    /// Seconds since the epoch.
    pub time: u64,
    pub caps: u64,
    pub rootless: bool,
    pub netns: bool,
    pub cgroup: bool,
    data: &'a [u8],
}

impl<'a> Record<'a> {
    /// The values of `key` (with its `=`), in order, as C strings.
    pub fn values(&self, key: &'a [u8]) -> impl Iterator<Item = &'a CStr> + 'a {
        let data = self.data;
        let mut at = 0;
        core::iter::from_fn(move || {
            while at < data.len() {
                let e = CStr::from_bytes_until_nul(&data[at..]).ok()?.to_bytes_with_nul();
                at += e.len();
                if let Some(v) = e.strip_prefix(key) {
                    // The rest of the entry, NUL and all: the same scan as above, one copy of it.
                    return CStr::from_bytes_until_nul(v).ok();
                }
            }
            None
        })
    }

    pub fn num(&self, key: &'a [u8]) -> Option<u64> {
        self.values(key).next().and_then(|v| crate::cgroup::parse_u64(v.to_bytes()))
    }
}

/// Read the record of the layer directory `dir` into `buf`: a regular file of `uid`'s that no
/// one else may write, reached without a symlink. ENOENT: none (the sandbox does not run).
pub fn read(dir: Fd, uid: u32, buf: &mut [u8]) -> Result<Record<'_>, Errno> {
    let fd = sys::openat(dir, FILE, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC, 0)?;
    let n = match sys::fstat(fd) {
        Ok(st) if st.mode & libc::S_IFMT == libc::S_IFREG && st.uid == uid && st.mode & 0o022 == 0 => read_all(fd, buf),
        Ok(_) => Err(Errno::EPERM),
        Err(e) => Err(e),
    };
    sys::close(fd);
    parse(buf, n?)
}

/// The record as the outer process holds it (its sealed memfd, `recordfd` in the file), where
/// nothing but that process could have written it: --join and --stop act on what it says with
/// the caller's privileges. The file may have been rewritten by the sandbox itself (a bind that
/// holds the state directory reaches it); the outer process is not taken from it but from the
/// lock on the layer directory (`holder`, state::lock_layer).
pub fn held(holder: i32, recordfd: Option<u64>, buf: &mut [u8]) -> Result<Record<'_>, Errno> {
    let n = recordfd.filter(|_| holder > 0).ok_or(Errno::ESRCH)?;
    let mut p = Buf::<48>::new();
    p.push(b"/proc/").push_u64(holder as u64).push(b"/fd/").push_u64(n);
    let fd = sys::openat(sys::AT_FDCWD, p.c(), libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
    let sealed = sys::fcntl(fd, libc::F_GET_SEALS, 0).is_ok_and(|s| s & libc::F_SEAL_WRITE as u64 != 0);
    let n = if sealed { read_all(fd, buf) } else { Err(Errno::EPERM) };
    sys::close(fd);
    let r = parse(buf, n?)?;
    if r.outer != holder || start_time(holder) != Some(r.outer_start) {
        return Err(Errno::ESRCH);
    }
    Ok(r)
}

fn parse(buf: &[u8], n: usize) -> Result<Record<'_>, Errno> {
    let len = buf.len();
    let Some(data) = buf.get(..n).filter(|_| n < len) else { return Err(Errno::E2BIG) };
    let mut r = Record { pid: 0, start: 0, outer: 0, outer_start: 0, time: 0, caps: 0, rootless: false, netns: false, cgroup: false, data };
    let pid = |v: u64| i32::try_from(v).ok().filter(|&p| p > 0);
    let (Some(p), Some(o)) = (r.num(b"pid=").and_then(pid), r.num(b"outer=").and_then(pid)) else { return Err(Errno::EINVAL) };
    r.pid = p;
    r.outer = o;
    r.start = r.num(b"start=").ok_or(Errno::EINVAL)?;
    r.outer_start = r.num(b"outerstart=").ok_or(Errno::EINVAL)?;
    r.time = r.num(b"time=").unwrap_or(0);
    r.caps = r.num(b"caps=").ok_or(Errno::EINVAL)?;
    r.rootless = r.num(b"rootless=") == Some(1);
    r.netns = r.num(b"netns=") != Some(0);
    r.cgroup = r.num(b"cgroup=") == Some(1);
    Ok(r)
}

#[inline(never)]
fn read_all(fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    while n < buf.len() {
        match sys::read(fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// When `pid` started (clock ticks after boot, /proc/PID/stat field 22); None if it is gone.
pub fn start_time(pid: i32) -> Option<u64> {
    start_time_of(pid, false)
}

/// The start time of `pid` (field 22 of /proc/PID/stat); with `live`, None for a zombie too.
/// One reader for sandbox and sandbox-oci.
#[inline(never)]
pub fn start_time_of(pid: i32, live: bool) -> Option<u64> {
    let mut p = Buf::<32>::new();
    p.push(b"/proc/").push_u64(pid as u64).push(b"/stat");
    let mut b = [0u8; 1024];
    let n = sys::read_file(p.c(), &mut b).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let b = b.get(..n)?;
    let after = b.get(b.iter().rposition(|&c| c == b')')? + 1..)?;
    let mut fields = after.split(|&c| c == b' ').filter(|f| !f.is_empty());
    let state = fields.next()?;
    if live && (state == b"Z" || state == b"X") {
        return None;
    }
    // Fields 4..21 then 22: the 19th after the state.
    crate::cgroup::parse_u64(fields.nth(18)?)
}

/// A pidfd of `pid` while it is the process that started at `start`: opened first, then the
/// start time checked, so that the pidfd cannot name a process that took the pid since.
pub fn pidfd_if(pid: i32, start: u64) -> Option<Fd> {
    let fd = sys::pidfd_open(pid).ok()?;
    if start != 0 && start_time(pid) == Some(start) {
        return Some(fd);
    }
    sys::close(fd);
    None
}

/// A pidfd of the running sandbox's PID 1 (of a record `held`): the recorded process, a child of
/// the outer process and PID 1 of a PID namespace of its own.
pub fn pid1(r: &Record) -> Option<Fd> {
    let fd = pidfd_if(r.pid, r.start)?;
    let mut p = Buf::<32>::new();
    p.push(b"/proc/").push_u64(r.pid as u64).push(b"/status");
    let mut b = [0u8; 4096];
    let n = sys::read_file(p.c(), &mut b).unwrap_or(0);
    let field = |key: &[u8]| b[..n].split(|&c| c == b'\n').find_map(|l| l.strip_prefix(key)).and_then(|v| v.rsplit(|&c| c == b'\t').next());
    if field(b"PPid:").and_then(crate::cgroup::parse_u64) == Some(r.outer as u64) && field(b"NSpid:") == Some(b"1") {
        return Some(fd);
    }
    sys::close(fd);
    None
}

/// Whether the sandbox of this record runs: its PID 1 is the recorded one.
pub fn running(r: &Record) -> bool {
    pidfd_if(r.pid, r.start).map(sys::close).is_some()
}
