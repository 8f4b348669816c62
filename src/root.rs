//! Step 4, inside the new namespaces: build the root. Mount the overlay on the layer's own
//! directory (only this mount namespace sees it) and pivot_root into it (`enter`); then /proc,
//! /dev, /sys, /tmp, the binds, the old root detached (`finish`), and the hostname and lo
//! (`name_and_network`, in the command's process at the same time).
//!
//! Everything after pivot_root resolves inside the new root, so a symlink in the image cannot
//! point a mount at the host. Host paths are reached only through fds opened by the outer
//! process (/proc/self/fd/N), and those are closed once used: PID 1 keeps no handle on the host.

use crate::cli::{MAX_BINDS, MAX_LOWERS};
use crate::error::{Error, Step};
use crate::out::Buf;
use crate::launch::Sandbox;
use crate::state::PATH_MAX;
use crate::sys::{self, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

fn fd_path(b: &mut Buf<PATH_MAX>, fd: Fd) {
    b.push(b"/proc/self/fd/").push_u64(fd.0 as u64);
}

/// The overlay's options: lowers by fd (no escaping of `,` `:` or spaces needed), upper and work
/// relative to the layer directory, which is our working directory when mounting.
pub fn overlay_options(out: &mut Buf<PATH_MAX>, lowers: &[Fd], volatile: bool, userxattr: bool) {
    out.push(b"lowerdir=");
    for (i, fd) in lowers.iter().enumerate() {
        if i > 0 {
            out.push(b":");
        }
        fd_path(out, *fd);
    }
    out.push(b",upperdir=upper,workdir=work");
    if volatile {
        // A layer that is discarded at exit need not be synced to disk at unmount.
        out.push(b",volatile");
    }
    if userxattr {
        // Not root: overlayfs keeps its whiteouts and opaque marks in user.* xattrs.
        out.push(b",userxattr");
    }
}

/// mount, making the mount point first if the image lacks it.
fn mount_at(src: &CStr, target: &CStr, fstype: &CStr, flags: u64, data: Option<&CStr>) -> Result<(), Errno> {
    match sys::mount(Some(src), target, Some(fstype), flags, data) {
        Err(Errno::ENOENT) => {
            sys::mkdirat(AT_FDCWD, target, 0o755)?;
            sys::mount(Some(src), target, Some(fstype), flags, data)
        }
        r => r,
    }
}

/// Host files the root needs, opened before pivot_root from the new mount namespace (overlayfs
/// and bind mounts take only mounts of the caller's namespace). The sandbox reaches them as
/// /proc/self/fd/N, and each is closed once used: PID 1 keeps no handle on the host.
pub struct Host {
    lowers: [Fd; MAX_LOWERS],
    binds: [Fd; MAX_BINDS],
    /// Rootless: the host's device nodes, bound into /dev (mknod needs the real root), and /sys
    /// when it cannot be mounted (sysfs needs a network namespace of our own).
    devs: [Fd; 6],
    sys: Fd,
}

const DEVS: [&CStr; 6] = [c"null", c"zero", c"full", c"random", c"urandom", c"tty"];

/// Open the lowers and bind sources as the user named them: relative to the caller's working
/// directory, which the new mount namespace inherits.
fn open_host<'a>(sb: &Sandbox<'a>, h: &mut Host) -> Result<(), Error<'a>> {
    let cfg = sb.cfg;
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    for (i, p) in cfg.lowers[..cfg.nlowers].iter().enumerate() {
        h.lowers[i] = sys::openat(AT_FDCWD, p, flags | libc::O_DIRECTORY, 0)
            .map_err(|e| Error::new(Step::Lower, p.to_bytes(), e))?;
    }
    for (i, b) in cfg.binds[..cfg.nbinds].iter().enumerate() {
        let mut p = Buf::<PATH_MAX>::new();
        p.push(b.src);
        h.binds[i] = sys::openat(AT_FDCWD, p.c(), flags, 0).map_err(|e| Error::new(Step::BindSource, b.src, e))?;
    }
    if sb.userns.is_some() {
        let dev = sys::openat(AT_FDCWD, c"/dev", flags | libc::O_DIRECTORY, 0).map_err(|e| Error::new(Step::Dev, b"/dev", e))?;
        for (i, d) in DEVS.iter().enumerate() {
            h.devs[i] = sys::openat(dev, d, flags, 0).map_err(|e| Error::new(Step::Dev, d.to_bytes(), e))?;
        }
        sys::close(dev);
        if !cfg.netns {
            h.sys = sys::openat(AT_FDCWD, c"/sys", flags | libc::O_DIRECTORY, 0).map_err(|e| Error::new(Step::Sys, b"/sys", e))?;
        }
    }
    Ok(())
}

/// Mount the overlay on the layer's directory (seen by this mount namespace only), go in, and
/// pivot_root. The old root stays stacked on "/" until `detach_old_root`: the kernel lets a
/// user namespace mount /proc only while a full /proc is visible in the mount namespace.
fn pivot_into_overlay<'a>(sb: &Sandbox<'a>, lowers: &[Fd]) -> Result<(), Error<'a>> {
    let layer = &sb.layer;
    let path = layer.path;
    let e = |step: Step| move |errno| Error::new(step, path, errno);
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(e(Step::Propagation))?;
    let mut dir = Buf::<PATH_MAX>::new();
    dir.push(layer.path);
    sys::chdir(dir.c()).map_err(e(Step::Overlay))?;
    let mut opts = Buf::<PATH_MAX>::new();
    overlay_options(&mut opts, lowers, !sb.cfg.keep && !layer.resumed, sb.userns.is_some());
    sys::mount(Some(c"overlay"), c".", Some(c"overlay"), 0, Some(opts.c())).map_err(e(Step::Overlay))?;
    for fd in lowers {
        sys::close(*fd);
    }
    sys::close(layer.dir);
    sys::close(layer.state);
    // "." is still the directory under the mount; "../<name>" walks back in through the mount.
    let mut into = Buf::<128>::new();
    into.push(b"../").push(layer.name.to_bytes());
    sys::chdir(into.c()).map_err(e(Step::PivotRoot))?;
    sys::pivot_root(c".", c".").map_err(e(Step::PivotRoot))
}

/// The old root is stacked on the new one at "."; detach it and all the host's mounts with it.
fn detach_old_root<'a>() -> Result<(), Error<'a>> {
    sys::umount2(c".", libc::MNT_DETACH).map_err(|e| Error::new(Step::PivotRoot, b"/", e))
}

/// A tmpfs /dev with the usual nodes: made with mknod as root, bound from the host's /dev when
/// not (`host` holds them then).
fn dev(host: &[Fd; 6], rootless: bool) -> Result<(), Errno> {
    mount_at(c"tmpfs", c"/dev", c"tmpfs", NOSUID | NOEXEC, Some(c"mode=755,size=64k"))?;
    let dir = sys::openat(AT_FDCWD, c"/dev", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)?;
    // major, minor of null, zero, full, random, urandom, tty (the order of DEVS).
    const NUMBERS: [(u64, u64); 6] = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0)];
    for (i, name) in DEVS.iter().enumerate() {
        if rootless {
            let f = sys::openat(dir, name, libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o666)?;
            sys::close(f);
            let mut from = Buf::<32>::new();
            from.push(b"/proc/self/fd/").push_u64(host[i].0 as u64);
            let mut to = Buf::<32>::new();
            to.push(b"/dev/").push(name.to_bytes());
            sys::mount(Some(from.c()), to.c(), None, libc::MS_BIND, None)?;
            sys::close(host[i]);
        } else {
            let (major, minor) = NUMBERS[i];
            sys::mknodat(dir, name, libc::S_IFCHR | 0o666, (major << 8) | minor)?;
        }
    }
    sys::close(dir);
    sys::mkdirat(AT_FDCWD, c"/dev/pts", 0o755)?;
    sys::mount(
        Some(c"devpts"),
        c"/dev/pts",
        Some(c"devpts"),
        NOSUID | NOEXEC,
        Some(c"newinstance,ptmxmode=0666,mode=620"),
    )?;
    sys::mkdirat(AT_FDCWD, c"/dev/shm", 0o1777)?;
    let links: [(&CStr, &CStr); 5] = [
        (c"pts/ptmx", c"/dev/ptmx"),
        (c"/proc/self/fd", c"/dev/fd"),
        (c"/proc/self/fd/0", c"/dev/stdin"),
        (c"/proc/self/fd/1", c"/dev/stdout"),
        (c"/proc/self/fd/2", c"/dev/stderr"),
    ];
    for (target, link) in links {
        sys::symlinkat(target, AT_FDCWD, link)?;
    }
    Ok(())
}

/// Make `path` (absolute, inside the new root) and its parents: a directory, or an empty file.
fn make_target(path: &[u8], dir: bool) -> Result<(), Errno> {
    let mut b = Buf::<PATH_MAX>::new();
    let mut i = 1;
    while i <= path.len() {
        if i == path.len() || path[i] == b'/' {
            b.clear();
            b.push(&path[..i]);
            let last = i == path.len();
            let r = if last && !dir {
                sys::openat(AT_FDCWD, b.c(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644).map(sys::close)
            } else {
                sys::mkdirat(AT_FDCWD, b.c(), 0o755)
            };
            match r {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        i += 1;
    }
    Ok(())
}

fn bind(src: Fd, dst: &[u8], dir: bool, ro: bool) -> Result<(), Errno> {
    let mut from = Buf::<PATH_MAX>::new();
    fd_path(&mut from, src);
    let mut to = Buf::<PATH_MAX>::new();
    to.push(dst);
    let flags = libc::MS_BIND | libc::MS_REC;
    match sys::mount(Some(from.c()), to.c(), None, flags, None) {
        Err(Errno::ENOENT) => {
            make_target(dst, dir)?;
            sys::mount(Some(from.c()), to.c(), None, flags, None)?;
        }
        r => r?,
    }
    sys::close(src);
    if ro {
        read_only(to.c())?;
    }
    Ok(())
}

/// What Docker hides of /proc: files that read or poke the kernel as a whole are covered with
/// an empty, read-only /dev/null (reads see nothing, writes fail), and the kernel's tunables are
/// read-only. Missing ones (a kernel without CONFIG_SCHED_DEBUG has no sched_debug) are skipped.
fn mask_proc() -> Result<(), Errno> {
    let mut cover: Option<&CStr> = None;
    for f in [c"/proc/kcore", c"/proc/keys", c"/proc/timer_list", c"/proc/sched_debug", c"/proc/sysrq-trigger"] {
        // The first cover is made read-only; binds of it are born read-only.
        match sys::mount(Some(cover.unwrap_or(c"/dev/null")), f, None, libc::MS_BIND, None) {
            Ok(()) if cover.is_none() => {
                read_only(f)?;
                cover = Some(f);
            }
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    for d in [c"/proc/sys", c"/proc/bus", c"/proc/irq", c"/proc/fs"] {
        match sys::mount(Some(d), d, None, libc::MS_BIND | libc::MS_REC, None) {
            Ok(()) => read_only(d)?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Make a mount (and those below it) read-only, keeping its other flags.
fn read_only(path: &CStr) -> Result<(), Errno> {
    match sys::mount_setattr(path, libc::MOUNT_ATTR_RDONLY, 0) {
        Err(Errno::ENOSYS) => sys::mount(None, path, None, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY, None),
        r => r,
    }
}

pub fn loopback_up() -> Result<(), Errno> {
    let s = sys::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)?;
    // struct ifreq: the name, then ifr_flags at offset 16.
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    ifr[16..18].copy_from_slice(&(libc::IFF_UP as i16).to_ne_bytes());
    let r = sys::ioctl(s, libc::SIOCSIFFLAGS as u64, &mut ifr);
    sys::close(s);
    r
}

/// sysfs, read-only. Without a network namespace of its own a user namespace may not mount
/// sysfs: bind the host's then, also read-only.
fn sysfs(host: Fd) -> Result<(), Errno> {
    let flags = libc::MS_RDONLY | NOSUID | NODEV | NOEXEC;
    if host.0 < 0 {
        return mount_at(c"sysfs", c"/sys", c"sysfs", flags, None);
    }
    let mut from = Buf::<32>::new();
    from.push(b"/proc/self/fd/").push_u64(host.0 as u64);
    sys::mount(Some(from.c()), c"/sys", None, libc::MS_BIND | libc::MS_REC, None)?;
    sys::close(host);
    read_only(c"/sys")
}

/// The first half of the root, which the command's process is forked after: open the host's
/// files, mount the overlay and pivot_root into it.
pub fn enter<'a>(sb: &Sandbox<'a>) -> Result<Host, Error<'a>> {
    let mut h = Host { lowers: [Fd(-1); MAX_LOWERS], binds: [Fd(-1); MAX_BINDS], devs: [Fd(-1); 6], sys: Fd(-1) };
    open_host(sb, &mut h)?;
    pivot_into_overlay(sb, &h.lowers[..sb.cfg.nlowers])?;
    Ok(h)
}

/// The second half, done by PID 1 while the command's process drops its privileges (it shares
/// the mount namespace, so it sees all of this): /proc, /dev, /sys, /tmp, the binds, and the
/// old root detached.
pub fn finish<'a>(sb: &Sandbox<'a>, h: &Host) -> Result<(), Error<'a>> {
    let cfg = sb.cfg;
    let e = |step: Step, path: &'a [u8]| move |errno| Error::new(step, path, errno);
    mount_at(c"proc", c"/proc", c"proc", NOSUID | NODEV | NOEXEC, None).map_err(e(Step::Proc, b"/proc"))?;
    dev(&h.devs, sb.userns.is_some()).map_err(e(Step::Dev, b"/dev"))?;
    mask_proc().map_err(e(Step::Proc, b"/proc"))?;
    sysfs(h.sys).map_err(e(Step::Sys, b"/sys"))?;
    if sb.cgroup.is_some() {
        // The sandbox's own cgroup (the root of its cgroup namespace), read-only.
        sys::mount(Some(c"cgroup2"), c"/sys/fs/cgroup", Some(c"cgroup2"), libc::MS_RDONLY | NOSUID | NODEV | NOEXEC, None)
            .map_err(e(Step::Cgroup, b"/sys/fs/cgroup"))?;
    }
    mount_at(c"tmpfs", c"/tmp", c"tmpfs", NOSUID | NODEV, Some(c"mode=1777")).map_err(e(Step::Tmp, b"/tmp"))?;
    // Bind sources are mounts of the old root: bound while it is still attached.
    for i in 0..cfg.nbinds {
        let b = cfg.binds[i];
        bind(h.binds[i], b.dst, sb.src.bind_dirs[i], b.ro).map_err(e(Step::Bind, b.dst))?;
    }
    detach_old_root()
}

/// The hostname and lo, done by the command's process before it drops its privileges (it
/// shares the UTS and network namespaces), while PID 1 mounts.
pub fn name_and_network<'a>(sb: &Sandbox<'a>) -> Result<(), Error<'a>> {
    let cfg = sb.cfg;
    let host = cfg.hostname.or(cfg.name).unwrap_or(c"sandbox");
    sys::sethostname(host.to_bytes()).map_err(|e| Error::new(Step::Hostname, host.to_bytes(), e))?;
    if cfg.netns {
        loopback_up().map_err(|e| Error::new(Step::Loopback, b"lo", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_name_lowers_by_fd_in_order() {
        let mut b = Buf::<PATH_MAX>::new();
        overlay_options(&mut b, &[Fd(3), Fd(10)], false, false);
        assert_eq!(b.bytes(), b"lowerdir=/proc/self/fd/3:/proc/self/fd/10,upperdir=upper,workdir=work");
        b.clear();
        overlay_options(&mut b, &[Fd(4)], true, true);
        assert_eq!(b.bytes(), b"lowerdir=/proc/self/fd/4,upperdir=upper,workdir=work,volatile,userxattr");
    }
}
