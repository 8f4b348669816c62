//! The caller's terminal. The command shares it, as it would run from the caller's shell: it is
//! made the terminal's foreground process group (what tini and catatonit do), so job control,
//! Ctrl-C, Ctrl-Z and window-size changes reach it straight from the kernel, with no relay and
//! no pseudo-terminal of our own. At exit the caller's modes and foreground group come back.

use crate::out::Buf;
use crate::sys::{self, SigSet, STDIN};

pub struct Tty {
    /// The caller's process group was the terminal's foreground group: hand the terminal on.
    pub take: bool,
    pgrp: i32,
    /// The kernel's struct termios (36 bytes), as TCGETS fills it.
    modes: [u8; 64],
}

impl Tty {
    /// Look at stdin: a terminal whose foreground group is ours is handed to the command.
    /// A background job (`sandbox ... &`) or a pipe leaves the terminal alone.
    pub fn claim() -> Tty {
        let mut t = Tty { take: false, pgrp: 0, modes: [0; 64] };
        let mut fg: i32 = 0;
        if sys::ioctl(STDIN, libc::TIOCGPGRP as u64, &mut fg).is_ok() {
            t.pgrp = sys::getpgrp();
            t.take = fg == t.pgrp && sys::ioctl(STDIN, libc::TCGETS as u64, &mut t.modes).is_ok();
        }
        t
    }

    /// In the command's process: a process group of its own, made the terminal's foreground
    /// group. The caller blocks SIGTTOU around this, as a background group must to call
    /// tcsetpgrp. Without the terminal the command stays in the caller's group, so that a
    /// terminal it opens (/dev/tty) treats it as the caller (a background group would be stopped).
    ///
    /// The terminal is taken only while the job still has it: a Ctrl-Z that came before this
    /// moment has stopped the job and given the terminal back to the caller's shell, which must
    /// keep it (PID 1 hands it over when the job is brought back with `fg`).
    pub fn give_to_self(take: bool) {
        if take {
            let job = sys::getpgrp();
            let _ = sys::setpgid(0, 0);
            if Tty::foreground_is(job) {
                let mut me = sys::getpid();
                let _ = sys::ioctl(STDIN, libc::TIOCSPGRP as u64, &mut me);
            }
        }
    }

    /// Whether the terminal's foreground group is `pgrp`.
    pub fn foreground_is(pgrp: i32) -> bool {
        let mut fg: i32 = 0;
        sys::ioctl(STDIN, libc::TIOCGPGRP as u64, &mut fg).is_ok() && fg == pgrp
    }

    /// The job is stopped (Ctrl-Z, or PID 1 saw the command stop): stop this process, which the
    /// caller's shell waits for, and when it is continued in the foreground (`fg`) give the
    /// terminal back to the command's process group. Then tell PID 1 (`init`) to continue the
    /// command: only now, so that it cannot read the terminal before the terminal is its own.
    pub fn stop_job(&mut self, tstp: SigSet, init: i32) {
        let mut had: i32 = 0;
        let _ = sys::ioctl(STDIN, libc::TIOCGPGRP as u64, &mut had);
        let _ = sys::sigprocmask(libc::SIG_UNBLOCK, tstp);
        let _ = sys::kill(sys::getpid(), libc::SIGTSTP);
        let _ = sys::sigprocmask(libc::SIG_BLOCK, tstp);
        if Tty::foreground_is(self.pgrp) {
            // The group that had the terminal is the command's after a Ctrl-Z, but the caller's
            // shell's after a stop by SIGTTIN in the background: ask the kernel which it is
            // (without /proc/PID/task/PID/children, the one that had it, if not the shell's).
            let shell = sys::getpgid(sys::getppid());
            let mut to = command_group(init).unwrap_or(if had != shell { had } else { 0 });
            if to > 0 && to != self.pgrp {
                let _ = sys::ioctl(STDIN, libc::TIOCSPGRP as u64, &mut to);
            }
        }
        let _ = sys::kill(init, crate::init::RESUME);
    }

    /// Give the caller back its terminal modes and foreground group, unless the caller's shell
    /// has taken the terminal already (the job was put in the background with `bg`).
    pub fn restore(&mut self) {
        let shell = sys::getpgid(sys::getppid());
        if self.take && !(shell != self.pgrp && Tty::foreground_is(shell)) {
            let _ = sys::ioctl(STDIN, libc::TCSETSW as u64, &mut self.modes);
            let _ = sys::ioctl(STDIN, libc::TIOCSPGRP as u64, &mut self.pgrp);
        }
    }
}

/// The process group of the command's process, the first child of PID 1 (`init`, as the caller
/// sees it), from /proc/PID/task/PID/children.
fn command_group(init: i32) -> Option<i32> {
    let mut path = Buf::<64>::new();
    path.push(b"/proc/").push_u64(init as u64).push(b"/task/").push_u64(init as u64).push(b"/children");
    let mut buf = [0u8; 32];
    let n = sys::read_file(path.c(), &mut buf).ok()?;
    let first = buf[..n].split(|&b| b == b' ' || b == b'\n').next()?;
    let pid = crate::cgroup::parse_u64(first).filter(|&p| p > 0 && p <= i32::MAX as u64)? as i32;
    let g = sys::getpgid(pid);
    (g > 0).then_some(g)
}
