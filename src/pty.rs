//! The sandbox's own terminal. No process of a sandbox shares a session or a process group with
//! a process of the host: a process group is not namespaced, so a command in the caller's group
//! could kill(0, SIGKILL) the caller's shell, and one in the caller's session could take input
//! meant for it. PID 1 leads a session of its own; when the caller runs sandbox from a terminal,
//! that session's controlling terminal is a pseudo-terminal of the sandbox's own devpts, made by
//! PID 1, and the outer process relays bytes between it and the caller's terminal, as ssh and
//! `docker run -it` do.
//!
//! Job control is carried across: Ctrl-Z, Ctrl-C and the rest reach the command through its
//! terminal, in raw mode on the caller's side. A command stopped there stops the caller's job
//! (PID 1 tells the outer process, which stops itself); `fg` makes the command the foreground
//! of its terminal again and continues it, `bg` continues it in the background of its terminal,
//! where a read stops it (SIGTTIN) and so the job, as in the caller's own shell.

use crate::sys::{self, Errno, Fd, STDIN};
use core::sync::atomic::{AtomicU32, Ordering};

/// struct termios as TCGETS fills it (36 bytes), and struct winsize.
type Modes = [u8; 64];
type Size = [u16; 4];

/// The caller's terminal, when one of stdin, stdout or stderr is a terminal.
pub struct Caller {
    /// Where input is read from and output written to (-1: no terminal).
    pub input: Fd,
    pub output: Fd,
    /// Which of fds 0, 1 and 2 are terminals: the command gets the sandbox's terminal there.
    pub fds: u8,
    modes: Modes,
    raw: bool,
}

fn is_tty(fd: Fd, modes: &mut Modes) -> bool {
    sys::ioctl(fd, libc::TCGETS as u64, modes).is_ok()
}

impl Caller {
    pub fn find() -> Caller {
        let mut c = Caller { input: Fd(-1), output: Fd(-1), fds: 0, modes: [0; 64], raw: false };
        let mut m = [0u8; 64];
        // Output first to stdout, input first from stdin; the modes are the input's.
        for fd in [1, 2, 0] {
            if is_tty(Fd(fd), &mut m) {
                c.fds |= 1 << fd;
                if c.output.0 < 0 {
                    c.output = Fd(fd);
                }
            }
        }
        for fd in [0, 1, 2] {
            if c.fds & (1 << fd) != 0 {
                c.input = Fd(fd);
                let _ = is_tty(Fd(fd), &mut c.modes);
                break;
            }
        }
        c
    }

    pub fn present(&self) -> bool {
        self.fds != 0
    }

    /// Whether the caller's job may read its terminal now: it is the terminal's foreground
    /// group, or the terminal is not the controlling terminal of this session at all (the
    /// console of a machine whose init sandbox is), where no job control applies.
    pub fn may_read(&self) -> bool {
        let mut fg: i32 = 0;
        match sys::ioctl(self.input, libc::TIOCGPGRP as u64, &mut fg) {
            Ok(()) => fg == sys::getpgrp(),
            Err(e) => e == Errno::ENOTTY,
        }
    }

    /// The caller's terminal in raw mode: every key goes to the sandbox's terminal, whose own
    /// line discipline (with the caller's modes) echoes, edits and turns Ctrl-C into SIGINT.
    pub fn make_raw(&mut self) {
        if self.raw {
            return;
        }
        let mut m = self.modes;
        let mut field = |at: usize, clear: u32, set: u32| {
            let v = u32::from_ne_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]]);
            m[at..at + 4].copy_from_slice(&((v & !clear) | set).to_ne_bytes());
        };
        use libc::*;
        field(0, IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON, 0);
        field(4, OPOST, 0);
        field(8, CSIZE | PARENB, CS8);
        field(12, ECHO | ECHONL | ICANON | ISIG | IEXTEN, 0);
        // c_cc starts at 17 (after c_line).
        m[17 + VMIN] = 1;
        m[17 + VTIME] = 0;
        self.raw = sys::ioctl(self.input, TCSETSW as u64, &mut m).is_ok();
    }

    /// The caller's modes back, as they were.
    pub fn restore(&mut self) {
        if self.raw {
            let _ = sys::ioctl(self.input, libc::TCSETSW as u64, &mut self.modes);
            self.raw = false;
        }
    }

    /// The sandbox's terminal `master` to the caller's window size.
    pub fn size_to(&self, master: Fd) {
        let mut ws: Size = [0; 4];
        if sys::ioctl(self.input, libc::TIOCGWINSZ as u64, &mut ws).is_ok() {
            let _ = sys::ioctl(master, libc::TIOCSWINSZ as u64, &mut ws);
        }
    }
}

/// The number of the sandbox's terminal, /dev/pts/N: set by PID 1 before the command's process
/// may go on (they share memory until it execs).
static NUMBER: AtomicU32 = AtomicU32::new(0);

/// The sandbox's terminal, made by PID 1 as the leader of the sandbox's session before it starts
/// the command's process, which inherits it as its controlling terminal (a process gets that
/// only from its session leader, and only at fork). Its devpts is the sandbox's own, mounted on
/// /dev/pts later (`mount`).
pub struct Pty {
    pub mount: Fd,
    pub master: Fd,
    pub slave: Fd,
}

/// Make the terminal, with the caller's modes and window size (the caller's terminal is still
/// on PID 1's stdio), as the session's controlling terminal.
pub fn make() -> Result<Pty, Errno> {
    let fs = sys::fsopen(c"devpts")?;
    let made = sys::fsconfig(fs, sys::FSCONFIG_SET_STRING, Some(c"ptmxmode"), Some(c"0666"))
        .and_then(|()| sys::fsconfig(fs, sys::FSCONFIG_SET_STRING, Some(c"mode"), Some(c"620")))
        .and_then(|()| sys::fsconfig(fs, sys::FSCONFIG_CMD_CREATE, None, None))
        .and_then(|()| sys::fsmount(fs, libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC));
    sys::close(fs);
    let mount = made?;
    let m = sys::openat(mount, c"ptmx", libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC, 0)?;
    let s = peer(m)?;
    sys::ioctl_int(s, libc::TIOCSCTTY as u64, 0)?;
    Ok(Pty { mount, master: m, slave: s })
}

/// The other side of the terminal whose master is `m` (unlocked), with the caller's modes and
/// window size (from the first of stdin, stdout, stderr that is a terminal).
pub fn peer(m: Fd) -> Result<Fd, Errno> {
    let mut unlock: i32 = 0;
    sys::ioctl(m, libc::TIOCSPTLCK as u64, &mut unlock)?;
    let mut n: u32 = 0;
    sys::ioctl(m, libc::TIOCGPTN as u64, &mut n)?;
    NUMBER.store(n, Ordering::Relaxed);
    let s = Fd(sys::ioctl_int(m, libc::TIOCGPTPEER as u64, (libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) as u64)?);
    let mut modes: Modes = [0; 64];
    let mut ws: Size = [0; 4];
    for fd in [STDIN, Fd(1), Fd(2)] {
        if is_tty(fd, &mut modes) {
            let _ = sys::ioctl(s, libc::TCSETS as u64, &mut modes);
            if sys::ioctl(fd, libc::TIOCGWINSZ as u64, &mut ws).is_ok() {
                let _ = sys::ioctl(s, libc::TIOCSWINSZ as u64, &mut ws);
            }
            break;
        }
    }
    Ok(s)
}

/// The terminal's foreground to `pgrp` (the command's, once it has one).
pub fn give(slave: Fd, mut pgrp: i32) -> Result<(), Errno> {
    sys::ioctl(slave, libc::TIOCSPGRP as u64, &mut pgrp)
}

/// In the command's process, after PID 1 made the terminal: it replaces each of fds 0, 1 and 2
/// that was the caller's terminal (`fds`, a bit each).
pub fn take(fds: u8) -> Result<(), Errno> {
    let mut path = crate::out::Buf::<32>::new();
    path.push(b"/dev/pts/").push_u64(NUMBER.load(Ordering::Relaxed) as u64);
    let s = sys::openat(sys::AT_FDCWD, path.c(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC, 0)?;
    for fd in 0..3 {
        if fds & (1 << fd) != 0 {
            sys::dup3(s, Fd(fd))?;
        }
    }
    sys::close(s);
    Ok(())
}

/// Bytes on their way from the caller's terminal to the sandbox's, which may not take them all
/// at once (a paste larger than its input buffer while the command does not read).
pub struct Pending {
    buf: [u8; 4096],
    at: usize,
    len: usize,
    /// Input that is not a terminal ended: how long (ms) the sandbox's terminal is to be quiet
    /// before its end is said there (`say_end`). -1: no end is owed.
    pub wait: i32,
    /// The mode the end was last said in: ICANON, or 0 for raw; NONE: not said yet.
    said: u32,
}

const NONE: u32 = 1;

impl Pending {
    pub const fn new() -> Pending {
        Pending { buf: [0; 4096], at: 0, len: 0, wait: -1, said: NONE }
    }

    pub fn is_empty(&self) -> bool {
        self.at == self.len
    }

    /// Read what the caller typed; false at end of input (or an error: the terminal is gone,
    /// or the job went to the background).
    pub fn fill(&mut self, from: Fd) -> bool {
        match sys::read(from, &mut self.buf) {
            Ok(n) if n > 0 => {
                self.at = 0;
                self.len = n;
                true
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => true,
            _ => false,
        }
    }

    /// The end of input that is not a terminal (`sandbox-oci run <file`), said to the sandbox's
    /// terminal `master` as a terminal says it, once nothing of the input waits there unread (as
    /// util-linux's script does): to a reader in canonical mode its VEOF, at the start of a line
    /// (twice after a line the input left unfinished), and Ctrl-D to one in raw mode (a line
    /// editor). Said again whenever the mode is another since: an end said in canonical mode is
    /// a NUL byte to a reader that goes raw before it reads it (a shell started after its input
    /// ended, whose line editor would wait for ever), a Ctrl-D a byte of a line to a canonical
    /// one. No event tells of a read or of a mode changed: the terminal is looked at after it
    /// has been quiet `wait` ms, longer each time.
    pub fn say_end(&mut self, master: Fd) {
        self.wait = (self.wait * 2).min(1000);
        if !self.is_empty() {
            return;
        }
        let Ok(s) = sys::ioctl_int(master, libc::TIOCGPTPEER as u64, (libc::O_RDONLY | libc::O_NOCTTY | libc::O_CLOEXEC) as u64) else { return };
        let mut m: Modes = [0; 64];
        let quiet = sys::poll_now(Fd(s), libc::POLLIN) == Ok(0) && is_tty(Fd(s), &mut m);
        sys::close(Fd(s));
        let mode = u32::from_ne_bytes([m[12], m[13], m[14], m[15]]) & libc::ICANON;
        if !quiet || mode == self.said {
            return;
        }
        let eof = match m[17 + libc::VEOF] {
            0 => 4,
            c => c,
        };
        // A line the input left unfinished ends first: with a first VEOF in canonical mode, with
        // a newline in raw mode (where a line editor takes Ctrl-D on a line for a deletion; the
        // VEOF said before may have been lost to it).
        let last = if self.len > 0 { self.buf[self.len - 1] } else { b'\n' };
        let open = last != b'\n' && last != b'\r' && last != eof && (mode == 0 || self.said == NONE);
        let end = [if mode != 0 { eof } else { b'\n' }, eof];
        let _ = sys::write(master, &end[1 - open as usize..]);
        self.said = mode;
    }

    /// Write what the sandbox's terminal takes (`to` is non-blocking).
    pub fn flush(&mut self, to: Fd) {
        while self.at < self.len {
            match sys::write(to, &self.buf[self.at..self.len]) {
                Ok(n) => self.at += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    self.at = self.len;
                    return;
                }
            }
        }
    }
}

/// Copy what the sandbox's terminal wrote to the caller's; false once it has nothing more
/// (every process of the sandbox closed it).
pub fn copy_out(master: Fd, to: Fd) -> bool {
    let mut buf = [0u8; 4096];
    match sys::read(master, &mut buf) {
        Ok(0) => false,
        Ok(n) => {
            let _ = sys::write_all(to, &buf[..n]);
            true
        }
        Err(Errno::EINTR) | Err(Errno::EAGAIN) => true,
        Err(_) => false,
    }
}
