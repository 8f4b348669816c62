//! Step 4, inside the new namespaces: build the root. Mount the overlay on the layer's own
//! directory, the one the outer process locked (only this mount namespace sees it), and
//! pivot_root into it (`enter`); then /proc, /dev, the masks of /proc, /tmp, the network
//! namespace joined (network.rs), /sys and its masks, the binds, the old root detached
//! (`finish`); the hostname is set by the command's process meanwhile.
//!
//! Until the old root is detached it is stacked on the new one, reachable through `/..`. So every
//! mount point in the image or the writable layer (/proc, /dev, /sys, /tmp, bind targets) is
//! resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the new root and mounted on
//! through its fd: a symlink in an image cannot aim a mount at `/`, the old root, or the host.
//! After the detach, `/..` must be `/` again, or the run stops. Host paths are reached only
//! through fds opened before pivot_root (/proc/self/fd/N), closed once used: PID 1 keeps no
//! handle on the host.

use crate::cli::{MAX_BINDS, MAX_DEVICES, MAX_LOWERS};
use crate::error::{Error, Step};
use crate::out::Buf;
use crate::launch::Sandbox;
use crate::state::PATH_MAX;
use crate::sys::{self, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

/// The overlay's lowerdir: the lowers by fd, in order (no escaping of `,` `:` or spaces needed).
pub fn lower_list(out: &mut Buf<PATH_MAX>, lowers: &[Fd]) {
    for (i, fd) in lowers.iter().enumerate() {
        if i > 0 {
            out.push(b":");
        }
        out.push(via(*fd).bytes());
    }
}

const BENEATH: u64 = 0x08 | 0x04 | 0x02; // RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

/// An O_PATH fd for `path` (absolute, inside the new root), resolved from `root` without
/// symlinks and without leaving it; missing components are made (directories, and the last one
/// an empty file unless `dir`).
fn beneath(root: Fd, path: &[u8], dir: bool) -> Result<Fd, Errno> {
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    let mut at = root;
    let mut comps = path.split(|&c| c == b'/').filter(|c| !c.is_empty() && *c != b".").peekable();
    if comps.peek().is_none() {
        return Err(Errno::EINVAL); // the root itself is never a mount point
    }
    let mut name = Buf::<256>::new();
    while let Some(c) = comps.next() {
        let last = comps.peek().is_none();
        name.clear();
        name.push(c);
        if c == b".." || name.overflowed() {
            return Err(Errno::EINVAL);
        }
        let next = match sys::openat2(at, name.c(), flags, BENEATH) {
            Err(Errno::ENOENT) => {
                let made = if last && !dir {
                    sys::openat(at, name.c(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o644)
                        .map(sys::close)
                } else {
                    sys::mkdirat(at, name.c(), 0o755)
                };
                match made {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                sys::openat2(at, name.c(), flags, BENEATH)
            }
            r => r,
        };
        if at != root {
            sys::close(at);
        }
        at = next?;
    }
    Ok(at)
}

/// `/proc/self/fd/N`: how mount(2) and overlayfs are handed a file we hold open (a host source,
/// or a mount point opened by `beneath`).
pub fn via(fd: Fd) -> Buf<32> {
    let mut b = Buf::<32>::new();
    b.push(b"/proc/self/fd/").push_u64(fd.0 as u64);
    b
}

/// Mount a new filesystem on the directory `path` of the image (made if missing).
fn mount_in(root: Fd, path: &[u8], fstype: &CStr, flags: u64, data: Option<&CStr>) -> Result<(), Errno> {
    let t = beneath(root, path, true)?;
    let r = sys::mount(Some(fstype), via(t).c(), Some(fstype), flags, data);
    sys::close(t);
    r
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
    /// --device and --dev-bind: detached bind mounts of the host's nodes (open_tree).
    devices: [Fd; MAX_DEVICES],
    /// With --net host: the host's /etc/resolv.conf and /etc/hosts, detached read-only binds.
    names: [Fd; 2],
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
    for (i, d) in cfg.devices[..cfg.ndevices].iter().enumerate() {
        h.devices[i] = device_tree(d.src).map_err(|e| Error::new(Step::Device, d.src, e))?;
    }
    if !cfg.netns {
        for (i, f) in NAME_FILES.iter().enumerate() {
            h.names[i] = host_name_file(f).map_err(|e| Error::new(Step::NameService, f.to_bytes(), e))?;
        }
    }
    Ok(())
}

/// A host device node as a detached bind mount, usable (not nodev) but nosuid and noexec; any
/// file that is not a character or block device is refused (ENODEV). Taken as a mount of its
/// own while the host's tree is in sight, it is attached after the old root is gone too.
fn device_tree(src: &[u8]) -> Result<Fd, Errno> {
    let mut p = Buf::<PATH_MAX>::new();
    p.push(src);
    let fd = sys::openat(AT_FDCWD, p.c(), libc::O_PATH | libc::O_CLOEXEC, 0)?;
    let node = sys::fstat(fd).map(|st| matches!(st.mode & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK));
    let tree = match node {
        Ok(true) => sys::open_tree_clone(fd, c""),
        Ok(false) => Err(Errno::ENODEV),
        Err(e) => Err(e),
    };
    sys::close(fd);
    let tree = tree?;
    sys::mount_setattr(tree, c"", libc::AT_EMPTY_PATH, NOSUID_NOEXEC, libc::MOUNT_ATTR_NODEV).inspect_err(|_| sys::close(tree))?;
    Ok(tree)
}

const NOSUID_NOEXEC: u64 = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC;
const NAME_FILES: [&CStr; 2] = [c"/etc/resolv.conf", c"/etc/hosts"];

/// The host's name service file `path` as a detached read-only bind, or Fd(-1) when the host
/// has none.
fn host_name_file(path: &CStr) -> Result<Fd, Errno> {
    match sys::openat(AT_FDCWD, path, libc::O_PATH | libc::O_CLOEXEC, 0) {
        Ok(fd) => {
            let tree = sys::open_tree_clone(fd, c"");
            sys::close(fd);
            read_only_tree(tree)
        }
        Err(Errno::ENOENT) => Ok(Fd(-1)),
        Err(e) => Err(e),
    }
}

/// A detached mount made read-only, nodev, nosuid and noexec.
fn read_only_tree(tree: Result<Fd, Errno>) -> Result<Fd, Errno> {
    let tree = tree?;
    let ro = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODEV | NOSUID_NOEXEC;
    sys::mount_setattr(tree, c"", libc::AT_EMPTY_PATH, ro, 0).inspect_err(|_| sys::close(tree))?;
    Ok(tree)
}

/// /dev is read-only once made; `f` runs with it writable a moment (before anything of the
/// user's runs).
fn in_writable_dev<T>(f: impl FnOnce() -> Result<T, Errno>) -> Result<T, Errno> {
    sys::mount_setattr(AT_FDCWD, c"/dev", 0, 0, libc::MOUNT_ATTR_RDONLY)?;
    let r = f();
    sys::mount_setattr(AT_FDCWD, c"/dev", 0, libc::MOUNT_ATTR_RDONLY, 0)?;
    r
}

/// The --device and --dev-bind nodes at their places (a mount point missing is made: an empty
/// file, in /dev's tmpfs or the writable layer), last of all mounts so that none hides them.
fn devices<'a>(root: Fd, trees: &[Fd], cfg: &'a crate::cli::Config) -> Result<(), Error<'a>> {
    for (i, &tree) in trees.iter().enumerate() {
        let dst = cfg.devices[i].dst;
        let r = in_writable_dev(|| {
            let t = beneath(root, dst, false)?;
            let r = sys::move_mount(tree, t);
            sys::close(t);
            r
        });
        sys::close(tree);
        r.map_err(|e| Error::new(Step::Device, dst, e))?;
    }
    Ok(())
}

/// What the image has at `path` if it is an empty regular file (made if missing): a place for a
/// name service file. None where it has one with content, a symlink, or cannot make one
/// (--read-only, or an /etc that root inside may not write): the image's choice stands.
fn empty_place(root: Fd, path: &[u8]) -> Result<Option<Fd>, Errno> {
    match beneath(root, path, false) {
        Ok(t) if sys::fstat(t).is_ok_and(|st| st.mode & libc::S_IFMT == libc::S_IFREG && st.size == 0) => Ok(Some(t)),
        Ok(t) => {
            sys::close(t);
            Ok(None)
        }
        Err(Errno::ELOOP | Errno::ENOTDIR | Errno::EROFS | Errno::EISDIR | Errno::EACCES | Errno::EPERM) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The localhost entries of a sandbox with a network of its own.
const LOCALHOST: &[u8] = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// Name service files where the image has none or an empty one: with --net host the host's
/// /etc/resolv.conf and /etc/hosts, read-only binds; with a network of its own an /etc/hosts
/// that names localhost (made in /dev's tmpfs, taken as a read-only mount and unlinked).
fn name_service<'a>(root: Fd, h: &Host, netns: bool) -> Result<(), Error<'a>> {
    for (i, f) in NAME_FILES.iter().enumerate() {
        let path = f.to_bytes();
        let host = h.names[i];
        if netns && i == 0 || !netns && host.0 < 0 {
            continue;
        }
        let attach = |tree: Result<Fd, Errno>, t: Fd| {
            let tree = tree?;
            let r = sys::move_mount(tree, t);
            sys::close(tree);
            r
        };
        let r = empty_place(root, path).and_then(|place| {
            let Some(t) = place else { return Ok(()) };
            let r = if netns {
                // Unlinked once attached (a mount of an unlinked file cannot be attached).
                in_writable_dev(|| attach(localhost_tree(), t).and(sys::unlinkat(AT_FDCWD, HOSTS, 0)))
            } else {
                attach(Ok(host), t)
            };
            sys::close(t);
            r
        });
        sys::close(host);
        r.map_err(|errno| Error::new(Step::NameService, path, errno))?;
    }
    Ok(())
}

/// An /etc/hosts naming localhost, made in /dev's tmpfs and taken as a detached read-only
/// mount.
fn localhost_tree() -> Result<Fd, Errno> {
    let made = sys::openat(AT_FDCWD, HOSTS, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC, 0o644)?;
    let tree = read_only_tree(sys::write_all(made, LOCALHOST).and_then(|()| sys::open_tree_clone(made, c"")));
    sys::close(made);
    tree
}

const HOSTS: &CStr = c"/dev/.hosts";

/// Mount the overlay on the layer's directory (seen by this mount namespace only), go in, and
/// pivot_root. The old root stays stacked on "/" until `detach_old_root`: the kernel lets a
/// user namespace mount /proc only while a full /proc is visible in the mount namespace.
///
/// The directory is the one the outer process locked, whatever happens to its path: an fd from
/// before clone belongs to the host's mount namespace, which mount(2) and overlayfs refuse
/// (EINVAL), so its path is looked up once more here, and the result must be that very
/// directory (same device and inode) or the run stops. From there on everything goes by fd:
/// `upper` and `work` opened beneath it without following symlinks, the overlay made with
/// fsopen/fsmount, attached onto it with move_mount, and entered through the mount's own fd.
fn pivot_into_overlay<'a>(sb: &Sandbox<'a>, lowers: &[Fd]) -> Result<(), Error<'a>> {
    let layer = &sb.layer;
    let path = layer.path;
    let e = |step: Step| move |errno| Error::new(step, path, errno);
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(e(Step::Propagation))?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let mut p = Buf::<PATH_MAX>::new();
    p.push(path);
    let dir = sys::openat(AT_FDCWD, p.c(), flags, 0).map_err(e(Step::Replaced))?;
    let same = |a: &sys::Stat, b: &sys::Stat| (a.dev, a.ino) == (b.dev, b.ino);
    match (sys::fstat(dir), sys::fstat(layer.dir)) {
        (Ok(a), Ok(b)) if same(&a, &b) => {}
        _ => return Err(Error::new(Step::Replaced, path, Errno::ESTALE)),
    }
    sys::close(layer.dir);
    if sb.cfg.read_only {
        return read_only_root(sb, lowers, dir);
    }
    let upper = sys::openat(dir, c"upper", flags, 0).map_err(e(Step::Layer))?;
    let work = sys::openat(dir, c"work", flags, 0).map_err(e(Step::Layer))?;
    let mut lowerdir = Buf::<PATH_MAX>::new();
    lower_list(&mut lowerdir, lowers);
    let fs = sys::fsopen(c"overlay").map_err(e(Step::Overlay))?;
    let set = |key: &CStr, value: Option<&CStr>| {
        let cmd = if value.is_some() { sys::FSCONFIG_SET_STRING } else { sys::FSCONFIG_SET_FLAG };
        sys::fsconfig(fs, cmd, Some(key), value)
    };
    let mut made = set(c"lowerdir", Some(lowerdir.c()))
        .and_then(|()| set(c"upperdir", Some(via(upper).c())))
        .and_then(|()| set(c"workdir", Some(via(work).c())));
    // A layer that is discarded at exit need not be synced to disk at unmount.
    if !sb.cfg.keep && !layer.resumed {
        made = made.and_then(|()| set(c"volatile", None));
    }
    // Not root: overlayfs keeps its whiteouts and opaque marks in user.* xattrs.
    if sb.userns.is_some() {
        made = made.and_then(|()| set(c"userxattr", None));
    }
    // nodev: CAP_MKNOD is in the default set, but a device node made in the root opens nothing.
    let mnt = made
        .and_then(|()| sys::fsconfig(fs, sys::FSCONFIG_CMD_CREATE, None, None))
        .and_then(|()| sys::fsmount(fs, libc::MOUNT_ATTR_NODEV))
        .map_err(e(Step::Overlay))?;
    for fd in lowers.iter().chain([&fs, &upper, &work]) {
        sys::close(*fd);
    }
    sys::move_mount(mnt, dir)
        .and_then(|()| sys::fchdir(mnt))
        .and_then(|()| sys::pivot_root(c".", c"."))
        .map_err(e(Step::PivotRoot))?;
    sys::close(mnt);
    sys::close(dir);
    Ok(())
}

/// --read-only: the root is the lowers alone, read-only and nodev: an overlay of them without an
/// upper layer. overlayfs wants two lowers then: one lower goes with the layer's empty `upper`
/// below it, never as a bind of the image, whose inodes would be the host's own (a host file
/// beneath the image, given as stdio, would be beneath the sandbox's root for Landlock).
/// Attached on the locked layer directory `dir` and pivoted into, as the overlay is. A kept
/// layer of the name is refused: the run would discard it at its end.
fn read_only_root<'a>(sb: &Sandbox<'a>, lowers: &[Fd], dir: Fd) -> Result<(), Error<'a>> {
    let path = sb.layer.path;
    if sb.layer.resumed {
        return Err(Error::new(Step::ReadOnly, path, Errno::EEXIST));
    }
    let e = |step: Step| move |errno| Error::new(step, path, errno);
    let ro = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODEV;
    let empty = match lowers {
        [_] => Some(sys::openat(dir, c"upper", libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0).map_err(e(Step::Layer))?),
        _ => None,
    };
    let mut lowerdir = Buf::<PATH_MAX>::new();
    lower_list(&mut lowerdir, lowers);
    if let Some(fd) = empty {
        lowerdir.push(b":").push(via(fd).bytes());
    }
    let mnt = sys::fsopen(c"overlay").and_then(|fs| {
        let mut made = sys::fsconfig(fs, sys::FSCONFIG_SET_STRING, Some(c"lowerdir"), Some(lowerdir.c()));
        if sb.userns.is_some() {
            made = made.and_then(|()| sys::fsconfig(fs, sys::FSCONFIG_SET_FLAG, Some(c"userxattr"), None));
        }
        let m = made.and_then(|()| sys::fsconfig(fs, sys::FSCONFIG_CMD_CREATE, None, None)).and_then(|()| sys::fsmount(fs, ro));
        sys::close(fs);
        m
    })
    .map_err(e(Step::Overlay))?;
    for fd in lowers.iter().chain(&empty) {
        sys::close(*fd);
    }
    sys::move_mount(mnt, dir)
        .and_then(|()| sys::fchdir(mnt))
        .and_then(|()| sys::pivot_root(c".", c"."))
        .map_err(e(Step::PivotRoot))?;
    sys::close(mnt);
    sys::close(dir);
    Ok(())
}

/// The old root is stacked on the new one at "/"; detach it and all the host's mounts with it,
/// then make sure it is gone: `/..` is `/` again.
fn detach_old_root<'a>(root: Fd) -> Result<(), Error<'a>> {
    let e = |errno| Error::new(Step::PivotRoot, b"/", errno);
    sys::fchdir(root).map_err(e)?;
    sys::umount2(c".", libc::MNT_DETACH).map_err(e)?;
    check_detached()
}

/// As root without binds nothing needs the old root once PID 1 has pivoted: the command's
/// process detaches it then, while PID 1 mounts. Its umount waits for an RCU grace period
/// (0.05 to 0.3 ms here, longer while the other CPU is busy in the kernel) which PID 1 would
/// otherwise wait for. With binds the old root holds their sources; not root, the kernel lets
/// /proc and /sys be mounted only while full ones are in sight: PID 1 detaches it at the end.
pub fn detached_by_command(sb: &Sandbox) -> bool {
    sb.cfg.nbinds == 0 && sb.userns.is_none()
}

/// In the command's process, once PID 1 has pivoted (which made the new root its root too):
/// detach the old root, stacked on "/".
pub fn detach_old_root_here<'a>() -> Result<(), Error<'a>> {
    sys::umount2(c"/", libc::MNT_DETACH).map_err(|errno| Error::new(Step::PivotRoot, b"/", errno))?;
    check_detached()
}

/// `/..` is `/`: nothing is stacked on the root any more.
pub fn check_detached<'a>() -> Result<(), Error<'a>> {
    let e = |errno| Error::new(Step::PivotRoot, b"/", errno);
    sys::chdir(c"/").map_err(e)?;
    let top = sys::stat_at(AT_FDCWD, c"/", 0).map_err(e)?;
    let up = sys::stat_at(AT_FDCWD, c"/..", 0).map_err(e)?;
    if (top.dev, top.ino) != (up.dev, up.ino) {
        return Err(Error::new(Step::PivotRoot, b"/..", Errno::EXDEV));
    }
    Ok(())
}

/// A tmpfs /dev with the usual nodes: made with mknod as root, bound from the host's /dev when
/// not (`host` holds them then). Left writable for `mask_proc`, which makes it read-only.
fn dev(root: Fd, host: &[Fd; 6], rootless: bool, pts: Fd) -> Result<(), Errno> {
    mount_in(root, b"/dev", c"tmpfs", NOSUID | NOEXEC, Some(c"mode=755,size=64k"))?;
    let dir = sys::openat(AT_FDCWD, c"/dev", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)?;
    // major, minor of null, zero, full, random, urandom, tty (the order of DEVS).
    const NUMBERS: [(u64, u64); 6] = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0)];
    for (i, name) in DEVS.iter().enumerate() {
        if rootless {
            let f = sys::openat(dir, name, libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o666)?;
            sys::close(f);
            let mut to = Buf::<32>::new();
            to.push(b"/dev/").push(name.to_bytes());
            sys::mount(Some(via(host[i]).c()), to.c(), None, libc::MS_BIND, None)?;
            sys::close(host[i]);
        } else {
            let (major, minor) = NUMBERS[i];
            sys::mknodat(dir, name, libc::S_IFCHR | 0o666, (major << 8) | minor)?;
        }
    }
    sys::close(dir);
    sys::mkdirat(AT_FDCWD, c"/dev/pts", 0o755)?;
    if pts.0 >= 0 {
        // Made earlier, with the sandbox's terminal in it (pty.rs).
        let at = sys::openat(AT_FDCWD, c"/dev/pts", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)?;
        let r = sys::move_mount(pts, at);
        sys::close(at);
        sys::close(pts);
        r?;
    } else {
        sys::mount(
            Some(c"devpts"),
            c"/dev/pts",
            Some(c"devpts"),
            NOSUID | NOEXEC,
            Some(c"newinstance,ptmxmode=0666,mode=620"),
        )?;
    }
    sys::mkdirat(AT_FDCWD, c"/dev/shm", 0o1777)?;
    sys::mount(Some(c"tmpfs"), c"/dev/shm", Some(c"tmpfs"), NOSUID | NODEV | NOEXEC, Some(c"mode=1777,size=65536k"))?;
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
    sys::close(sys::openat(AT_FDCWD, BLANK, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC, 0o444)?);
    Ok(())
}

/// Bind `src` (a host fd) at `dst` inside, made if missing; nodev and nosuid always (a bind of a
/// host directory must not become a way to make devices or setuid files), read-only if asked.
fn bind(root: Fd, src: Fd, dst: &[u8], dir: bool, ro: bool) -> Result<(), Errno> {
    let t = beneath(root, dst, dir)?;
    let r = sys::mount(Some(via(src).c()), via(t).c(), None, libc::MS_BIND | libc::MS_REC, None);
    sys::close(t);
    sys::close(src);
    r?;
    // Opened again, the path now ends in the new mount.
    let m = beneath(root, dst, dir)?;
    let mut set = libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOSUID;
    if ro {
        set |= libc::MOUNT_ATTR_RDONLY;
    }
    let r = sys::mount_setattr(m, c"", libc::AT_EMPTY_PATH | libc::AT_RECURSIVE, set, 0);
    sys::close(m);
    r
}

/// What Docker hides (its default maskedPaths, with the newer /proc/interrupts, and
/// /proc/config.gz): files that read or poke the kernel as a whole are covered with an empty,
/// read-only regular file (reads see nothing, writes fail: a read-only bind of /dev/null would
/// still take writes, a device ignores the mount's flag), directories with an empty read-only
/// tmpfs; the kernel's tunables are read-only. Missing ones are skipped (a kernel without
/// CONFIG_SCHED_DEBUG has no sched_debug).
const MASKED_FILES: [&CStr; 9] = [
    c"/proc/interrupts",
    c"/proc/kcore",
    c"/proc/keys",
    c"/proc/latency_stats",
    c"/proc/timer_list",
    c"/proc/timer_stats",
    c"/proc/sched_debug",
    c"/proc/sysrq-trigger",
    c"/proc/config.gz",
];
const MASKED_DIRS: [&CStr; 3] = [c"/proc/asound", c"/proc/acpi", c"/proc/scsi"];
const MASKED_SYS: [&CStr; 2] = [c"/sys/firmware", c"/sys/devices/virtual/powercap"];

/// The empty file the masks of files are bound from, made in /dev while it is writable and
/// unlinked once bound: nothing of it is left in sight.
const BLANK: &CStr = c"/dev/.blank";

/// Cover each of `paths` that exists: the first with `blank` (read-only), the others with a bind
/// of the first, born read-only as it is. `first` carries it from /proc to /sys.
fn cover(paths: &[&'static CStr], first: &mut Option<&'static CStr>, blank: impl Fn(&CStr) -> Result<(), Errno>) -> Result<(), Errno> {
    for &p in paths {
        let r = match *first {
            Some(src) => sys::mount(Some(src), p, None, libc::MS_BIND, None),
            None => blank(p),
        };
        match r {
            Ok(()) if first.is_none() => *first = Some(p),
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An empty read-only tmpfs on the directory `p`.
fn blank_dir(p: &CStr) -> Result<(), Errno> {
    sys::mount(Some(c"tmpfs"), p, Some(c"tmpfs"), libc::MS_RDONLY | NOSUID | NODEV | NOEXEC, Some(c"mode=555,size=4k"))
}

/// The masks of /proc; then /dev is made read-only. Returns the first masked directory, which
/// the masks of /sys are bound from.
fn mask_proc() -> Result<Option<&'static CStr>, Errno> {
    let file = |p: &CStr| sys::mount(Some(BLANK), p, None, libc::MS_BIND, None).and_then(|()| read_only(p));
    cover(&MASKED_FILES, &mut None, file)?;
    let mut dir = None;
    cover(&MASKED_DIRS, &mut dir, blank_dir)?;
    for d in [c"/proc/sys", c"/proc/bus", c"/proc/irq", c"/proc/fs"] {
        match sys::mount(Some(d), d, None, libc::MS_BIND | libc::MS_REC, None) {
            Ok(()) => read_only(d)?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    sys::unlinkat(AT_FDCWD, BLANK, 0)?;
    // Read-only once made: with CAP_MKNOD no new device node can appear in a /dev without nodev.
    sys::mount_setattr(AT_FDCWD, c"/dev", 0, libc::MOUNT_ATTR_RDONLY, 0)?;
    Ok(dir)
}

/// Make a mount (and those below it) read-only, keeping its other flags.
fn read_only(path: &CStr) -> Result<(), Errno> {
    sys::mount_setattr(AT_FDCWD, path, libc::AT_RECURSIVE, libc::MOUNT_ATTR_RDONLY, 0)
}

pub fn loopback_up() -> Result<(), Errno> {
    let s = sys::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)?;
    // struct ifreq: the name, then ifr_flags at offset 16.
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    ifr[16..18].copy_from_slice(&(libc::IFF_UP as i16).to_ne_bytes());
    let r = sys::ioctl(s, libc::SIOCSIFFLAGS, &mut ifr);
    sys::close(s);
    r
}

/// sysfs, read-only. Without a network namespace of its own a user namespace may not mount
/// sysfs: bind the host's then, also read-only.
fn sysfs(root: Fd, host: Fd) -> Result<(), Errno> {
    let flags = libc::MS_RDONLY | NOSUID | NODEV | NOEXEC;
    if host.0 < 0 {
        return mount_in(root, b"/sys", c"sysfs", flags, None);
    }
    let t = beneath(root, b"/sys", true)?;
    let r = sys::mount(Some(via(host).c()), via(t).c(), None, libc::MS_BIND | libc::MS_REC, None);
    sys::close(t);
    sys::close(host);
    r?;
    read_only(c"/sys")
}

/// The first half of the root, which the command's process is forked after: open the host's
/// files, mount the overlay and pivot_root into it.
pub fn enter<'a>(sb: &Sandbox<'a>) -> Result<Host, Error<'a>> {
    let mut h = Host { lowers: [Fd(-1); MAX_LOWERS], binds: [Fd(-1); MAX_BINDS], devs: [Fd(-1); 6], sys: Fd(-1), devices: [Fd(-1); MAX_DEVICES], names: [Fd(-1); 2] };
    open_host(sb, &mut h)?;
    pivot_into_overlay(sb, &h.lowers[..sb.cfg.nlowers])?;
    Ok(h)
}

/// The second half, done by PID 1 while the command's process drops its privileges (it shares
/// the mount namespace, so it sees all of this): /proc, /dev, /sys, /tmp, the binds, and the
/// old root detached.
pub fn finish<'a>(sb: &Sandbox<'a>, h: &Host, pts: Fd, join_network: impl FnOnce() -> Result<(), Error<'a>>) -> Result<(), Error<'a>> {
    let cfg = sb.cfg;
    let e = |step: Step, path: &'a [u8]| move |errno| Error::new(step, path, errno);
    let root = sys::openat(AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .map_err(e(Step::PivotRoot, b"/"))?;
    // /proc first, on its directory's fd (no /proc/self/fd yet), then every other mount point.
    let proc_dir = beneath(root, b"/proc", true).map_err(e(Step::Proc, b"/proc"))?;
    sys::fchdir(proc_dir)
        .and_then(|()| sys::mount(Some(c"proc"), c".", Some(c"proc"), NOSUID | NODEV | NOEXEC, None))
        .map_err(e(Step::Proc, b"/proc"))?;
    sys::close(proc_dir);
    sys::fchdir(root).map_err(e(Step::Proc, b"/proc"))?;
    dev(root, &h.devs, sb.userns.is_some(), pts).map_err(e(Step::Dev, b"/dev"))?;
    let masked_dir = mask_proc().map_err(e(Step::Proc, b"/proc"))?;
    let mut tmp = Buf::<48>::new();
    tmp.push(b"mode=1777,size=");
    match cfg.tmp_size {
        Some(n) => tmp.push_u64(n),
        None => tmp.push(b"10%"),
    };
    mount_in(root, b"/tmp", c"tmpfs", NOSUID | NODEV, Some(tmp.c())).map_err(e(Step::Tmp, b"/tmp"))?;
    for &(dst, size) in &cfg.tmpfs[..cfg.ntmpfs] {
        tmp.clear();
        tmp.push(b"mode=1777,size=");
        match size.or(cfg.tmp_size) {
            Some(n) => tmp.push_u64(n),
            None => tmp.push(b"10%"),
        };
        mount_in(root, dst, c"tmpfs", NOSUID | NODEV, Some(tmp.c())).map_err(e(Step::Tmpfs, dst))?;
    }
    // /sys shows the network namespace of whoever mounts it.
    if cfg.netns {
        join_network()?;
        loopback_up().map_err(e(Step::Loopback, b"lo"))?;
    }
    sysfs(root, h.sys).and_then(|()| cover(&MASKED_SYS, &mut { masked_dir }, blank_dir)).map_err(e(Step::Sys, b"/sys"))?;
    if sb.cgroup.is_some() {
        // The sandbox's own cgroup (the root of its cgroup namespace), read-only.
        sys::mount(Some(c"cgroup2"), c"/sys/fs/cgroup", Some(c"cgroup2"), libc::MS_RDONLY | NOSUID | NODEV | NOEXEC, None)
            .map_err(e(Step::Cgroup, b"/sys/fs/cgroup"))?;
    }
    // Before the binds: a bind of the user's over /etc or /etc/hosts wins, and no mount point is
    // ever made in a host directory bound in.
    name_service(root, h, cfg.netns)?;
    // Bind sources are mounts of the old root: bound while it is still attached.
    for i in 0..cfg.nbinds {
        let b = cfg.binds[i];
        bind(root, h.binds[i], b.dst, sb.src.bind_dirs[i], b.ro).map_err(e(Step::Bind, b.dst))?;
    }
    devices(root, &h.devices[..cfg.ndevices], cfg)?;
    if !detached_by_command(sb) {
        detach_old_root(root)?;
    }
    sys::close(root);
    Ok(())
}

/// The hostname, set by the command's process before it drops its privileges (it shares the
/// UTS namespace), while PID 1 mounts.
pub fn hostname<'a>(sb: &Sandbox<'a>) -> Result<(), Error<'a>> {
    let cfg = sb.cfg;
    let host = cfg.hostname.or(cfg.name).unwrap_or(c"sandbox");
    sys::sethostname(host.to_bytes()).map_err(|e| Error::new(Step::Hostname, host.to_bytes(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_are_named_by_fd_in_order() {
        let mut b = Buf::<PATH_MAX>::new();
        lower_list(&mut b, &[Fd(3), Fd(10)]);
        assert_eq!(b.bytes(), b"/proc/self/fd/3:/proc/self/fd/10");
    }
}
