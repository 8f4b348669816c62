//! Privileges of the command: the capability sets, no_new_privs, and the seccomp filter,
//! applied in the command's process just before execve (PID 1 keeps its own, so that the
//! command cannot trace or signal its way into it).
//!
//! The default capability set is Docker's: enough for a root that installs packages, changes
//! owners and binds low ports, and nothing that reaches past the sandbox (no SYS_ADMIN,
//! SYS_PTRACE, SYS_MODULE, NET_ADMIN, ...). --cap-add and --cap-drop adjust it.

use crate::seccomp;
use crate::sys::{self, Errno};

pub const NAMES: [&[u8]; 41] = [
    b"CHOWN",
    b"DAC_OVERRIDE",
    b"DAC_READ_SEARCH",
    b"FOWNER",
    b"FSETID",
    b"KILL",
    b"SETGID",
    b"SETUID",
    b"SETPCAP",
    b"LINUX_IMMUTABLE",
    b"NET_BIND_SERVICE",
    b"NET_BROADCAST",
    b"NET_ADMIN",
    b"NET_RAW",
    b"IPC_LOCK",
    b"IPC_OWNER",
    b"SYS_MODULE",
    b"SYS_RAWIO",
    b"SYS_CHROOT",
    b"SYS_PTRACE",
    b"SYS_PACCT",
    b"SYS_ADMIN",
    b"SYS_BOOT",
    b"SYS_NICE",
    b"SYS_RESOURCE",
    b"SYS_TIME",
    b"SYS_TTY_CONFIG",
    b"MKNOD",
    b"LEASE",
    b"AUDIT_WRITE",
    b"AUDIT_CONTROL",
    b"SETFCAP",
    b"MAC_OVERRIDE",
    b"MAC_ADMIN",
    b"SYSLOG",
    b"WAKE_ALARM",
    b"BLOCK_SUSPEND",
    b"AUDIT_READ",
    b"PERFMON",
    b"BPF",
    b"CHECKPOINT_RESTORE",
];

pub const fn bit(name: &[u8]) -> u64 {
    let mut i = 0;
    while i < NAMES.len() {
        let n = NAMES[i];
        if n.len() == name.len() {
            let mut j = 0;
            while j < n.len() && n[j] == name[j] {
                j += 1;
            }
            if j == n.len() {
                return 1 << i;
            }
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

pub const ALL: u64 = (1 << NAMES.len()) - 1;

/// The bits a --cap-add/--cap-drop value names: `all`, or one name with or without `CAP_`, in
/// any case.
pub fn parse(v: &[u8]) -> Option<u64> {
    if caseless_eq(v, b"all") {
        return Some(ALL);
    }
    let v = if v.len() > 4 && caseless_eq(&v[..4], b"CAP_") { &v[4..] } else { v };
    NAMES.iter().position(|n| caseless_eq(n, v)).map(|i| 1u64 << i)
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
    (0..NAMES.len() as u64).filter(|&c| set & (1 << c) != 0 && !sys::capbset_read(c)).fold(0, |m, c| m | 1 << c)
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
    }
}
