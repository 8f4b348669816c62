//! Clean up: remove a directory tree with constant memory, however deep it is.
//!
//! No recursion and no path buffer: descend into the first subdirectory that is not empty, and
//! when a directory is empty climb back through `..` and read the parent again. Entries are
//! never followed through symlinks (`O_NOFOLLOW`), so nothing outside the tree is touched.
//! Directories that deny us (overlayfs makes `work/work` mode 000; a user may `chmod 0`) are
//! opened up first, which is what a rootless owner needs.

use crate::out::Buf;
use crate::sys::{self, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

const DIR_FLAGS: i32 = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

fn open_dir(dir: Fd, name: &CStr) -> Result<Fd, Errno> {
    match sys::openat(dir, name, DIR_FLAGS, 0) {
        Err(Errno::EACCES) => {
            // Opened up through an fd of that very directory: chmod by name follows a symlink,
            // and the name may be one by now.
            let d = sys::openat(dir, name, libc::O_PATH | DIR_FLAGS, 0)?;
            let mut p = Buf::<32>::new();
            p.push(b"/proc/self/fd/").push_u64(d.0 as u64);
            let r = sys::fchmodat(AT_FDCWD, p.c(), 0o700).and_then(|()| sys::openat(d, c".", DIR_FLAGS, 0));
            sys::close(d);
            r
        }
        r => r,
    }
}

/// Unlink one entry of `dir`; `Ok(true)` when it is a directory that still has entries.
fn unlink_entry(dir: Fd, name: &CStr, is_dir: bool) -> Result<bool, Errno> {
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    let r = match sys::unlinkat(dir, name, flags) {
        // No write permission on `dir` itself: open it up and try once more.
        Err(Errno::EACCES) | Err(Errno::EPERM) if sys::fchmodat(dir, c".", 0o700).is_ok() => {
            sys::unlinkat(dir, name, flags)
        }
        r => r,
    };
    match r {
        Ok(()) | Err(Errno::ENOENT) => Ok(false),
        Err(Errno::EISDIR) if !is_dir => unlink_entry(dir, name, true),
        Err(Errno::ENOTDIR) if is_dir => unlink_entry(dir, name, false),
        Err(Errno::ENOTEMPTY) | Err(Errno::EEXIST) if is_dir => Ok(true),
        Err(e) => Err(e),
    }
}

/// Remove `name` in `dir` and everything below it. A missing `name` is not an error.
pub fn remove_tree(dir: Fd, name: &CStr) -> Result<(), Errno> {
    if !unlink_entry(dir, name, true)? {
        return Ok(());
    }
    let mut fd = open_dir(dir, name)?;
    let mut depth = 0usize;
    let mut buf = [0u8; 4096];
    loop {
        let mut removed_any = false;
        let mut descend = None;
        sys::rewind(fd)?;
        'pass: loop {
            let n = sys::getdents(fd, &mut buf)?;
            if n == 0 {
                break;
            }
            for (entry, dtype) in sys::dirents(&buf[..n]) {
                let e = entry.to_bytes();
                if e == b"." || e == b".." {
                    continue;
                }
                removed_any = true;
                if unlink_entry(fd, entry, dtype == libc::DT_DIR)? {
                    descend = Some(open_dir(fd, entry)?);
                    break 'pass;
                }
            }
        }
        if let Some(child) = descend {
            sys::close(fd);
            fd = child;
            depth += 1;
            continue;
        }
        if removed_any {
            // Read once more: a directory changed under iteration may hide entries from one pass.
            continue;
        }
        if depth == 0 {
            sys::close(fd);
            return unlink_entry(dir, name, true).map(drop);
        }
        let parent = sys::openat(fd, c"..", DIR_FLAGS, 0)?;
        sys::close(fd);
        fd = parent;
        depth -= 1;
    }
}
