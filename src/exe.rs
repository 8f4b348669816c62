//! Step 0, for a sandbox: run from a sealed copy of the binary in memory.
//!
//! Until it execs the command, the command's process is a clone of sandbox, and PID 1 is one for
//! good: their /proc/PID/exe is the file sandbox was started from. A command `/proc/self/exe`, or
//! a script of the image (or of a kept layer) that starts `#!/proc/self/exe`, makes the kernel
//! run that file inside the sandbox, and a process there could change it through
//! /proc/PID/exe: a write fails (ETXTBSY) but a chmod 4755 does not, and every user of the host
//! would then run a setuid-root sandbox (CVE-2019-5736, the runc escape). So before it makes
//! anything, sandbox executes itself again from a copy nobody can change: as root, the binary
//! itself in a detached read-only bind mount of it alone (no copy: a chmod, a write or a
//! truncate through /proc/PID/exe then fails with EROFS, and nothing inside can make that mount
//! writable); where sandbox may not make mounts (not root), a memfd copy sealed against every
//! change, as runc and crun do. A binary that is on a read-only mount already is run as it is,
//! and so is, for a caller other than root, a binary of another user's that only its owner may
//! write.

use crate::error::{Error, Step};
use crate::sys::{self, Args, Env, Errno, Fd, AT_FDCWD};

/// F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE.
pub const SEALS: u64 = 0x1 | 0x2 | 0x4 | 0x8;
pub const MFD_CLOEXEC: u32 = 0x1;
pub const MFD_ALLOW_SEALING: u32 = 0x2;
/// Executable even where vm.memfd_noexec asks for the opposite by default (Linux 6.3).
const MFD_EXEC: u32 = 0x10;

/// Go on only from a sealed copy: if this process is not one, make it and execute it (this
/// returns only on failure).
pub fn run_sealed<'a>(args: &Args, env: &Env) -> Result<(), Error<'a>> {
    let e = |errno| Error::new(Step::SelfCopy, b"/proc/self/exe", errno);
    let exe = sys::openat(AT_FDCWD, c"/proc/self/exe", libc::O_RDONLY | libc::O_CLOEXEC, 0).map_err(e)?;
    if sys::on_read_only_mount(exe) || sys::fcntl(exe, libc::F_GET_SEALS, 0).is_ok_and(|s| s & SEALS == SEALS) || out_of_reach(exe) {
        sys::close(exe);
        return Ok(());
    }
    if let Ok(alone) = read_only_mount_of(exe) {
        sys::close(exe);
        let errno = sys::execveat_fd(alone, args.tail(0), env.raw());
        sys::close(alone);
        return Err(e(errno));
    }
    let copy = copy_of(exe).map_err(e);
    sys::close(exe);
    let copy = copy?;
    let errno = sys::execveat_fd(copy, args.tail(0), env.raw());
    sys::close(copy);
    Err(e(errno))
}

/// Not root, with a binary of another user's that only its owner may write (the usual install,
/// root's): the sandbox's root is the caller, who can neither chmod nor write it, inside or out.
fn out_of_reach(exe: Fd) -> bool {
    let uid = sys::geteuid();
    uid != 0 && sys::fstat(exe).is_ok_and(|st| st.uid != uid && st.mode & 0o022 == 0)
}

/// The binary alone in a detached bind mount, read-only (and nosuid, nodev): an fd of it.
fn read_only_mount_of(exe: Fd) -> Result<Fd, Errno> {
    let m = sys::open_tree_clone(exe, c"")?;
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    if let Err(err) = sys::mount_setattr(m, c"", libc::AT_EMPTY_PATH, attrs, 0) {
        sys::close(m);
        return Err(err);
    }
    Ok(m)
}

fn copy_of(exe: Fd) -> Result<Fd, Errno> {
    let flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    let m = match sys::memfd_create(c"sandbox", flags | MFD_EXEC) {
        Err(Errno::EINVAL) => sys::memfd_create(c"sandbox", flags)?,
        r => r?,
    };
    let size = sys::fstat(exe)?.size as usize;
    let mut done = 0;
    while done < size {
        match sys::sendfile(m, exe, size - done) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(err) => {
                sys::close(m);
                return Err(err);
            }
        }
    }
    sys::fcntl(m, libc::F_ADD_SEALS, SEALS)?;
    Ok(m)
}
