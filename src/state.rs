//! Step 2: prepare the layers on the host: the read-only image layers, the bind sources, and the
//! writable layer `<state-dir>/<name>/{upper,work}` with its lock and its keep marker.
//!
//! The name is locked with flock(2) on the `<state-dir>/<name>` directory itself, held by the
//! outer process only: it is free again the moment that process is gone, even after `kill -9`.
//! A lock won on a directory that a finishing run just removed (st_nlink 0) is retried.
//!
//! The state directory must be the caller's and writable by no one else, however it was chosen:
//! whoever can write it could swap a layer for a directory of their own. One that this run makes
//! is the caller's; its parent is not checked, since after the lock the layer is used only
//! through its locked fd (root.rs proves the sandbox builds on that very directory).
//!
//! `keep` marks a layer that must outlive its run. It is written before the command runs (so a
//! crash cannot lose a kept layer) and removed first when a run discards the layer (so a crash in
//! the middle of the removal leaves a layer that the next start discards, never half a kept one).
//! A layer without the marker found at start is what a killed run left: it is discarded.

use crate::cli::{Config, MAX_BINDS};
use crate::error::{Error, Step};
use crate::out::Buf;
use crate::remove::remove_tree;
use crate::sys::{self, Env, Errno, Fd, AT_FDCWD};
use core::ffi::CStr;

pub const PATH_MAX: usize = 4096;

/// What the sandbox's root is made of, besides the writable layer.
pub struct Sources {
    /// Whether each bind source is a directory (its target is made a directory, else a file).
    pub bind_dirs: [bool; MAX_BINDS],
}

/// Check every --lower and bind source before anything is created: it exists, and a lower is
/// a directory. The sandbox opens them again from its own mount namespace (overlayfs and bind
/// mounts take only mounts of the caller's namespace).
#[inline(never)]
pub fn check_sources(cfg: &Config) -> Result<Sources, Error<'static>> {
    let mut s = Sources { bind_dirs: [false; MAX_BINDS] };
    for p in cfg.lowers.iter().take(cfg.nlowers) {
        let st = sys::stat_at(AT_FDCWD, p, 0).map_err(|e| Error::new(Step::Lower, p.to_bytes(), e))?;
        if st.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Error::new(Step::Lower, p.to_bytes(), Errno::ENOTDIR));
        }
    }
    for (b, dir) in cfg.binds.iter().zip(&mut s.bind_dirs).take(cfg.nbinds) {
        let src = b.src;
        let mut p = Buf::<PATH_MAX>::new();
        p.push(src);
        let st = sys::stat_at(AT_FDCWD, p.c(), 0).map_err(|e| Error::new(Step::BindSource, src, e))?;
        *dir = st.mode & libc::S_IFMT == libc::S_IFDIR;
    }
    Ok(s)
}

/// The locked writable layer of one name.
pub struct Layer<'a> {
    /// `<state-dir>/<name>`, for messages.
    pub path: &'a [u8],
    pub name: &'static CStr,
    /// The state directory, and `<state-dir>/<name>` (locked).
    pub state: Fd,
    pub dir: Fd,
    /// Made by this run: nothing of it existed before.
    pub fresh: bool,
    /// Resumed from a run with --keep.
    pub resumed: bool,
    /// The state directory was made by this run.
    made_state: bool,
}

/// The state directory: --state-dir, else $SANDBOX_STATE_DIR, else /run/sandbox for root, else
/// $XDG_RUNTIME_DIR/sandbox, else /tmp/sandbox-UID. True for the last, which is in a shared place
/// (and so must not even be readable by others).
fn state_dir(given: Option<&'static CStr>, env: &Env, uid: u32, out: &mut Buf<PATH_MAX>) -> bool {
    if let Some(d) = given.or_else(|| env.get(b"SANDBOX_STATE_DIR").filter(|d| !d.is_empty())) {
        out.push(d.to_bytes());
        return false;
    }
    if uid == 0 {
        out.push(b"/run/sandbox");
        return false;
    }
    // $XDG_RUNTIME_DIR only if it is ours: `su` and `setpriv` keep the previous user's.
    let xdg = env.get(b"XDG_RUNTIME_DIR").filter(|d| {
        d.to_bytes().first() == Some(&b'/') && sys::stat_at(AT_FDCWD, d, 0).is_ok_and(|st| st.uid == uid)
    });
    match xdg {
        Some(x) => {
            out.push(x.to_bytes()).push(b"/sandbox");
            false
        }
        None => {
            out.push(b"/tmp/sandbox-").push_u64(uid as u64);
            true
        }
    }
}

/// Find or make the state directory and the layer of `cfg.name` in it, and lock it, for the
/// caller `uid`. `buf` receives `<state-dir>/<name>`, which errors and the layer refer to.
#[inline(never)]
pub fn prepare<'a>(cfg: &Config, env: &Env, uid: u32, buf: &'a mut Buf<PATH_MAX>) -> Result<Layer<'a>, Error<'a>> {
    let shared_tmp = state_dir(cfg.state_dir, env, uid, buf);
    let base = buf.len();
    let name = cfg.name.unwrap_or(c"");
    buf.push(b"/").push(name.to_bytes());
    let overflow = buf.overflowed();
    let path: &'a Buf<PATH_MAX> = buf;
    let full = path.bytes();
    let sd = &full[..base];
    if overflow {
        return Err(Error::new(Step::StateDir, sd, Errno::ENAMETOOLONG));
    }
    let mut dirbuf = Buf::<PATH_MAX>::new();
    dirbuf.push(sd);
    let dir_flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    // A state directory made by a run that is then rejected is taken away again (when empty):
    // one that another run has just opened may vanish under it, which it takes again from here.
    let mut tries = 0;
    let (state, made_state, dir, fresh) = 'state: loop {
        tries += 1;
        let made_state = match sys::mkdirat(AT_FDCWD, dirbuf.c(), 0o700) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(Error::new(Step::StateDir, sd, e)),
        };
        // A rejected run makes nothing: the state directory goes again if this run made it.
        let undo = |e: Error<'a>| {
            if made_state {
                let _ = sys::unlinkat(AT_FDCWD, dirbuf.c(), libc::AT_REMOVEDIR);
            }
            e
        };
        let state = sys::openat(AT_FDCWD, dirbuf.c(), dir_flags, 0).map_err(|e| undo(open_err(dirbuf.c(), uid, sd, e)))?;
        // Whoever else can write the state directory can swap a layer for a directory of their
        // own between our lock and our mount: a state directory, however it was chosen, is ours
        // and writable by no one else, or nothing is done. In /tmp, where anyone may have made
        // it first, it is not even readable by others.
        if let Err(e) = check_state(state, uid, shared_tmp, sd) {
            sys::close(state);
            return Err(undo(e));
        }
        let layer_err = |e| undo(Error::new(Step::Layer, full, e));
        break loop {
            let fresh = match sys::mkdirat(state, name, 0o700) {
                Ok(()) => true,
                Err(Errno::EEXIST) => false,
                Err(Errno::ENOENT) if tries < 8 => {
                    sys::close(state);
                    continue 'state;
                }
                Err(e) => return Err(layer_err(e)),
            };
            let dir = match sys::openat(state, name, dir_flags, 0) {
                Ok(d) => d,
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(layer_err(e)),
            };
            match lock_layer(dir) {
                // A layer someone else made (in a shared state directory such as /tmp) is neither
                // used nor removed: its upper directory could lead anywhere they like.
                Ok(owner) if owner != uid => return Err(Error::new(Step::NotOwner, full, Errno::EPERM)),
                Ok(_) => break (state, made_state, dir, fresh),
                Err(Errno::ENOENT) => sys::close(dir),
                Err(Errno::EWOULDBLOCK) => return Err(Error::usage(Step::InUse, name.to_bytes())),
                Err(e) => return Err(layer_err(e)),
            }
        };
    };
    // A record left by a run killed outright: whoever holds the lock is the only live run.
    crate::record::remove(dir);
    let mut layer = Layer { path: full, name, state, dir, fresh, resumed: false, made_state };
    if !fresh {
        layer.resumed = sys::openat(dir, c"keep", libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0)
            .map(sys::close)
            .is_ok();
        if !layer.resumed {
            // Left by a run that was killed: discard it. What is made next is this run's own.
            discard_contents(dir).map_err(|e| Error::new(Step::Layer, full, e))?;
            layer.fresh = true;
        }
    }
    if let Err(e) = make_dirs(dir, cfg.keep) {
        if layer.fresh {
            let _ = layer.abandon();
        }
        return Err(Error::new(Step::Layer, full, e));
    }
    Ok(layer)
}

/// Lock the layer directory `dir`, without waiting (EWOULDBLOCK: a run holds it); its owner.
/// ENOENT: the run that held it removed it meanwhile (st_nlink 0). A POSIX lock besides, which
/// names its holder (F_GETLK): how --join and --stop know the outer process of the run, whatever
/// a record says (record::pid1).
pub fn lock_layer(dir: Fd) -> Result<u32, Errno> {
    sys::flock(dir, libc::LOCK_EX | libc::LOCK_NB)?;
    let _ = sys::lock_shared(dir);
    match sys::fstat(dir)? {
        st if st.nlink > 0 => Ok(st.uid),
        _ => Err(Errno::ENOENT),
    }
}

/// Why the state directory could not be opened: one of another user's (squatted, in /tmp) is
/// said to be so, not just "Permission denied".
#[cold]
fn open_err<'a>(path: &CStr, uid: u32, sd: &'a [u8], e: Errno) -> Error<'a> {
    match sys::stat_at(AT_FDCWD, path, libc::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if e == Errno::EACCES && st.uid != uid => Error::usage(Step::StateDirUnsafe, sd),
        _ => Error::new(Step::StateDir, sd, e),
    }
}

/// The state directory as opened is the caller's and writable by no one else (in /tmp, not
/// readable either).
fn check_state(state: Fd, uid: u32, shared_tmp: bool, sd: &[u8]) -> Result<(), Error<'_>> {
    let open_to_others = if shared_tmp { 0o077 } else { 0o022 };
    match sys::fstat(state) {
        Ok(st) if st.uid == uid && st.mode & open_to_others == 0 => Ok(()),
        Ok(_) => Err(Error::usage(Step::StateDirUnsafe, sd)),
        Err(e) => Err(Error::new(Step::StateDir, sd, e)),
    }
}

/// The state directory for --list, --remove, --stop and --join: chosen as a run chooses it,
/// never made, and checked the same way (another user's is refused: its records and layers
/// are theirs to steer). `buf` receives its path. None: it does not exist, so no sandbox does.
pub fn open_state<'a>(given: Option<&'static CStr>, env: &Env, uid: u32, buf: &'a mut Buf<PATH_MAX>) -> Result<Option<Fd>, Error<'a>> {
    let shared_tmp = state_dir(given, env, uid, buf);
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    let buf: &'a Buf<PATH_MAX> = buf;
    let state = match sys::openat(AT_FDCWD, buf.c(), flags, 0) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(open_err(buf.c(), uid, buf.bytes(), e)),
    };
    check_state(state, uid, shared_tmp, buf.bytes()).inspect_err(|_| sys::close(state))?;
    Ok(Some(state))
}

/// The layer directory `name` in `state`, if it is the caller's (a directory, not a symlink).
pub fn open_layer(state: Fd, name: &CStr, uid: u32) -> Result<Fd, Errno> {
    let dir = sys::openat(state, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0)?;
    match sys::fstat(dir) {
        Ok(st) if st.uid == uid => Ok(dir),
        r => {
            sys::close(dir);
            Err(r.err().unwrap_or(Errno::EPERM))
        }
    }
}

#[inline(never)]
fn make_dirs(dir: Fd, keep: bool) -> Result<(), Errno> {
    for sub in [c"upper", c"work"] {
        match sys::mkdirat(dir, sub, 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    if keep {
        let m = sys::openat(dir, c"keep", libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o600)?;
        sys::close(m);
    }
    Ok(())
}

pub fn discard_contents(dir: Fd) -> Result<(), Errno> {
    match sys::unlinkat(dir, c"keep", 0) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    crate::record::remove(dir);
    remove_tree(dir, c"upper")?;
    remove_overlay_work(dir);
    remove_tree(dir, c"work")
}

/// What overlayfs leaves in its work directory, removed by name: a walk of the tree (open,
/// read, rewind, climb) costs several times more, and is left for whatever else is there. One
/// directory at a time, never through a symlink: a layer's `work` may lead anywhere.
#[inline(never)]
fn remove_overlay_work(dir: Fd) {
    const CHAIN: [&CStr; 4] = [c"work", c"work", c"incompat", c"volatile"];
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let mut fds = [dir; 5];
    let mut n = 0;
    while n < CHAIN.len() {
        match sys::openat(fds[n], CHAIN[n], flags, 0) {
            Ok(f) => fds[n + 1] = f,
            Err(_) => break,
        }
        n += 1;
    }
    if n == CHAIN.len() {
        let _ = sys::unlinkat(fds[n], c"dirty", 0);
    }
    if n > 0 {
        let _ = sys::unlinkat(fds[1], c"index", libc::AT_REMOVEDIR);
    }
    while n > 0 {
        sys::close(fds[n]);
        let _ = sys::unlinkat(fds[n - 1], CHAIN[n - 1], libc::AT_REMOVEDIR);
        n -= 1;
    }
}

impl Layer<'_> {
    /// Remove the layer and its directory: the keep marker first, then the rest.
    pub fn discard(&self) -> Result<(), Errno> {
        discard_contents(self.dir)?;
        // Removed while we still hold its lock: a run waiting on it sees st_nlink 0 and starts over.
        sys::unlinkat(self.state, self.name, libc::AT_REMOVEDIR)
    }

    /// `discard` for a rejected run, which makes nothing: the state directory too, if this run
    /// made it and it is empty (a run of another name may have begun to use it).
    pub fn abandon(&self) -> Result<(), Errno> {
        self.discard()?;
        if self.made_state {
            let mut p = Buf::<PATH_MAX>::new();
            p.push(&self.path[..self.path.len() - self.name.to_bytes().len() - 1]);
            // Only while the path still leads to it: a directory on the way may have been
            // swapped for a link by another user since.
            let ours = |st: Result<sys::Stat, Errno>| st.map(|s| (s.dev, s.ino));
            if ours(sys::stat_at(AT_FDCWD, p.c(), libc::AT_SYMLINK_NOFOLLOW)) == ours(sys::fstat(self.state)) {
                let _ = sys::unlinkat(AT_FDCWD, p.c(), libc::AT_REMOVEDIR);
            }
        }
        Ok(())
    }
}
