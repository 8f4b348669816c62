//! run: create, start, and (unless detached) wait for the container's process with the
//! caller's terminal and signals passed on to it, then delete, its exit status returned.
//!
//! A run killed (SIGKILL) leaves its container, as runc's does (its maintainers declined to
//! tie the container's life to run's, runc#440): the record says running, and `delete --force`
//! kills and removes it. A container with a terminal mostly ends with run all the same: the
//! master closes, and the terminal's hangup sends its session SIGHUP (a shell ends at it).

use super::create::{self, RunOpts};
use super::{Done, Global, Opts};
use crate::init;
use crate::launch::Watch;
use crate::pty;
use crate::sys::{self, Args, Env, Fd};

pub fn run(g: &Global, o: &mut Opts, args: &Args, env: &Env) -> Done<'static> {
    // Waited for here: the container's process comes back here when create's own one ends,
    // and every signal is taken in order to pass it on.
    let _ = sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    let mask = sys::sigprocmask(libc::SIG_BLOCK, init::ALL).unwrap_or(sys::SigSet(0));
    let mut r = RunOpts::default();
    let (id, pid) = create::create_with(g, o, args, env, Some(&mut r))?;
    // Whatever fails from here on removes the container made.
    let rec = match create::open(g, id) {
        Ok(rec) => rec,
        Err(f) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            create::forget(g, id);
            return Err(f);
        }
    };
    if let Err(f) = create::open_gate(g, id, &rec) {
        create::remove(g, id, &rec);
        return Err(f);
    }
    if r.detach {
        let _ = sys::sigprocmask(libc::SIG_SETMASK, mask);
        return Ok(0);
    }
    let status = match sys::signalfd(init::ALL) {
        Ok(sigfd) => relay(pid, Fd(r.master), sigfd),
        Err(_) => sys::wait4(pid, 0).map_or(255 << 8, |(_, st)| st),
    };
    if !r.keep {
        create::remove(g, id, &rec);
    }
    Ok(init::status(status))
}

/// Until the container's process `pid` ends (its wait status): its terminal `master` (-1:
/// none) relayed to the caller's, the signals read from `sigfd` passed on to it, and what it
/// left behind (re-parented here) reaped.
fn relay(pid: i32, master: Fd, sigfd: Fd) -> i32 {
    // The container's terminal is relayed from stdin and to stdout, terminals or not, as runc
    // and script do (`echo exit 3 | sandbox-oci run ID` types into it); stdin's terminal, if it
    // is one, is raw meanwhile. Input that ends is told to the container's terminal as its end
    // of file (pty.rs).
    let mut caller = pty::Caller::find();
    (caller.input, caller.output) = (Fd(0), Fd(1));
    let mut w = Watch::new(Fd(-1), master, &mut caller, false);
    if master.0 >= 0 {
        sys::set_nonblocking(master, true);
        w.go_on();
    }
    let status = loop {
        let Some((sig, code)) = w.next(sigfd) else { continue };
        if sig != libc::SIGCHLD {
            w.on_signal(pid, sig, code);
            continue;
        }
        let mut ended = None;
        while let Ok((p, st)) = sys::wait4(-1, libc::WNOHANG) {
            if p <= 0 {
                break;
            }
            if p == pid {
                ended = Some(st);
            }
        }
        if let Some(st) = ended {
            break st;
        }
    };
    w.drain();
    w.caller.restore();
    status
}
