//! sandbox as the machine's init: the /init of an initramfs on a bare VM.
//!
//! How it knows: it is PID 1, and its PID namespace is the kernel's initial one (whose inode
//! number is fixed, PROC_PID_INIT_INO). PID 1 of a container is PID 1 of a namespace of its own
//! and only does the init duties. Then, before running its arguments as on a host, it sets the
//! machine up: /proc, /sys, /dev, /dev/pts, /dev/shm, /run, cgroup2, the console on fds 0-2
//! when the initramfs has no /dev/console node, lo, and overlayfs if it is a module.
//!
//! The initramfs root cannot be pivot_root'ed away from (it has no parent mount), so the
//! machine first moves into a bind mount of it, the way switch_root moves into the real root;
//! sandboxes made after that pivot_root into their overlays as on any host. At the end it kills
//! what is left, syncs, says `exit status N` on the console and powers off: PID 1 of a machine
//! never exits (the kernel would panic).

use crate::error::say;
use crate::out::Buf;
use crate::root::loopback_up;
use crate::sys::{self, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// Mount, making the mount point if missing; already mounted is fine.
fn mount(src: &CStr, target: &CStr, fstype: &CStr, flags: u64, data: Option<&CStr>) {
    let r = match sys::mount(Some(src), target, Some(fstype), flags, data) {
        Err(Errno::ENOENT) => sys::mkdirat(AT_FDCWD, target, 0o755)
            .and_then(|()| sys::mount(Some(src), target, Some(fstype), flags, data)),
        r => r,
    };
    if let Err(e) = r {
        if e != Errno::EBUSY {
            crate::error::Error::new(crate::error::Step::Machine, target.to_bytes(), e).print();
        }
    }
}

/// Whether this process is the machine's init.
#[inline(never)]
pub fn is_machine_init() -> bool {
    if sys::getpid() != 1 {
        return false;
    }
    let st = match sys::stat_at(AT_FDCWD, c"/proc/self/ns/pid", 0) {
        Err(Errno::ENOENT) => {
            // Quietly: PID 1 of a container without /proc (and without the right to mount it)
            // is simply not a machine's init.
            let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            let _ = sys::mkdirat(AT_FDCWD, c"/proc", 0o555);
            let _ = sys::mount(Some(c"proc"), c"/proc", Some(c"proc"), flags, None);
            sys::stat_at(AT_FDCWD, c"/proc/self/ns/pid", 0)
        }
        r => r,
    };
    st.is_ok_and(|s| s.ino == PROC_PID_INIT_INO)
}

/// The console on fds 0, 1 and 2 where they are closed, as the controlling terminal.
fn console() {
    if (0..3).all(|fd| sys::fd_open(Fd(fd))) {
        return;
    }
    let Ok(c) = sys::openat(AT_FDCWD, c"/dev/console", libc::O_RDWR | libc::O_NOCTTY, 0) else { return };
    for fd in 0..3 {
        if fd != c.0 && !sys::fd_open(Fd(fd)) {
            let _ = sys::dup3(c, Fd(fd));
        }
    }
    if c.0 > 2 {
        sys::close(c);
    }
    let _ = sys::setsid();
    let mut zero = 0i32;
    let _ = sys::ioctl(sys::STDIN, libc::TIOCSCTTY as u64, &mut zero);
}

/// Load overlayfs from /lib/modules/<release>/kernel/fs/overlayfs/ unless the kernel has it.
fn overlay_module() {
    let mut fs = [0u8; 4096];
    let n = sys::read_file(c"/proc/filesystems", &mut fs).unwrap_or(0);
    if fs.get(..n).unwrap_or_default().windows(8).any(|w| w == b"\toverlay") {
        return;
    }
    let mut rel = [0u8; 128];
    let n = sys::read_file(c"/proc/sys/kernel/osrelease", &mut rel).unwrap_or(0);
    let rel = rel.get(..n).unwrap_or_default();
    let rel = rel.strip_suffix(b"\n").unwrap_or(rel);
    for (ext, flags) in [(&b""[..], 0), (b".xz", 4), (b".zst", 4)] {
        // 4: MODULE_INIT_COMPRESSED_FILE, the kernel decompresses.
        let mut p = Buf::<256>::new();
        p.push(b"/lib/modules/").push(rel).push(b"/kernel/fs/overlayfs/overlay.ko").push(ext);
        if let Ok(fd) = sys::openat(AT_FDCWD, p.c(), libc::O_RDONLY | libc::O_CLOEXEC, 0) {
            let r = sys::finit_module(fd, flags);
            sys::close(fd);
            match r {
                Ok(()) | Err(Errno::EEXIST) => return,
                Err(e) => crate::error::Error::new(crate::error::Step::Machine, p.bytes(), e).print(),
            }
        }
    }
}

/// Move into a bind mount of the initramfs root, so that sandboxes can pivot_root.
#[inline(never)]
fn pivotable_root() -> Result<(), Errno> {
    let dir = c"/.sandbox-root";
    match sys::mkdirat(AT_FDCWD, dir, 0o700) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    sys::mount(Some(c"/"), dir, None, libc::MS_BIND | libc::MS_REC, None)?;
    sys::chdir(dir)?;
    sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None)?;
    sys::chroot(c".")?;
    sys::chdir(c"/")
}

/// Set the machine up. Problems are reported and passed over: the command may not need
/// what failed, and the machine must reach its power-off either way.
pub fn prepare() {
    const NOSUID: u64 = libc::MS_NOSUID;
    const NODEV: u64 = libc::MS_NODEV;
    const NOEXEC: u64 = libc::MS_NOEXEC;
    mount(c"devtmpfs", c"/dev", c"devtmpfs", NOSUID, Some(c"mode=0755"));
    console();
    mount(c"sysfs", c"/sys", c"sysfs", NOSUID | NODEV | NOEXEC, None);
    mount(c"devpts", c"/dev/pts", c"devpts", NOSUID | NOEXEC, Some(c"mode=620,ptmxmode=666"));
    mount(c"tmpfs", c"/dev/shm", c"tmpfs", NOSUID | NODEV, Some(c"mode=1777"));
    mount(c"tmpfs", c"/run", c"tmpfs", NOSUID | NODEV, Some(c"mode=755"));
    mount(c"cgroup2", c"/sys/fs/cgroup", c"cgroup2", NOSUID | NODEV | NOEXEC, None);
    if let Err(e) = pivotable_root() {
        crate::error::Error::new(crate::error::Step::Machine, b"/", e).print();
    }
    if let Err(e) = loopback_up() {
        crate::error::Error::new(crate::error::Step::Loopback, b"lo", e).print();
    }
    overlay_module();
}

/// The end of the machine: nothing left running, disks synced, the status said, power off.
pub fn power_off(status: i32) -> ! {
    let _ = sys::kill(-1, libc::SIGKILL);
    while sys::wait4(-1, 0).is_ok() {}
    sys::sync();
    let mut b = Buf::<64>::new();
    b.push(b"exit status ").push_u64(status as u64);
    say(b.bytes());
    loop {
        let e = sys::power_off();
        crate::error::Error::new(crate::error::Step::Machine, b"power off", e).print();
        sys::pause();
    }
}
