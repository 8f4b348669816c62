//! Step 3, on the host: start the sandbox and watch it. clone(2) into new mount, PID, UTS, IPC,
//! cgroup and network namespaces; the child builds the root and becomes PID 1 (`inner`). The
//! outer process reads the child's report until end-of-file (a failure, or the command running),
//! passes signals on to PID 1, waits for it, gives the terminal back, and removes the layer.

use crate::cli::Config;
use crate::error::{Error, Step, EXIT_SANDBOX};
use crate::exec::{self, Envp};
use crate::init;
use crate::out::Buf;
use crate::report::{self, Msg};
use crate::root;
use crate::state::{self, Layer, Sources, PATH_MAX};
use crate::sys::{self, Args, Env, Fd, SigSet};
use crate::timings::Timings;
use crate::tty::Tty;

const NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP) as u64;

pub fn run(cfg: &Config, args: Args, env: Env, t: &mut Timings) -> i32 {
    let src = match state::check_sources(cfg) {
        Ok(s) => s,
        Err(e) => {
            e.print();
            return EXIT_SANDBOX;
        }
    };
    let mut path = Buf::<PATH_MAX>::new();
    let layer = match state::prepare(cfg, &env, &mut path) {
        Ok(l) => l,
        Err(e) => {
            e.print();
            return EXIT_SANDBOX;
        }
    };
    let (status, setup_failed) = supervise(cfg, args, env, &layer, &src, t);
    // A rejected run leaves nothing behind; a layer that existed before is never lost to one.
    if !cfg.keep || (setup_failed && layer.fresh) {
        if let Err(e) = layer.discard() {
            Error::new(Step::Cleanup, layer.path, e).print();
        }
    }
    t.mark(b"cleanup");
    status
}

/// Returns the exit status, and whether the sandbox failed before its command ran.
fn supervise(cfg: &Config, args: Args, env: Env, layer: &Layer, src: &Sources, t: &mut Timings) -> (i32, bool) {
    let (theirs, ours) = match report::channel() {
        Ok(p) => p,
        Err(e) => {
            Error::new(Step::Namespaces, b"", e).print();
            return (EXIT_SANDBOX, true);
        }
    };
    let mut tty = Tty::claim();
    let mask = sys::sigprocmask(libc::SIG_BLOCK, init::BLOCK).unwrap_or(SigSet(0));
    let net = if cfg.netns { libc::CLONE_NEWNET as u64 } else { 0 };
    let pid = match sys::clone(NAMESPACES | net | libc::SIGCHLD as u64) {
        Ok(0) => inner(cfg, args, env, layer, src, (theirs, ours), tty.take, mask, t.on),
        Ok(pid) => pid,
        Err(e) => {
            Error::new(Step::Namespaces, b"", e).print();
            let _ = sys::sigprocmask(libc::SIG_SETMASK, mask);
            return (EXIT_SANDBOX, true);
        }
    };
    t.mark(b"clone");
    sys::close(theirs);
    let mut setup_failed = false;
    let mut exec_failed = false;
    let mut buf = [0u8; report::MAX];
    while let Some(m) = report::recv(ours, &mut buf) {
        match m {
            Msg::RootReady(ns) => t.mark_at(b"root", ns),
            Msg::Failed(e) => {
                e.print();
                exec_failed = e.step == Step::Exec;
                setup_failed = !exec_failed;
            }
        }
    }
    if !setup_failed && !exec_failed {
        t.mark(b"exec");
    }
    sys::close(ours);
    let w = loop {
        match sys::sigwait(init::WAIT) {
            Ok(libc::SIGCHLD) => match sys::wait4(pid, libc::WNOHANG) {
                Ok((p, w)) if p == pid => break w,
                Err(e) if e != sys::Errno::EINTR => break 0x7f00,
                _ => {}
            },
            Ok(sig) => {
                let _ = sys::kill(pid, sig);
            }
            Err(_) => {}
        }
    };
    t.mark(b"exit");
    tty.restore();
    (init::status(w), setup_failed)
}

/// The child: PID 1 of the new namespaces. Never returns.
#[allow(clippy::too_many_arguments)]
fn inner(
    cfg: &Config,
    args: Args,
    env: Env,
    layer: &Layer,
    src: &Sources,
    (sock, parents): (Fd, Fd),
    take_tty: bool,
    mask: SigSet,
    timings: bool,
) -> ! {
    // Die with the outer process, even by SIGKILL. If it died before this line, the socket's
    // other end is already closed: stop here.
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64);
    sys::close(parents);
    if sys::poll_now(sock, libc::POLLRDHUP).map_or(true, |r| r & (libc::POLLHUP | libc::POLLRDHUP) != 0) {
        sys::exit(EXIT_SANDBOX);
    }
    let umask = sys::umask(0);
    if let Err(e) = root::build(cfg, layer, src) {
        report::send_error(sock, &e);
        sys::exit(EXIT_SANDBOX);
    }
    if timings {
        report::send_root_ready(sock, sys::now_ns());
    }
    let started = init::start(take_tty, mask, Some(umask), || {
        let mut envp = Envp::new();
        exec::sandbox_env(cfg, &env, &mut envp);
        exec::exec(args, cfg.command, envp.as_ptr(), exec::path_of(&envp), sock)
    });
    let pid = match started {
        Ok(pid) => pid,
        Err(e) => {
            report::send_error(sock, &Error::new(Step::Fork, b"", e));
            sys::exit(EXIT_SANDBOX);
        }
    };
    sys::close(sock);
    sys::exit(init::serve(pid))
}
