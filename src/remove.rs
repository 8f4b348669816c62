//! Clean up: remove a directory tree with constant memory, however deep it is.
//!
//! No recursion and no path buffer: descend into the first subdirectory that is not empty, and
//! when a directory is empty go back to its parent and read it again. The way back is the fd of
//! the parent we descended from, never `..`: a directory of the tree moved elsewhere while we
//! are in it (by whoever can write the layer, from inside the sandbox or through an fd it sent
//! out) would make `..` lead elsewhere, and a climb by `..` counted in levels would end above
//! the top, in the state directory or beyond. The fds of the last `UP` ancestors are kept in a
//! ring; when the ring runs out below the top, start over from the top (`name` in `dir`): each
//! round removes at least one directory, and a tree `d` deep costs about d²/(2·`UP`) opens.
//! Entries are never followed through symlinks (`O_NOFOLLOW`), so nothing outside the tree is
//! touched. Directories that deny us (overlayfs makes `work/work` mode 000; a user may `chmod 0`)
//! are opened up first, which is what a rootless owner needs.

use crate::out::Buf;
use crate::sys::{self, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

const DIR_FLAGS: i32 = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// How many ancestors' fds are kept for the way back.
const UP: usize = 32;
const NONE: Fd = Fd(-1);

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
    // `up[d % UP]`: the fd of the ancestor at depth `d` while it is held, else NONE.
    let mut up = [NONE; UP];
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
            // Kept for the way back, letting go of the oldest one held.
            sys::close(core::mem::replace(&mut up[depth % UP], fd));
            fd = child;
            depth += 1;
            continue;
        }
        if removed_any {
            // Read once more: a directory changed under iteration may hide entries from one pass.
            continue;
        }
        sys::close(fd);
        if depth == 0 {
            return unlink_entry(dir, name, true).map(drop);
        }
        // Back to the parent we descended from; with none held, start over from the top.
        depth -= 1;
        fd = core::mem::replace(&mut up[depth % UP], NONE);
        if fd == NONE {
            fd = open_dir(dir, name)?;
            depth = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::fs::PermissionsExt;

    /// A tree far deeper than the ring of ancestors (so it starts over from the top many times),
    /// with files on the way, a second branch and a directory of mode 000 near the bottom.
    #[test]
    fn a_tree_deeper_than_the_ring_is_removed() {
        let d = std::env::temp_dir().join(format!("sandbox-remove-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let fd = sys::openat(AT_FDCWD, &CString::new(d.to_str().unwrap()).unwrap(), DIR_FLAGS, 0).unwrap();
        std::fs::write(d.join("beside"), "kept").unwrap();
        let mut p = d.join("t");
        for i in 0..200 {
            p.push(format!("d{i}"));
            std::fs::create_dir_all(&p).unwrap();
            if i % 7 == 0 {
                std::fs::write(p.join("f"), "x").unwrap();
                std::fs::create_dir_all(p.join("side/x")).unwrap();
            }
        }
        let locked = p.join("locked");
        std::fs::create_dir_all(locked.join("in")).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0)).unwrap();
        assert!(remove_tree(fd, c"t").is_ok());
        assert!(!d.join("t").exists());
        assert_eq!(std::fs::read(d.join("beside")).unwrap(), b"kept");
        // Missing: not an error.
        assert!(remove_tree(fd, c"t").is_ok());
        sys::close(fd);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
