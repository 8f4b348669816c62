//! Shared helpers of the integration tests: run the real binary (in a process group that dies
//! with the test), wait for events with a limit only a hang reaches, a unique
//! temporary state directory per test, and the checks made after every test (the host's mount
//! table is as before, the state directory is empty).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sandbox");
pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
pub const IMAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs/busybox");
/// The limit of every wait of the tests: for a run to end, for a file, a line or a process
/// state to appear. Only a real hang reaches it; a busy machine takes seconds for what takes
/// milliseconds on an idle one, so no test waits less.
pub const TIMEOUT: Duration = Duration::from_secs(300);

pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGTERM: i32 = 15;

const PR_SET_PDEATHSIG: i32 = 1;

extern "C" {
    fn geteuid() -> u32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
}

/// The OCI runtime: the link named sandbox-oci beside the built binary (`just build` makes it;
/// made here if missing, by a rename, so that tests making it at once do not race).
pub fn sandbox_oci() -> PathBuf {
    let link = Path::new(BIN).with_file_name("sandbox-oci");
    if fs::read_link(&link).ok().as_deref() != Some(Path::new("sandbox")) {
        let tmp = link.with_extension(format!("tmp{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink("sandbox", &tmp).unwrap();
        fs::rename(&tmp, &link).unwrap();
    }
    link
}

/// A test that cannot run here: say why and return false (the test returns early); under
/// CI=true a skip is a failure, so panic instead.
pub fn skip(why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}, and CI=true does not allow a skip");
    }
    eprintln!("skipped: {why}");
    false
}

/// Whether the tests that need namespaces can run. Not root: say why and return false (the test
/// returns early). Under CI=true a skip is a failure: panic instead.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { geteuid() } == 0 {
        return true;
    }
    skip("this test needs root (namespaces, mounts)")
}

/// Send `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory preconditions.
    let r = unsafe { kill(pid as i32, sig) };
    assert_eq!(r, 0, "kill({pid}, {sig}) failed: {}", std::io::Error::last_os_error());
}

/// What a run of the binary gave: its exit status (128+N if killed by signal N) and output.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The tuple form: (status code, stdout, stderr).
    pub fn tuple(&self) -> (i32, &str, &str) {
        (self.code, &self.stdout, &self.stderr)
    }
    /// Assert a status, showing the whole output when it differs.
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit status; output: {self:#?}");
        self
    }
}

fn code_of(s: ExitStatus) -> i32 {
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    r.map(|mut r| {
        thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    })
}

/// A command as shown in a failure: its Debug form, cut at 600 characters.
fn shown(cmd: &Command) -> String {
    let what = format!("{cmd:?}");
    if what.len() > 600 {
        format!("{}...", what.chars().take(600).collect::<String>())
    } else {
        what
    }
}

/// A process the test started, with everything it started in turn: the child leads a process
/// group of its own, and gets SIGKILL when the test's thread ends (PR_SET_PDEATHSIG), even if
/// the test harness itself is killed. Dropped while it runs (a test that failed half way), the
/// group is killed and the child reaped. Piped output is read on threads, so it never blocks on
/// a full pipe.
pub struct Running {
    child: Child,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
    /// The write end of a held stdin (`spawn_held`), closed by `release`.
    hold: Option<ChildStdin>,
    done: bool,
    what: String,
}

/// Make `cmd`'s process the leader of a process group of its own (what it starts stays in that
/// group, for `kill_group`), and have it killed when the thread that starts it ends.
pub fn contain(cmd: &mut Command) {
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if prctl(PR_SET_PDEATHSIG, SIGKILL as u64, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Kill the process group of a `contain`ed child that is not reaped yet (until then its pid is
/// still the group's), then reap it.
pub fn kill_group(child: &mut Child) {
    // SAFETY: kill has no memory preconditions.
    unsafe { kill(-(child.id() as i32), SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

/// Start `cmd` with its stdio as the caller set it, in a process group of its own. A piped
/// stdout or stderr is read on a thread. A piped stdin gets `input` (then end of file), or, when
/// `input` is None, is held open until `release` (or the wait): a command that reads it blocks
/// until the test lets it go on.
pub fn start_cmd(mut cmd: Command, input: Option<Vec<u8>>) -> Running {
    let what = shown(&cmd);
    contain(&mut cmd);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut hold = None;
    if let Some(mut w) = child.stdin.take() {
        match input {
            // A writer thread: the command may not read its input at all.
            Some(data) => {
                thread::spawn(move || {
                    let _ = w.write_all(&data);
                });
            }
            None => hold = Some(w),
        }
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    Running { child, out, err, hold, done: false, what }
}

/// Start `cmd` with `stdin` as its input, stdout and stderr captured.
pub fn spawn(mut cmd: Command, stdin: &[u8]) -> Running {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    start_cmd(cmd, Some(stdin.to_vec()))
}

/// Start `cmd` with stdout and stderr captured and its stdin a pipe the test holds open: a
/// command that reads stdin (`read _`, `cat`) blocks there until `release`.
pub fn spawn_held(mut cmd: Command) -> Running {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    start_cmd(cmd, None)
}

impl Running {
    /// The outer sandbox process's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        !self.done && self.child.try_wait().expect("try_wait").is_none()
    }

    pub fn signal(&self, sig: i32) {
        signal(self.pid(), sig);
    }

    /// Close the held stdin: the command reads end of file and goes on.
    pub fn release(&mut self) {
        self.hold = None;
    }

    fn kill_group(&mut self) {
        kill_group(&mut self.child);
        self.done = true;
    }

    fn output(&mut self) -> (Vec<u8>, Vec<u8>) {
        let so = self.out.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        let se = self.err.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        (so, se)
    }

    /// Wait for the end (a held stdin is released first): its status, stdout and stderr. The
    /// limit is `timeout` but never less than TIMEOUT; past it the process group is killed and
    /// the test fails, showing what it printed.
    pub fn wait_raw(mut self, timeout: Duration) -> (ExitStatus, Vec<u8>, Vec<u8>) {
        self.release();
        let limit = timeout.max(TIMEOUT);
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                self.kill_group();
                let (so, se) = self.output();
                panic!(
                    "did not end within {limit:?} (its process group was killed): {}\nstdout: {}\nstderr: {}",
                    self.what,
                    String::from_utf8_lossy(&so),
                    String::from_utf8_lossy(&se)
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        self.done = true;
        let (so, se) = self.output();
        (status, so, se)
    }

    /// `wait_raw` as an `Out`.
    pub fn wait_for(self, timeout: Duration) -> Out {
        let (status, so, se) = self.wait_raw(timeout);
        Out {
            code: code_of(status),
            stdout: String::from_utf8_lossy(&so).into_owned(),
            stderr: String::from_utf8_lossy(&se).into_owned(),
        }
    }

    pub fn wait(self) -> Out {
        self.wait_for(TIMEOUT)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            self.kill_group();
        }
    }
}

/// Run `cmd` with `stdin` to its end: (status, stdout, stderr) in an `Out`.
pub fn run_cmd(cmd: Command, stdin: &[u8]) -> Out {
    spawn(cmd, stdin).wait()
}

/// A command for the binary, with an environment free of what would change its behaviour here.
pub fn sandbox_cmd() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("SANDBOX_STATE_DIR");
    c
}

/// Run the binary with `args` and `stdin`, with the default timeout.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &[u8]) -> Out {
    let mut c = sandbox_cmd();
    c.args(args);
    run_cmd(c, stdin)
}

/// The host's mount table: /proc/self/mountinfo without the mount and parent ids (which say
/// nothing about what is mounted), sorted.
pub fn mount_snapshot() -> Vec<String> {
    let s = fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let mut v: Vec<String> = s
        .lines()
        .map(|l| l.split(' ').skip(2).collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

/// Whether a change of the host's mount table can be sandbox's doing: a mount of a file system
/// type sandbox mounts, a mount at or under a place it mounts on (/, /proc, /dev, /sys, /tmp, a
/// test's directory, the image), or a bind of a test's directory. Other changes are made by other
/// programs on a shared machine (a benchmark pinning a namespace at /run/...): reported, ignored.
fn could_be_ours(entry: &str) -> bool {
    let w: Vec<&str> = entry.split(' ').collect();
    let (root, mp) = (w.get(1).copied().unwrap_or(""), w.get(2).copied().unwrap_or(""));
    let fstype = w.iter().position(|&x| x == "-").and_then(|i| w.get(i + 1)).copied().unwrap_or("");
    let ours = |p: &str| {
        p.starts_with("/tmp/sandbox-test-") || p.starts_with(MANIFEST_DIR) || p.starts_with("/run/sandbox")
    };
    matches!(fstype, "overlay" | "proc" | "sysfs" | "devpts" | "tmpfs" | "mqueue" | "cgroup" | "cgroup2")
        || ["/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/sys", "/tmp"].contains(&mp)
        || ours(mp)
        || ours(root)
}

/// The host's mount table is as in `before`: nothing sandbox could have mounted was added or
/// removed.
pub fn assert_mounts_unchanged(before: &[String]) {
    let after = mount_snapshot();
    if after == before {
        return;
    }
    let b: BTreeSet<&String> = before.iter().collect();
    let a: BTreeSet<&String> = after.iter().collect();
    let added: Vec<&String> = a.difference(&b).copied().collect();
    let removed: Vec<&String> = b.difference(&a).copied().collect();
    let (added_ours, added_other): (Vec<&String>, Vec<&String>) = added.into_iter().partition(|e| could_be_ours(e));
    let (removed_ours, removed_other): (Vec<&String>, Vec<&String>) =
        removed.into_iter().partition(|e| could_be_ours(e));
    if !added_other.is_empty() || !removed_other.is_empty() {
        eprintln!(
            "note: the host's mount table changed by another program (ignored): added {added_other:?}, removed {removed_other:?}"
        );
    }
    assert!(
        added_ours.is_empty() && removed_ours.is_empty(),
        "the host's mount table changed\nadded: {added_ours:#?}\nremoved: {removed_ours:#?}"
    );
}

/// Every path under `dir` (relative, sorted), with a `/` after directories; symlinks not followed.
pub fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                out.push(rel + "/");
                walk(base, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

pub fn assert_dir_empty(dir: &Path) {
    let l = listing(dir);
    assert!(dir.is_dir(), "{} is not a directory", dir.display());
    assert!(l.is_empty(), "{} is not empty: {l:#?}", dir.display());
}

/// Poll `pred` every 10 ms until it holds or the limit passes; whether it held. The limit is
/// `timeout` but never less than TIMEOUT: what a test waits for comes in its time on a busy
/// machine, and only a hang should reach the limit.
pub fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout.max(TIMEOUT);
    loop {
        if pred() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Wait until `pred` holds; fail the test, naming `what` it waited for, if it does not within
/// TIMEOUT.
pub fn wait_for_event(what: &str, pred: impl FnMut() -> bool) {
    assert!(wait_until(TIMEOUT, pred), "waited {TIMEOUT:?} in vain for {what}");
}

/// Pids of the host's processes with an argument exactly equal to `arg`.
pub fn procs_with_arg(arg: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else { continue };
        if cmdline.split(|&b| b == 0).any(|a| a == arg.as_bytes()) {
            v.push(pid);
        }
    }
    v
}

/// Shell functions for the orphan tests (no double quote: they go on a VM's kernel command line
/// too). `orphans N P`: N subshells each leave a long sleep behind; the function returns once N
/// sleeps have parent P (they were adopted). `gone P`: kill the sleeps of parent P, then return
/// once none is left in /proc at all (one that is never reaped stays there as a zombie; after
/// 20000 looks the function gives up, for the caller's dump to show it).
pub const ORPHANS: &str = "sleeps() { for s in /proc/[0-9]*/stat; do read -r p c st pp rest < $s || continue; \
    [ $c = '(sleep)' ] && [ $pp = $1 ] && echo $p; done 2>/dev/null; }; \
    orphans() { for i in $(seq $1); do (sleep 1000 &); done; \
    while [ $(sleeps $2 | wc -l) -lt $1 ]; do sleep 0.01; done; }; \
    gone() { kill $(sleeps $1); i=0; while [ $(sleeps $1 | wc -l) -gt 0 ] && [ $i -lt 20000 ]; do i=$((i+1)); sleep 0.01; done; }";

/// One line of /proc/PID/stat: (pid, comm, state, ppid).
pub fn parse_stat(line: &str) -> Option<(u32, String, char, u32)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let pid = line[..open].trim().parse().ok()?;
    let comm = line[open + 1..close].to_string();
    let mut rest = line[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((pid, comm, state, ppid))
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A test's own temporary directory with its own state directory, and the host's mount table
/// when it started. `finish` checks what must hold after every test and removes the directory;
/// dropping it without `finish` (a failed test) only removes the directory.
pub struct Fixture {
    pub dir: PathBuf,
    pub state: PathBuf,
    pub tag: String,
    mounts: Vec<String>,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        Fixture::with_state(tag, "state")
    }

    /// The state directory is `<dir>/<state_name>` (created, empty).
    pub fn with_state(tag: &str, state_name: &str) -> Fixture {
        let mounts = mount_snapshot();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!("/tmp/sandbox-test-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let state = dir.join(state_name);
        fs::create_dir(&state).unwrap();
        Fixture { dir, state, tag: tag.to_string(), mounts }
    }

    /// A sandbox name unique to this test.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.tag)
    }

    /// `<state>/<name>`.
    pub fn layer(&self, name: &str) -> PathBuf {
        self.state.join(name)
    }

    /// `<state>/<name>/upper`.
    pub fn upper(&self, name: &str) -> PathBuf {
        self.layer(name).join("upper")
    }

    /// Arguments for a sandbox on the busybox image: lower, name, state dir, then `opts`, `--`
    /// and the command.
    pub fn args(&self, name: &str, opts: &[&str], command: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--lower".into(),
            IMAGE.into(),
            "--name".into(),
            name.into(),
            "--state-dir".into(),
            self.state.to_string_lossy().into_owned(),
        ];
        v.extend(opts.iter().map(|s| s.to_string()));
        v.push("--".into());
        v.extend(command.iter().map(|s| s.to_string()));
        v
    }

    /// The command of `args`, not started.
    pub fn cmd(&self, name: &str, opts: &[&str], command: &[&str]) -> Command {
        let mut c = sandbox_cmd();
        c.args(self.args(name, opts, command));
        c
    }

    /// Run a sandbox on the busybox image to its end.
    pub fn run(&self, name: &str, opts: &[&str], command: &[&str]) -> Out {
        run_cmd(self.cmd(name, opts, command), b"")
    }

    /// Start a sandbox on the busybox image in the background.
    pub fn start(&self, name: &str, opts: &[&str], command: &[&str]) -> Running {
        spawn(self.cmd(name, opts, command), b"")
    }

    /// A file or directory under the test's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// What must hold after every test: the host's mount table is as it was, and the state
    /// directory is empty. Then remove the test's directory.
    pub fn finish(self) {
        assert_mounts_unchanged(&self.mounts);
        assert_dir_empty(&self.state);
        // Drop removes the directory.
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The probe, built once with the C compiler, static (the image has no C library).
pub fn probe() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("probe-{}", std::process::id()));
        let st = Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(format!("{MANIFEST_DIR}/tests/helpers/probe.c"))
            .status()
            .expect("cc (gcc) is needed to build the probe");
        assert!(st.success(), "building the probe failed");
        out
    })
}
