//! PID 1: start the command as a child, reap every process that ends, pass signals on, and end
//! with the command's status. From the moment the command runs nothing here may fail the
//! process: errors of reaping or forwarding are ignored, because a dying init takes the whole
//! sandbox down with it.

use crate::sys::{self, Errno, Fd, SigSet};
use crate::tty::Tty;
use libc::{SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, SIGTSTP};

/// Every signal but the two that no process can block. sandbox waits for them all and passes
/// on each one, so that no signal sent to it kills it while its command runs (SIGALRM, SIGPWR,
/// SIGXCPU, SIGSYS, ... end a process that does not take them). A fault of sandbox's own is not
/// held back by this: the kernel delivers a blocked SIGSEGV from a real fault all the same.
pub const ALL: SigSet = SigSet(!SigSet::of(&[SIGKILL, SIGSTOP]).0);

/// The exit status a shell would report for a wait status: the code, or 128+signal.
pub fn status(w: i32) -> i32 {
    let sig = w & 0x7f;
    if sig == 0 {
        (w >> 8) & 0xff
    } else {
        128 + sig
    }
}

/// The command's process: a process group of its own in a sandbox (`own_group`); without one,
/// the terminal's foreground group when `take_tty`; the caller's signal mask and umask back,
/// then `exec` (which does not return).
pub struct Command<'a> {
    pub own_group: bool,
    pub take_tty: bool,
    pub mask: SigSet,
    pub umask: Option<u32>,
    pub exec: &'a dyn Fn(),
}

extern "C" fn command_main(c: &Command) -> ! {
    if c.own_group {
        let _ = sys::setpgid(0, 0);
    } else {
        Tty::give_to_self(c.take_tty);
    }
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
#[inline(never)]
pub fn start(c: &Command) -> Result<i32, Errno> {
    // About 40 KiB is used: the environment array is 33.
    static STACK: sys::Stack<{ 256 * 1024 }> = sys::Stack::new();
    let pid = sys::spawn(SIGCHLD as u64, &STACK, command_main, c)?;
    if c.own_group {
        // Both sides set it, so that it is set before either goes on.
        let _ = sys::setpgid(pid, pid);
    }
    Ok(pid)
}

/// What PID 1 knows of the job it serves.
#[derive(Clone, Copy)]
pub struct Job {
    /// Without a sandbox: the command was given the caller's terminal (a process group of
    /// its own, the terminal's foreground).
    pub tty: bool,
    /// Without a sandbox: a stop of the command stops the caller's job (sandbox is in it and
    /// is not the PID 1 of a machine or container).
    pub stops: bool,
    /// In a sandbox: the channel to the outer process, which is told of each stop of the
    /// command ("S") and tells when the job goes on in the foreground ("F") or background ("B").
    pub outer: Fd,
    /// In a sandbox run from a terminal: the sandbox's terminal, which PID 1 leads.
    pub pty: Fd,
}

/// Serve as init until `child` exits; returns its status. Every other process that ends is
/// reaped on the way, and every signal is passed on to `child`, except those the kernel sent
/// (a terminal's Ctrl-C reached the command already, from the same terminal).
///
/// In a sandbox the job is the outer process's to stop: a stop of the command is told to it,
/// and it says when to continue; the command is continued in the foreground of its terminal,
/// or in the background, where a read stops it again (SIGTTIN), as in the caller's shell.
///
/// Without a sandbox, with `job.stops`, a stop of the command (Ctrl-Z) makes PID 1 stop its
/// own process group, which is the caller's job, so the caller's shell says "Stopped" and takes
/// its terminal back. `fg` continues that group with the terminal: PID 1 hands it to the
/// command again and continues it; `bg` continues it without: the command runs on in the
/// background.
pub fn serve(child: i32, mut job: Job) -> i32 {
    let sandbox = job.outer.0 >= 0;
    let sigfd = sys::signalfd(ALL).unwrap_or(Fd(-1));
    let flags = libc::WNOHANG | if sandbox || job.stops { libc::WUNTRACED } else { 0 };
    let mut stopped = false;
    loop {
        let mut fds = [libc::pollfd { fd: sigfd.0, events: libc::POLLIN, revents: 0 }, libc::pollfd { fd: job.outer.0, events: libc::POLLIN, revents: 0 }];
        let signal = if sigfd.0 >= 0 {
            let _ = sys::poll(&mut fds);
            if fds[1].revents != 0 {
                job.outer = go_on(job, child);
            }
            sys::read_signal(sigfd)
        } else {
            sys::sigwait_info(ALL).ok()
        };
        let Some((sig, code)) = signal else { continue };
        match sig {
            SIGCHLD => loop {
                match sys::wait4(-1, flags) {
                    Ok((0, _)) => break,
                    Ok((pid, w)) if pid == child && w & 0xff == 0x7f => {
                        if sandbox {
                            let _ = sys::write(job.outer, b"S");
                        } else if job.stops {
                            stopped = true;
                            stop_job();
                        }
                    }
                    Ok((pid, w)) if pid == child => return status(w),
                    Ok(_) => {}
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            },
            SIGCONT if !sandbox => {
                // `fg` gave the job the terminal: it is the command's. After `bg` the shell keeps it.
                if job.tty && Tty::foreground_is(sys::getpgrp()) {
                    let mut pgrp = child;
                    let _ = sys::ioctl(sys::STDIN, libc::TIOCSPGRP as u64, &mut pgrp);
                }
                let _ = sys::kill(if stopped { -child } else { child }, SIGCONT);
                stopped = false;
            }
            _ if code != SI_KERNEL || (job.tty && !sandbox) => {
                let _ = sys::kill(child, sig);
            }
            _ => {}
        }
    }
}

/// The outer process's word that the job goes on: the terminal's foreground to the command
/// ("F") or to PID 1 ("B"), and the command continued. Returns the channel, or none (-1) once
/// the outer process is gone.
fn go_on(job: Job, child: i32) -> Fd {
    let mut b = [0u8; 16];
    let n = match sys::read(job.outer, &mut b) {
        Ok(n) if n > 0 => n,
        Err(Errno::EINTR) | Err(Errno::EAGAIN) => return job.outer,
        _ => return Fd(-1),
    };
    for &c in b.iter().take(n) {
        if job.pty.0 >= 0 {
            let mut to = if c == b'F' { child } else { sys::getpgrp() };
            let _ = sys::ioctl(job.pty, libc::TIOCSPGRP as u64, &mut to);
        }
        let _ = sys::kill(-child, SIGCONT);
    }
    job.outer
}

/// Stop the caller's job, this process with it, until it is continued.
#[inline(never)]
fn stop_job() {
    let tstp = SigSet::of(&[SIGTSTP]);
    let _ = sys::sigprocmask(libc::SIG_UNBLOCK, tstp);
    let _ = sys::kill(0, SIGTSTP);
    let _ = sys::sigprocmask(libc::SIG_BLOCK, tstp);
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
    fn every_signal_but_kill_and_stop_is_waited_for() {
        for sig in 1..=64 {
            assert_eq!(ALL.has(sig), sig != SIGKILL && sig != SIGSTOP, "{sig}");
        }
    }
}
