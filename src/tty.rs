//! The caller's terminal without a sandbox (the init-only entrypoint, which runs the command on
//! the host as the caller's own child). The command shares it, as it would run from the caller's
//! shell: it is made the terminal's foreground process group (what tini and catatonit do), so
//! job control, Ctrl-C, Ctrl-Z and window-size changes reach it straight from the kernel. At exit
//! the caller's modes and foreground group come back. A sandbox has a terminal of its own
//! instead (pty.rs): nothing of it may share the caller's session.

use crate::sys::{self, STDIN};

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
