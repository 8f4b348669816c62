//! PID 1: start the command as a child, reap every process that ends, pass signals on, and end
//! with the command's status. From the moment the command runs nothing here may fail the
//! process: errors of reaping or forwarding are ignored, because a dying init takes the whole
//! sandbox down with it.

use crate::sys::{self, Errno, SigSet};
use crate::tty::Tty;
use libc::{SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH};

/// Signals sent to sandbox that are passed on to the command.
pub const FORWARD: SigSet = SigSet::of(&[SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]);
/// What init and the outer process wait for.
pub const WAIT: SigSet = SigSet(FORWARD.0 | SigSet::of(&[SIGCHLD]).0);
/// The outer process's word to PID 1 that the stopped job was continued and the terminal is
/// where it belongs: PID 1 may continue the command now. A real-time signal nothing else sends.
pub const RESUME: i32 = 40;
/// Blocked from the start: the waited-for signals stay pending until read, a process group in
/// the background may hand the terminal over (SIGTTOU) without being stopped, and SIGCONT (whose
/// continuing happens anyway) and RESUME can be read by PID 1 when a stopped job is resumed.
/// SIGPIPE too: a closed stderr must not kill sandbox before it has cleaned up.
pub const BLOCK: SigSet = SigSet(WAIT.0 | SigSet::of(&[SIGTTIN, SIGTTOU, SIGCONT, RESUME, libc::SIGPIPE]).0);

/// The exit status a shell would report for a wait status: the code, or 128+signal.
pub fn status(w: i32) -> i32 {
    let sig = w & 0x7f;
    if sig == 0 {
        (w >> 8) & 0xff
    } else {
        128 + sig
    }
}

/// The command's process: its own process group (the terminal's foreground group when
/// `take_tty`), the caller's signal mask and umask back, then `exec` (which does not return).
pub struct Command<F: Fn()> {
    pub take_tty: bool,
    pub mask: SigSet,
    pub umask: Option<u32>,
    pub exec: F,
}

extern "C" fn command_main<F: Fn()>(c: &Command<F>) -> ! {
    Tty::give_to_self(c.take_tty);
    if let Some(u) = c.umask {
        sys::umask(u);
    }
    let _ = sys::sigprocmask(libc::SIG_SETMASK, c.mask);
    (c.exec)();
    sys::exit(crate::error::EXIT_CANNOT_EXEC)
}

/// Start the command's process; returns its pid. It shares our memory until it execs
/// (`sys::spawn`): `c` and whatever `exec` reads must live on, unchanged, until then; the
/// callers keep them in a frame that outlives the command.
pub fn start<F: Fn()>(c: &Command<F>) -> Result<i32, Errno> {
    // About 40 KiB is used: the environment array is 33.
    static STACK: sys::Stack<{ 256 * 1024 }> = sys::Stack::new();
    sys::spawn(SIGCHLD as u64, &STACK, command_main::<F>, c)
}

/// What PID 1 knows of the terminal.
#[derive(Clone, Copy)]
pub struct Job {
    /// The command was given the caller's terminal (a process group of its own).
    pub tty: bool,
    /// A stop of the command stops the caller's job: there is a process in PID 1's group that
    /// can stop (the outer process; nobody when sandbox is the PID 1 of a machine or container).
    pub stops: bool,
    /// PID 1 sees the caller's process groups (no PID namespace of its own) and hands the
    /// terminal back to the command on `fg`; in a sandbox the outer process does.
    pub hand_back: bool,
}

/// Serve as init until `child` exits; returns its status. Every other process that ends is
/// reaped on the way; signals in FORWARD are sent on to `child`, except those the terminal sent
/// to the whole group when the command is in it (it has them already).
///
/// With `job.stops`, a stop of the command is a stop of the whole job: the command stopped by
/// Ctrl-Z makes PID 1 stop its own process group, which is the caller's job (the outer process,
/// or this one without --lower), so the caller's shell says "Stopped" and takes its terminal
/// back. `fg` continues that group with the terminal: PID 1 hands it to the command again and
/// continues it; `bg` continues it without: the command runs on in the background.
///
/// In a sandbox PID 1 cannot tell `fg` from `bg` (the caller's process groups are outside its
/// PID namespace): the outer process hands the terminal back and then sends RESUME, and only
/// then does PID 1 continue the command. Continued at SIGCONT, a command that reads the terminal
/// could read before it is in the foreground, and be stopped again by SIGTTIN.
pub fn serve(child: i32, job: Job) -> i32 {
    let set = if job.stops { SigSet(WAIT.0 | SigSet::of(&[SIGCONT, RESUME]).0) } else { WAIT };
    let flags = libc::WNOHANG | if job.stops { libc::WUNTRACED } else { 0 };
    let mut stopped = false;
    loop {
        let (sig, code) = match sys::sigwait_info(set) {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig == SIGCONT || sig == RESUME {
            // `fg` gave the job the terminal: it is the command's. After `bg` the shell keeps it.
            if sig == SIGCONT && job.hand_back && Tty::foreground_is(sys::getpgrp()) {
                let mut pgrp = child;
                let _ = sys::ioctl(sys::STDIN, libc::TIOCSPGRP as u64, &mut pgrp);
            }
            // Without the outer process PID 1 continues the command itself, at SIGCONT.
            let resume = if job.hand_back { sig == SIGCONT } else { sig == RESUME };
            if stopped && resume {
                let _ = sys::kill(-child, SIGCONT);
                stopped = false;
            }
            continue;
        }
        if sig != SIGCHLD {
            if job.tty || code != SI_KERNEL {
                let _ = sys::kill(child, sig);
            }
            continue;
        }
        loop {
            match sys::wait4(-1, flags) {
                Ok((0, _)) => break,
                Ok((pid, w)) if pid == child && w & 0xff == 0x7f => {
                    stopped = true;
                    let _ = sys::kill(0, libc::SIGTSTP);
                }
                Ok((pid, w)) if pid == child => return status(w),
                Ok(_) => {}
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    }
}

/// si_code of a signal the kernel sent (a terminal's Ctrl-C, SIGWINCH, hang-up).
pub const SI_KERNEL: i32 = 0x80;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status(0), 0);
        assert_eq!(status(7 << 8), 7);
        assert_eq!(status(9), 137);
        assert_eq!(status(15 | 0x80), 143);
    }

    #[test]
    fn sets() {
        assert!(FORWARD.has(SIGTERM) && FORWARD.has(SIGWINCH) && !FORWARD.has(SIGCHLD));
        assert!(WAIT.has(SIGCHLD) && !WAIT.has(SIGTTOU));
        assert!(BLOCK.has(SIGTTOU) && BLOCK.has(SIGUSR2));
    }
}
