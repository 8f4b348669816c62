//! Privileges of the command: the capability sets, no_new_privs, and the seccomp filter,
//! applied in the command's process just before execve (PID 1 keeps its own, so that the
//! command cannot trace or signal its way into it).
//!
//! The default capability set is Docker's: enough for a root that installs packages, changes
//! owners and binds low ports, and nothing that reaches past the sandbox (no SYS_ADMIN,
//! SYS_PTRACE, SYS_MODULE, NET_ADMIN, ...). --cap-add and --cap-drop adjust it.

use crate::seccomp;
use crate::sys::{self, Errno};

/// The capabilities' names without CAP_, by number (a word list: out::words).
pub const NAMES: &[u8] = b"CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE \
    NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO \
    SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME \
    SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG \
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE";

/// How many capabilities NAMES has.
pub const COUNT: usize = {
    let (mut i, mut n) = (0, 0);
    while i < NAMES.len() {
        if NAMES[i] != b' ' && (i == 0 || NAMES[i - 1] == b' ') {
            n += 1;
        }
        i += 1;
    }
    n
};

/// The name of capability `c`.
pub fn name(c: usize) -> &'static [u8] {
    crate::out::words(NAMES).nth(c).unwrap_or(b"")
}

pub const fn bit(name: &[u8]) -> u64 {
    // The words of NAMES in turn: `start` where the current one begins, `c` its number.
    let (mut i, mut start, mut c) = (0, 0, 0);
    while i <= NAMES.len() {
        if i == NAMES.len() || NAMES[i] == b' ' {
            if i > start {
                let n = i - start;
                if n == name.len() {
                    let mut j = 0;
                    while j < n && NAMES[start + j] == name[j] {
                        j += 1;
                    }
                    if j == n {
                        return 1 << c;
                    }
                }
                c += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    panic!("no such capability")
}

/// Docker's default set.
pub const DEFAULT: u64 = bit(b"CHOWN")
    | bit(b"DAC_OVERRIDE")
    | bit(b"FSETID")
    | bit(b"FOWNER")
    | bit(b"MKNOD")
    | bit(b"NET_RAW")
    | bit(b"SETGID")
    | bit(b"SETUID")
    | bit(b"SETFCAP")
    | bit(b"SETPCAP")
    | bit(b"NET_BIND_SERVICE")
    | bit(b"SYS_CHROOT")
    | bit(b"KILL")
    | bit(b"AUDIT_WRITE");

pub const ALL: u64 = (1 << COUNT) - 1;

/// The bits a --cap-add/--cap-drop value names: `all`, or one name with or without `CAP_`, in
/// any case.
pub fn parse(v: &[u8]) -> Option<u64> {
    if caseless_eq(v, b"all") {
        return Some(ALL);
    }
    let v = if v.len() > 4 && caseless_eq(&v[..4], b"CAP_") { &v[4..] } else { v };
    crate::out::words(NAMES).position(|n| caseless_eq(n, v)).map(|i| 1u64 << i)
}

/// `eq_ignore_ascii_case`, a byte at a time: a few names, and a fraction of core's code.
#[allow(clippy::manual_ignore_case_cmp)] // on purpose: core's is ten times the code
fn caseless_eq(a: &[u8], b: &[u8]) -> bool {
    let same = |(x, y): (&u8, &u8)| x.to_ascii_lowercase() == y.to_ascii_lowercase();
    a.len() == b.len() && a.iter().zip(b).all(same)
}

/// The capabilities of `set` that sandbox's own bounding set lacks: no process it starts can
/// have them. One prctl for each capability in `set`.
pub fn missing(set: u64) -> u64 {
    (0..COUNT as u64).filter(|&c| set & (1 << c) != 0 && !sys::capbset_read(c)).fold(0, |m, c| m | 1 << c)
}

/// The bounding set to `set` (what an execve can ever give back). The capabilities in effect
/// now stay: this can be done while they are still needed.
pub fn bound(set: u64) -> Result<(), Errno> {
    for cap in 0..64u64 {
        if set & (1 << cap) == 0 {
            match sys::prctl(libc::PR_CAPBSET_DROP, cap) {
                Ok(()) => {}
                Err(Errno::EINVAL) => break, // past the kernel's last capability
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Ambient cleared, then permitted, effective and inheritable to `set`, of what this process
/// has: the default set and `--cap-add all` come down to it (in a container without NET_RAW,
/// say); a capability named in --cap-add that sandbox lacks was refused before (`missing`).
/// Returns the set given.
pub fn limit(set: u64) -> Result<u64, Errno> {
    sys::prctl4(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64, 0)?;
    let set = set & sys::capget_permitted()?;
    sys::capset(set, set, set).map(|()| set)
}

/// no_new_privs, then the filter for the capabilities `caps` the command has (which
/// no_new_privs allows without CAP_SYS_ADMIN).
///
/// SECCOMP_FILTER_FLAG_SPEC_ALLOW, as crun and runc set by default: without it the kernel also
/// forces the Spectre v4 (and, where so configured, v2 user) mitigations on the command, which
/// guard code against other code in its own address space (a browser's JIT), not one process
/// against another, and cost every context switch; measured here, a third of a millisecond of a
/// sandbox's start. A kernel older than 4.17 does not know the flag: then without it.
pub fn confine(caps: u64) -> Result<(), Errno> {
    sys::prctl4(libc::PR_SET_NO_NEW_PRIVS, 1, 0)?;
    let filter = seccomp::for_caps(caps);
    match sys::seccomp_filter(&filter, libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32) {
        Err(Errno::EINVAL) => sys::seccomp_filter(&filter, 0),
        r => r,
    }
}

/// Last before execve (the command's and a joined one's), in the sandbox's root: Landlock
/// allows files by path only beneath that root, and the caller's stdio files (a regular file, a
/// device or a named FIFO) with the access they were opened with. A file of the host that
/// reached the process cannot be opened again through `/proc/self/fd/N` for more than that (for
/// writing, when the caller gave it for reading); `/dev/stdout` still works. Pipes and sockets
/// are not paths, and stay usable. Without Landlock in the kernel (or with ABI 1), nothing is
/// done; nor when the command is given CAP_SYS_ADMIN (Landlock would take mount from it, and a
/// root with it has other ways).
pub fn fence(caps: u64) -> Result<(), Errno> {
    if caps & bit(b"SYS_ADMIN") != 0 {
        return Ok(());
    }
    // The file-system rights each ABI version knows: 13 in 1, REFER in 2, TRUNCATE in 3,
    // IOCTL_DEV in 5. ABI 1 has no REFER right and refuses every rename or link across
    // directories (EXDEV): `mv` would break; no fence there.
    let rights = match sys::landlock_ruleset(0) {
        Ok(2) => (1 << 14) - 1,
        Ok(3 | 4) => (1 << 15) - 1,
        Ok(v) if v >= 5 => (1 << 16) - 1,
        _ => return Ok(()),
    };
    const READ: u64 = 1 << 2;
    const WRITE: u64 = 1 << 1 | 1 << 14;
    const IOCTL: u64 = 1 << 15;
    let set = sys::Fd(sys::landlock_ruleset(rights)?);
    for fd in [sys::Fd(0), sys::Fd(1), sys::Fd(2)] {
        // A device keeps its ioctls (a terminal's, through /dev/stdin): the file's right, not more.
        let kind = sys::fstat(fd).map_or(0, |st| st.mode & libc::S_IFMT);
        let ioctl = if matches!(kind, libc::S_IFCHR | libc::S_IFBLK) { IOCTL } else { 0 };
        let access = match sys::fcntl(fd, libc::F_GETFL, 0).map(|fl| fl as i32 & libc::O_ACCMODE) {
            Ok(libc::O_RDONLY) => READ | ioctl,
            Ok(libc::O_WRONLY) => WRITE | ioctl,
            Ok(_) => READ | WRITE | ioctl,
            Err(_) => 0,
        };
        if matches!(kind, libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) && access != 0 {
            let _ = sys::landlock_rule(set, fd, access & rights);
        }
    }
    let r = sys::openat(sys::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).and_then(|root| {
        let r = sys::landlock_rule(set, root, rights).and_then(|()| sys::landlock_restrict(set));
        sys::close(root);
        r
    });
    sys::close(set);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse(b"NET_ADMIN"), Some(1 << 12));
        assert_eq!(parse(b"cap_sys_admin"), Some(1 << 21));
        assert_eq!(parse(b"CAP_CHECKPOINT_RESTORE"), Some(1 << 40));
        assert_eq!(parse(b"all"), Some(ALL));
        assert_eq!(parse(b"NOPE"), None);
        assert_eq!(DEFAULT.count_ones(), 14);
        assert_eq!(DEFAULT & (1 << 21), 0);
        assert_eq!((COUNT, name(0), name(21), name(40), name(41)), (41, &b"CHOWN"[..], &b"SYS_ADMIN"[..], &b"CHECKPOINT_RESTORE"[..], &b""[..]));
        assert_eq!(bit(b"SYS_ADMIN"), 1 << 21);
        assert_eq!(ALL, (1 << 41) - 1);
    }
}
