//! The network namespace of `--net none`: made while the rest of the sandbox is set up, because
//! making one is the dearest step of a start (unshare(CLONE_NEWNET) takes about half a
//! millisecond, more than all the mounts together).
//!
//! A maker makes it, then tells each of the sandbox's processes that join it on `made`: one
//! byte each, 0, or the errno of unshare. They join it through the maker's pidfd;
//! PID 1 then brings lo up, while the command's process drops its privileges. The maker is
//! - as root: a helper process that the outer process starts just before its clone (it shares
//!   the outer's memory, like the command's process shares PID 1's). PID 1 and the command's
//!   process both join; the helper ends when both have let go of `hold`.
//! - not root: the command's process, first thing. A network namespace belongs to the user
//!   namespace of its maker, and the sandbox's user namespace is made by PID 1's clone. PID 1
//!   joins.
//!
//! No process of the sandbox stays in the host's network namespace (/proc/1/net would show the
//! host's sockets).

use crate::error::{Error, Step};
use crate::sys::{self, Errno, Fd};

/// The pipes between the maker and the joiners (all CLOEXEC). Not changed once made: the helper
/// reads it from the outer process's memory while that runs on.
pub struct Network {
    /// The joiners' end of `made`.
    pub made: Fd,
    made_w: Fd,
    /// With a helper, the joiners' end of `hold`: open until they have joined, or died.
    pub hold: Fd,
    hold_r: Fd,
}

impl Network {
    /// The pipes; `hold` only for a `helper`, which must outlive the joins (the command's process,
    /// the maker when not root, lives on anyway).
    pub fn new(helper: bool) -> Result<Network, Errno> {
        let (made, made_w) = sys::pipe(libc::O_CLOEXEC)?;
        let (hold_r, hold) = match helper.then(|| sys::pipe(libc::O_CLOEXEC)).transpose() {
            Ok(p) => p.unwrap_or((Fd(-1), Fd(-1))),
            Err(e) => {
                sys::close(made);
                sys::close(made_w);
                return Err(e);
            }
        };
        Ok(Network { made, made_w, hold, hold_r })
    }

    /// The fds a process between the outer and the maker keeps: PID 1 keeps the maker's ends
    /// too when the command's process will be the maker.
    pub fn fds(&self, with_maker_ends: bool) -> [Fd; 4] {
        if with_maker_ends {
            [self.made, self.hold, self.made_w, self.hold_r]
        } else {
            [self.made, self.hold, Fd(-1), Fd(-1)]
        }
    }

    /// The maker: make the namespace, and tell `joiners` processes how it went.
    pub fn make(&self, joiners: usize) -> Result<(), Errno> {
        let r = sys::unshare(libc::CLONE_NEWNET);
        let msg = [r.map_or_else(|e| e.into_raw() as u8, |()| 0)];
        for _ in 0..joiners {
            let _ = sys::write(self.made_w, &msg);
        }
        r
    }

    /// A joiner: wait for the maker's word and join its namespace; then let go of the pipes.
    pub fn join<'a>(&self, maker: Fd) -> Result<(), Error<'a>> {
        let mut m = [0u8];
        let r = match sys::read(self.made, &mut m) {
            Ok(1) if m[0] == 0 => sys::setns(maker, libc::CLONE_NEWNET),
            Ok(1) => Err(Errno::new(m[0] as i32)),
            // The maker died without a word.
            _ => Err(Errno::ECHILD),
        };
        self.close();
        r.map_err(|e| Error::new(Step::Namespaces, b"", e))
    }

    /// Close the maker's ends (a joiner that started the maker: PID 1 when not root).
    pub fn close_maker_ends(&self) {
        sys::close(self.made_w);
        sys::close(self.hold_r);
    }

    /// Close the joiners' ends (the outer process, once PID 1 has them).
    pub fn close(&self) {
        sys::close(self.made);
        sys::close(self.hold);
    }
}

extern "C" fn helper(net: &Network) -> ! {
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64);
    // Nothing of the outer's but the two ends it uses (not the lock on the layer).
    sys::close_all_but(&mut [net.made_w, net.hold_r]);
    let _ = net.make(2);
    // Until both joiners have let go of `hold`.
    let _ = sys::read(net.hold_r, &mut [0u8]);
    sys::exit(0)
}

/// Root: start the helper that makes the namespace; returns its pid and a pidfd. `net` must
/// stay alive and unchanged until the helper is reaped. Its ends are closed here.
pub fn start_helper(net: &Network) -> Result<(i32, Fd), Errno> {
    static STACK: sys::Stack<{ 16 * 1024 }> = sys::Stack::new();
    let pid = sys::spawn(libc::SIGCHLD as u64, &STACK, helper, net)?;
    net.close_maker_ends();
    match sys::pidfd_open(pid) {
        Ok(fd) => Ok((pid, fd)),
        Err(e) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::wait4(pid, 0);
            Err(e)
        }
    }
}
