//! sandbox: run a command in an overlay sandbox, as the child of a small PID 1.
//!
//! The steps, one file each, in the order they happen:
//!   cli      read the command line
//!   exe      (with --lower) run again from a copy of the binary nothing can change
//!   state    open the image layers, make and lock the writable layer
//!   cgroup   (with limits) the sandbox's cgroup v2
//!   launch   clone into new namespaces, watch the sandbox, clean up
//!   pty      (from a terminal) the sandbox's own terminal, relayed by the outer process
//!   network  the network namespace, made at the same time as the root, and lo
//!   root     (inside) mount the overlay, pivot_root, /proc /dev /sys /tmp, binds, hostname
//!   init     (inside) PID 1: start the command, reap, forward signals
//!   caps     (inside) the command's capabilities, no_new_privs and seccomp filter (seccomp)
//!   exec     the command's environment, PATH search and execve
//!   remove   remove a layer, however deep
//!   record   the record of a running sandbox: who its PID 1 is, what its command got
//!   manage   --list, --remove, --stop: the sandboxes of a state directory by name
//!   join     --join: a command in a running sandbox, confined as its own
//!   machine  as the machine's init: set it up first, power it off at the end
//! Around them: sys (every raw syscall), error (what failed, where, why), out (byte strings),
//! report (the child-to-parent channel), tty (the caller's terminal without a sandbox),
//! timings (--timings).
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]

mod caps;
mod cgroup;
mod cli;
mod error;
mod exe;
mod exec;
mod init;
mod join;
mod launch;
mod machine;
mod manage;
mod network;
mod oci;
mod out;
mod pty;
mod record;
mod remove;
mod report;
mod root;
mod seccomp;
mod state;
mod sys;
#[cfg(test)]
mod texts;
mod timings;
mod tty;

use cli::Parsed;
use error::EXIT_SANDBOX;
use sys::{Args, Env};
use timings::Timings;

// The binary is linked without unwind tables (build.rs); the unit tests' harness unwinds to
// report a failed test, and this writable section tells the linker script to keep its tables.
#[cfg(test)]
#[used]
#[link_section = ".eh_frame.keep"]
static mut KEEP_UNWIND_TABLES: [u8; 4] = [0; 4];

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    error::say(b"internal error");
    sys::exit(EXIT_SANDBOX)
}

// The process's entry (build.rs names it): the kernel's argc, argv and environment handed to
// `main` as they lie on the stack, without the C runtime's start-up, which sets up what
// sandbox never uses (thread-local storage, stdio, constructors, the auxiliary vector): 1.3 KB
// of code. `main` never returns: it ends with exit_group. (The unit tests' harness needs the C
// runtime: there the entry goes on to it.)
#[cfg(not(test))]
core::arch::global_asm!(
    ".globl sandbox_start",
    "sandbox_start:",
    "xor ebp, ebp",
    "mov edi, [rsp]",
    "lea rsi, [rsp + 8]",
    "lea rdx, [rsi + rdi * 8 + 8]",
    "call {main}",
    "ud2",
    main = sym main,
);
#[cfg(test)]
core::arch::global_asm!(".globl sandbox_start", "sandbox_start:", "jmp _start");

#[cfg(not(test))]
#[no_mangle]
#[allow(clippy::not_unsafe_ptr_arg_deref)] // called by the entry: its pointers are the process's own
pub extern "C" fn main(argc: i32, argv: *const *const u8, envp: *const *const u8) -> i32 {
    // SAFETY: the entry passes the process's own argv (argc entries, NULL-terminated) and
    // environment, which live until the process exits.
    let (args, env) = unsafe { (Args::new(argc, argv), Env::new(envp)) };
    open_stdio();
    // Called as `sandbox-oci`: the OCI runtime (oci/), off the CLI's path.
    if args.len() > 0 && args.get(0).to_bytes().rsplit(|&c| c == b'/').next() == Some(oci::NAME) {
        sys::exit(oci::main(args, env))
    }
    sys::exit(run(args, env))
}

/// Fds 0, 1 and 2 open, /dev/null where one is closed: else the first files sandbox opens (the
/// state directory, PID 1's report socket) would take their numbers, and the command would be
/// given them as its stdio (a script's `#!/proc/self/fd/0/..` is looked up before close-on-exec
/// closes them). The command gets them closed again (exec::CLOSED). Without /dev/null only the
/// machine's init goes on (it opens the console on them).
#[cfg(not(test))]
fn open_stdio() {
    for fd in 0..3 {
        if !sys::fd_open(sys::Fd(fd)) {
            exec::CLOSED.fetch_or(1 << fd, core::sync::atomic::Ordering::Relaxed);
            // Close-on-exec: the sealed copy's execve (exe.rs) finds it closed, as given.
            let null = sys::openat(sys::AT_FDCWD, c"/dev/null", libc::O_RDWR | libc::O_CLOEXEC, 0);
            // The lowest free number: `fd` itself, the lower ones being open.
            if null.map_or(true, |n| n.0 != fd) && sys::getpid() != 1 {
                sys::exit(EXIT_SANDBOX);
            }
        }
    }
}

fn run(args: Args, env: Env) -> i32 {
    let mut t = Timings::start();
    // PID 1 of a machine sets it up first and, whatever happens, powers it off at the end.
    let machine = machine::is_machine_init();
    // A sandbox is made, or entered (--join), only by a sealed copy of the binary, which nothing
    // inside can change: a process of sandbox in the sandbox's PID namespace is reachable there
    // through /proc/PID/exe.
    let parsed = cli::parse(&args);
    let enters = match &parsed {
        Ok(Parsed::Run(cfg)) => cfg.nlowers > 0,
        Ok(Parsed::Named(n)) => n.mode == cli::Mode::Join,
        _ => false,
    };
    if enters {
        if let Err((fd, errno)) = exec::stdio_fit() {
            error::Error::new(error::Step::Stdio, fd, errno).print();
            return EXIT_SANDBOX;
        }
        if let Err(e) = exe::run_sealed(&args, &env) {
            e.print();
            if !machine {
                return EXIT_SANDBOX;
            }
        }
    }
    if machine {
        machine::prepare();
    }
    let status = main_job(&parsed, args, env, &mut t);
    if machine {
        machine::power_off(status);
    }
    status
}

fn main_job(parsed: &Result<Parsed, error::Error<'static>>, args: Args, env: Env, t: &mut Timings) -> i32 {
    let cfg = match parsed {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Named(n)) => {
            return match n.mode {
                cli::Mode::List => manage::list(n, &env),
                cli::Mode::Remove => manage::remove(n, &env),
                cli::Mode::Stop => manage::stop(n, &env),
                cli::Mode::Join => join::run(n, args, env),
            };
        }
        Ok(Parsed::Help) => {
            let mut b = out::Buf::<4096>::new();
            error::push_text(&mut b, error::HELP);
            let _ = sys::write_all(sys::Fd(1), b.bytes());
            return 0;
        }
        Ok(Parsed::Version) => {
            let _ = sys::write_all(sys::Fd(1), concat!("sandbox ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
            return 0;
        }
        Err(e) => {
            e.print();
            return EXIT_SANDBOX;
        }
    };
    t.on = cfg.timings;
    // A capability named in --cap-add that sandbox itself lacks cannot be given: said now,
    // before anything is made. (The default set and `all` come down to what it has: caps::limit.)
    let missing = caps::missing(cfg.caps_named);
    if missing != 0 {
        let first = missing.trailing_zeros() as usize;
        error::Error::new(error::Step::CapMissing, caps::name(first), sys::Errno::EPERM).print();
        return EXIT_SANDBOX;
    }
    let status = if cfg.nlowers > 0 {
        launch::run(cfg, args, env, t)
    } else {
        init_only(cfg, args, env, t)
    };
    t.print();
    status
}

/// Without --lower: only the init duties, in the caller's namespaces (a container's entrypoint,
/// like tini). When not PID 1, become a child subreaper so that orphans still come here.
#[inline(never)]
fn init_only(cfg: &cli::Config, args: Args, env: Env, t: &mut Timings) -> i32 {
    match serve_here(cfg, args, env, t) {
        Ok(status) => status,
        Err(e) => {
            error::Error::new(error::Step::Fork, b"", e).print();
            EXIT_SANDBOX
        }
    }
}

fn serve_here(cfg: &cli::Config, args: Args, env: Env, t: &mut Timings) -> Result<i32, sys::Errno> {
    if sys::getpid() != 1 {
        let _ = sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    }
    let mut tty = tty::Tty::claim();
    let mask = sys::sigprocmask(libc::SIG_BLOCK, init::ALL).unwrap_or(sys::SigSet(0));
    let (ours, theirs) = report::channel()?;
    let path = env.get(b"PATH").map_or(&b"/usr/local/bin:/usr/bin:/bin"[..], |p| p.to_bytes());
    let command = init::Command { own_group: false, take_tty: tty.take, mask, umask: None, exec: &|| exec::exec(error::Step::ExecHere, args, cfg.command, env.raw(), path, theirs) };
    let pid = init::start(&command)?;
    sys::close(theirs);
    let mut buf = [0u8; report::MAX];
    let mut ran = true;
    while let Some(m) = report::recv(ours, &mut buf) {
        if let report::Msg::Failed(e) = m {
            e.print();
            ran = false;
        }
    }
    sys::close(ours);
    if ran {
        t.mark(b"exec");
    }
    let status = init::serve(pid, init::Job { tty: tty.take, stops: tty.take && sys::getpid() != 1, outer: sys::Fd(-1), pty: sys::Fd(-1) });
    t.mark(b"exit");
    tty.restore();
    Ok(status)
}
