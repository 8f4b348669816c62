//! The ways out of a sandbox that an attack found, each carried out for real, as root and
//! rootless (uid 65534 through setpriv), on a copy of the binary and on decoy directories:
//! the host binary changed through /proc/PID/exe (CVE-2019-5736), a working directory on the
//! host's tree through /proc/self/cwd (CVE-2024-21626), and the caller's processes killed
//! through a shared process group. Then every signal sent to sandbox reaches the command.

mod common;

use common::*;
use std::fs;
use std::os::fd::FromRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const NOBODY: u32 = 65534;
const O_PATH: i32 = 0o10000000;

extern "C" {
    fn open(path: *const std::ffi::c_char, flags: i32, ...) -> i32;
    fn syscall(n: i64, ...) -> i64;
}

/// Who runs the sandbox: root, or uid 65534 with its own copy of the binary and image.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Who {
    Root,
    Rootless,
}

/// A test's fixture with its own copy of the binary and of the image (to make hostile), and a
/// state directory that the runner owns.
struct Setup {
    f: Fixture,
    who: Who,
    bin: PathBuf,
    image: PathBuf,
}

fn chown_r(p: &Path, uid: u32) {
    let st = Command::new("chown").args(["-hR", &format!("{uid}:{uid}")]).arg(p).status().unwrap();
    assert!(st.success());
}

impl Setup {
    fn new(tag: &str, who: Who) -> Setup {
        let f = Fixture::new(tag);
        fs::set_permissions(&f.dir, fs::Permissions::from_mode(0o755)).unwrap();
        let bin = f.path("sandbox-copy");
        fs::copy(BIN, &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let image = f.path("image");
        let st = Command::new("cp").arg("-a").arg(IMAGE).arg(&image).status().unwrap();
        assert!(st.success());
        if who == Who::Rootless {
            chown_r(&image, NOBODY);
            chown_r(&f.state, NOBODY);
            chown_r(&bin, NOBODY);
        }
        Setup { f, who, bin, image }
    }

    fn command(&self) -> Command {
        let mut c = match self.who {
            Who::Root => Command::new(&self.bin),
            Who::Rootless => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]).arg(&self.bin);
                c.env_remove("XDG_RUNTIME_DIR");
                c
            }
        };
        c.current_dir("/");
        c
    }

    fn cmd(&self, name: &str, opts: &[&str], command: &[&str]) -> Command {
        let mut c = self.command();
        c.arg("--lower").arg(&self.image).args(["--name", name, "--state-dir"]).arg(&self.f.state).args(opts).arg("--").args(command);
        c
    }

    fn run(&self, name: &str, opts: &[&str], command: &[&str]) -> Out {
        run_cmd(self.cmd(name, opts, command), b"")
    }

    /// Write an executable file into the image.
    fn plant(&self, path: &str, text: &str) {
        let p = self.image.join(path.trim_start_matches('/'));
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        if self.who == Who::Rootless {
            chown_r(&p, NOBODY);
        }
    }
}

fn both(test: impl Fn(Who)) {
    if !require_root() {
        return;
    }
    test(Who::Root);
    test(Who::Rootless);
}

// ---- the host binary through /proc/PID/exe ----------------------------------------------------

/// A program of the image that tries to change the binary its parent runs: chmod 4755 (a
/// write gets ETXTBSY on a running binary, a chmod does not) and an append.
const EVIL: &str = "#!/bin/sh
exe=/proc/$PPID/exe
echo \"parent-exe=$(readlink $exe)\"
chmod 4755 $exe 2>/dev/null && echo chmod-done
(echo appended >> $exe) 2>/dev/null && echo write-done
chmod 4755 /proc/1/exe 2>/dev/null && echo chmod-pid1-done
exit 0
";

fn host_binary_cannot_be_changed(who: Who) {
    let s = Setup::new(&format!("esc-exe-{who:?}"), who);
    let before = fs::read(&s.bin).unwrap();
    let mode = fs::metadata(&s.bin).unwrap().mode();
    s.plant("/bin/evil", EVIL);
    // The image's command is a script whose interpreter is /proc/self/exe: the kernel runs the
    // exe of the process that execs it, inside the sandbox, with /bin/evil as its command.
    s.plant("/bin/hostile", "#!/proc/self/exe /bin/evil\n");
    let check = |out: &Out, how: &str| {
        let meta = fs::metadata(&s.bin).unwrap();
        assert_eq!(meta.mode(), mode, "{who:?} {how}: the host binary's mode changed: {out:?}");
        assert_eq!(meta.mode() & 0o6000, 0, "{who:?} {how}: setuid on the host binary");
        assert!(fs::read(&s.bin).unwrap() == before, "{who:?} {how}: the host binary's contents changed");
        // Landlock (where the kernel has it) refuses the execve of sandbox's sealed copy, which
        // is not beneath the sandbox's root: 126. Else what the attack reached: as root the
        // binary in a read-only mount of its own (the chmod fails), rootless sandbox's sealed
        // copy in memory (a chmod there changes nothing of the host).
        if out.code == 126 && out.stderr.contains("Permission denied") {
            return;
        }
        assert_eq!(out.code, 0, "{who:?} {how}: {out:?}");
        match who {
            Who::Root => assert!(!out.stdout.contains("chmod-done"), "{who:?} {how}: {out:?}"),
            Who::Rootless => assert!(out.stdout.contains("parent-exe=/memfd:sandbox"), "{who:?} {how}: {out:?}"),
        }
        assert!(!out.stdout.contains("write-done"), "{who:?} {how}: {out:?}");
        assert!(!out.stdout.contains("chmod-pid1-done"), "{who:?} {how}: {out:?}");
    };
    let out = s.run(&s.f.name("a"), &[], &["/bin/hostile"]);
    check(&out, "script");
    // The command /proc/self/exe itself.
    let out = s.run(&s.f.name("b"), &[], &["/proc/self/exe", "/bin/evil"]);
    check(&out, "direct");
    // A kept layer that an earlier command made hostile: a later run's /bin/true is the script.
    let c = s.f.name("c");
    s.run(&c, &["--keep"], &["sh", "-c", "rm /bin/true; printf '#!/proc/self/exe /bin/evil\\n' > /bin/true; chmod 755 /bin/true"]).expect(0);
    let out = s.run(&c, &[], &["/bin/true"]);
    check(&out, "kept layer");
    // A command refused at its execve (Landlock) loses no layer: the kept one is discarded here.
    let mut r = s.command();
    r.args(["--remove", &c, "--state-dir"]).arg(&s.f.state);
    let removed = run_cmd(r, b"");
    assert!(!s.f.state.join(&c).exists(), "{who:?}: {removed:?}");
    // A command joined to a running sandbox (--join): its process is sandbox's until it execs,
    // in the sandbox's PID namespace, and its command is the image's.
    let j = s.f.name("j");
    let mut held = spawn_held(s.cmd(&j, &[], &["sh", "-c", "read x; exit 0"]));
    let join = |command: &[&str]| {
        let mut c = s.command();
        c.arg("--state-dir").arg(&s.f.state).args(["--join", &j, "--"]).args(command);
        run_cmd(c, b"")
    };
    assert!(wait_until(TIMEOUT, || held.running() && join(&["true"]).code == 0), "{who:?}: the sandbox to join never ran");
    for (how, command) in [("join script", &["/bin/hostile"][..]), ("join direct", &["/proc/self/exe", "/bin/evil"][..])] {
        let out = join(command);
        check(&out, how);
    }
    held.release();
    held.wait().expect(0);
    s.f.finish();
}

#[test]
fn the_host_binary_cannot_be_changed_from_inside() {
    both(host_binary_cannot_be_changed);
}

/// Rootless, with a binary of root's (the usual install): it is run as it is, and nothing of
/// the sandbox can change it either.
#[test]
fn a_binary_of_roots_cannot_be_changed_from_a_rootless_sandbox() {
    if !require_root() {
        return;
    }
    let s = Setup::new("esc-exe-rootowned", Who::Rootless);
    chown_r(&s.bin, 0);
    fs::set_permissions(&s.bin, fs::Permissions::from_mode(0o755)).unwrap();
    let before = fs::read(&s.bin).unwrap();
    s.plant("/bin/evil", EVIL);
    s.plant("/bin/hostile", "#!/proc/self/exe /bin/evil\n");
    for (name, command) in [("a", "/bin/hostile"), ("b", "/proc/self/exe")] {
        let cmd: Vec<&str> = if command == "/bin/hostile" { vec![command] } else { vec![command, "/bin/evil"] };
        let out = s.run(&s.f.name(name), &[], &cmd);
        // Refused by Landlock (the sealed copy is not beneath the root), or run and harmless.
        if !(out.code == 126 && out.stderr.contains("Permission denied")) {
            out.expect(0);
            assert!(out.stdout.contains("parent-exe="), "{out:?}");
            assert!(!out.stdout.contains("chmod-done") && !out.stdout.contains("write-done"), "{out:?}");
        }
        let meta = fs::metadata(&s.bin).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o755);
        assert_eq!(meta.uid(), 0);
        assert!(fs::read(&s.bin).unwrap() == before, "the binary's contents changed");
    }
    s.f.finish();
}

/// A script whose interpreter is reached through a descriptor the command's process might
/// hold when it execs (the kernel looks the interpreter up before it closes close-on-exec
/// descriptors): `#!/proc/self/fd/N/../../..<decoy>`, for every N a sandbox could use. The
/// decoy, a copy of busybox on the host, would then run and rewrite itself through
/// /proc/self/exe.
fn no_descriptor_of_the_host_reaches_execve(who: Who) {
    let s = Setup::new(&format!("esc-fd-{who:?}"), who);
    let decoy = s.f.path("decoy");
    fs::create_dir(&decoy).unwrap();
    fs::copy(s.image.join("bin/busybox"), decoy.join("sh")).unwrap();
    if who == Who::Rootless {
        chown_r(&decoy, NOBODY);
    }
    let before = fs::read(decoy.join("sh")).unwrap();
    let up = "/..".repeat(30);
    let fds = 0..=20;
    for n in fds.clone() {
        let script = format!(
            "#!/proc/self/fd/{n}{up}{}/sh\nexec 5</proc/self/exe\nexec /bin/busybox sh -c 'printf \"#!/bin/sh\\necho PWNED\\n\" > /proc/self/fd/5'\n",
            decoy.display()
        );
        s.plant(&format!("/bin/pwn{n}"), &script);
    }
    let intact = |how: &str| {
        assert!(fs::read(decoy.join("sh")).unwrap() == before, "{who:?} {how}: the host's file was rewritten");
    };
    for n in fds.clone() {
        let out = s.run(&s.f.name("a"), &[], &[&format!("/bin/pwn{n}")]);
        intact(&format!("fd {n}"));
        assert_ne!(out.code, 0, "{who:?} fd {n}: {out:?}");
    }
    // Started with stdin, stdout or stderr closed: the files sandbox opens first (the state
    // directory, PID 1's report socket) must not take those numbers and go in as stdio.
    for close in ["0<&-", "1>&-", "2>&-", "0<&- 1>&- 2>&-"] {
        for n in 0..=2 {
            let out = with_closed(&s, close, &s.f.name("c"), &[&format!("/bin/pwn{n}")]);
            intact(&format!("{close}, fd {n}"));
            assert_ne!(out.code, 0, "{who:?} {close} fd {n}: {out:?}");
        }
    }
    // From a terminal (script(1) gives sandbox one), where the sandbox has a terminal of its own.
    for n in 3..=8 {
        let mut line = format!("{} --lower {} --name {} --state-dir {} -- /bin/pwn{n}", s.bin.display(), s.image.display(), s.f.name("t"), s.f.state.display());
        if who == Who::Rootless {
            line = format!("setpriv --reuid 65534 --regid 65534 --clear-groups -- {line}");
        }
        let mut c = Command::new("script");
        c.args(["-qec", &line, "/dev/null"]);
        run_cmd(c, b"");
        intact(&format!("terminal, fd {n}"));
    }
    // A kept layer that an earlier run made hostile.
    let k = s.f.name("k");
    s.run(&k, &["--keep"], &["sh", "-c", "for n in 3 4 5 6 7 8; do cp /bin/pwn$n /usr/bin/p$n; done"]).expect(0);
    for n in 3..=8 {
        s.run(&k, &["--keep"], &[&format!("/usr/bin/p{n}")]);
        intact(&format!("kept layer, fd {n}"));
    }
    s.run(&k, &[], &["true"]).expect(0);
    s.f.finish();
}

#[test]
fn no_descriptor_of_the_host_reaches_the_commands_execve() {
    both(no_descriptor_of_the_host_reaches_execve);
}

/// `s`'s sandbox running `command`, started by a shell that applies `redirect` (`0<&-`,
/// `0</dir`, ...) to it.
fn with_closed(s: &Setup, redirect: &str, name: &str, command: &[&str]) -> Out {
    let c = s.cmd(name, &[], command);
    let mut w = Command::new("sh");
    w.arg("-c").arg(format!("exec \"$0\" \"$@\" {redirect}")).arg(c.get_program()).args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    w.current_dir("/");
    run_cmd(w, b"")
}

/// A directory of the host as stdin, stdout or stderr (`< /`), or an O_PATH descriptor: the
/// command would reach the host's files through /proc/self/fd/N/. Refused with 125 before
/// anything is made.
fn a_host_directory_is_not_stdio(who: Who) {
    let s = Setup::new(&format!("esc-stdio-{who:?}"), who);
    let host = s.f.path("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("victim"), "precious\n").unwrap();
    if who == Who::Rootless {
        chown_r(&host, NOBODY);
    }
    let attack = "for n in 0 1 2; do echo pwned > /proc/self/fd/$n/victim; echo pwned > /proc/self/fd/$n/new$n; done; true";
    let untouched = |how: &str| {
        assert_eq!(fs::read_to_string(host.join("victim")).unwrap(), "precious\n", "{who:?} {how}: the host's file was written");
        let names: Vec<_> = fs::read_dir(&host).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{who:?} {how}: files made on the host: {names:?}");
    };
    for n in 0..=2 {
        let out = with_closed(&s, &format!("{n}<{}", host.display()), &s.f.name("d"), &["sh", "-c", attack]);
        untouched(&format!("fd {n}"));
        assert_eq!(out.code, 125, "{who:?} fd {n}: {out:?}");
        if n != 2 {
            assert_eq!(out.stderr, format!("sandbox: standard input, output or error: fd {n}: Is a directory (a directory or O_PATH descriptor would give the command the host's files: give a file, pipe, socket or terminal)\n"));
        }
    }
    // O_PATH, of the directory and of the file.
    for target in [host.clone(), host.join("victim")] {
        let path = std::ffi::CString::new(target.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: path is a live C string; the fd returned is owned by `f` alone.
        let f = unsafe {
            let fd = open(path.as_ptr(), O_PATH);
            assert!(fd >= 0, "open O_PATH {}", target.display());
            std::os::fd::OwnedFd::from_raw_fd(fd)
        };
        let mut c = s.cmd(&s.f.name("p"), &[], &["sh", "-c", attack]);
        c.stdin(std::process::Stdio::from(f));
        c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let out = start_cmd(c, None).wait();
        untouched(&format!("O_PATH {}", target.display()));
        assert_eq!(out.code, 125, "{who:?} O_PATH {}: {out:?}", target.display());
        assert!(out.stderr.starts_with("sandbox: standard input, output or error: fd 0: "), "{out:?}");
    }
    s.f.finish();
}

#[test]
fn a_host_directory_is_never_the_commands_stdio() {
    both(a_host_directory_is_not_stdio);
}

/// A file of the host given as stdio (`< file`) is the command's with the access the caller
/// opened it with, not more: reopened through /proc/self/fd/0 for writing it would be a way to
/// change the host's files (root inside is the owner, or has DAC_OVERRIDE). Reading it again,
/// and writing `/dev/stdout` when stdout is a file, still work.
fn a_stdio_file_is_not_reopened_for_more(who: Who) {
    let s = Setup::new(&format!("esc-reopen-{who:?}"), who);
    let victim = s.f.path("victim");
    fs::write(&victim, "precious\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    if who == Who::Rootless {
        chown_r(&victim, NOBODY);
    }
    let out = with_closed(&s, &format!("< {}", victim.display()), &s.f.name("r"), &["sh", "-c", "echo pwned > /proc/self/fd/0; echo pwned >> /dev/stdin; cat /proc/self/fd/0"]);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n", "{who:?}: the host's file was written: {out:?}");
    assert_eq!(out.stdout, "precious\n", "{who:?}: {out:?}");
    // A file of the image itself, with --read-only on that one image: the root must not be the
    // host's directory (its inodes), or the file would be beneath the root for the fence.
    let inside = s.image.join("victim");
    fs::write(&inside, "precious\n").unwrap();
    if who == Who::Rootless {
        chown_r(&inside, NOBODY);
    }
    let mut c = s.cmd(&s.f.name("ro"), &["--read-only"], &["sh", "-c", "echo pwned > /proc/self/fd/0; echo pwned >> /dev/stdin; cat /victim"]);
    c.stdin(fs::File::open(&inside).unwrap());
    c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let out = start_cmd(c, None).wait();
    assert_eq!(fs::read_to_string(&inside).unwrap(), "precious\n", "{who:?}: the image's file was written through a --read-only root: {out:?}");
    assert_eq!(out.stdout, "precious\n", "{who:?}: {out:?}");
    // A named FIFO as stdin is read again through /dev/stdin, as it was given.
    let fifo = s.f.path("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    if who == Who::Rootless {
        chown_r(&fifo, NOBODY);
    }
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            std::io::Write::write_all(&mut w, b"through the fifo\n").unwrap();
            let _ = wait.recv();
        })
    };
    let mut c = s.cmd(&s.f.name("fifo"), &[], &["sh", "-c", "head -n 1 /dev/stdin"]);
    c.stdin(fs::File::open(&fifo).unwrap());
    c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let out = start_cmd(c, None).wait();
    done.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(out.stdout, "through the fifo\n", "{who:?}: {out:?}");
    let log = s.f.path("log");
    fs::write(&log, "").unwrap();
    if who == Who::Rootless {
        chown_r(&log, NOBODY);
    }
    let out = with_closed(&s, &format!("> {}", log.display()), &s.f.name("w"), &["sh", "-c", "echo one > /dev/stdout; echo two >> /proc/self/fd/1; cat /dev/stdout"]);
    assert_eq!(fs::read_to_string(&log).unwrap(), "one\ntwo\n", "{who:?}: {out:?}");
    assert!(out.stderr.contains("/dev/stdout"), "{who:?}: stdout given for writing was read: {out:?}");
    s.f.finish();
}

#[test]
fn a_stdio_file_of_the_host_is_not_opened_again_for_more() {
    // SAFETY: landlock_create_ruleset with the version flag takes no pointer.
    if unsafe { syscall(444, 0usize, 0usize, 1u32) } < 1 && !skip("no Landlock in this kernel: stdio files are not fenced") {
        return;
    }
    both(a_stdio_file_is_not_reopened_for_more);
}

// ---- the record that --join and --stop act on ---------------------------------------------

/// A sandbox that reaches its own state directory (a bind that holds it) rewrites its record:
/// PID 1 named as the outer process (in the host's namespaces), every capability, a PATH on the
/// host's decoy. A --join by its owner must still go into the sandbox, as confined as the
/// command, and --stop reach only the sandbox.
fn a_forged_record_steers_no_join(who: Who) {
    let s = Setup::new(&format!("esc-rec-{who:?}"), who);
    let name = s.f.name("r");
    let evil = s.f.path("evil");
    fs::create_dir(&evil).unwrap();
    let marker = s.f.path("pwned");
    fs::write(evil.join("sh"), format!("#!/bin/sh\nid > {}\n", marker.display())).unwrap();
    fs::set_permissions(evil.join("sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let rec = format!("/mnt/state/{name}/record");
    let script = format!(
        "grep CapEff /proc/self/status > /capeff; r={rec}; while [ ! -e $r ]; do sleep 0.05; done; \
         o=$(tr '\\0' '\\n' < $r | sed -n 's/^outer=//p'); os=$(tr '\\0' '\\n' < $r | sed -n 's/^outerstart=//p'); \
         tr '\\0' '\\n' < $r | sed -e \"s/^pid=.*/pid=$o/\" -e \"s/^start=.*/start=$os/\" -e 's/^caps=.*/caps=1099511627775/' \
           -e 's#^env=PATH=.*#env=PATH={}:/bin#' | tr '\\n' '\\0' > $r.2 && chmod 600 $r.2 && mv $r.2 $r && grep -c {} $r > /forged; read _",
        evil.display(),
        evil.display()
    );
    let bind = format!("{}:/mnt", s.f.dir.display());
    let mut held = spawn_held(s.cmd(&name, &["--bind", &bind], &["sh", "-c", &script]));
    let upper = s.f.state.join(&name).join("upper");
    wait_for_event("the record to be forged", || fs::read_to_string(upper.join("forged")).is_ok_and(|c| c == "1\n"));
    let capeff = fs::read_to_string(upper.join("capeff")).unwrap();
    let mut c = s.command();
    c.args(["--join", &name, "--state-dir"]).arg(&s.f.state).args(["--", "sh", "-c", "readlink /proc/self/ns/mnt; grep CapEff /proc/self/status; echo $PATH"]);
    let out = run_cmd(c, b"");
    assert!(!marker.exists(), "{who:?}: the host's decoy ran: {out:?}");
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(out.code, 0, "{who:?}: {out:?}");
    assert_ne!(lines[0], host_mnt, "{who:?}: joined the host's mount namespace");
    assert_eq!(format!("{}\n", lines[1]), capeff, "{who:?}: not the command's capabilities");
    assert!(!lines[2].contains("evil"), "{who:?}: the forged PATH: {out:?}");
    // --stop reaches the sandbox: its command ends by the signal.
    let mut c = s.command();
    c.args(["--stop", &name, "--state-dir"]).arg(&s.f.state);
    run_cmd(c, b"").expect(0);
    wait_for_event("the sandbox to end", || !held.running());
    assert_eq!(held.wait().code, 128 + 15);
    s.f.finish();
}

#[test]
fn a_record_forged_from_inside_steers_no_join() {
    both(a_forged_record_steers_no_join);
}

// ---- the working directory ------------------------------------------------------------------

fn cwd_stays_inside(who: Who) {
    let s = Setup::new(&format!("esc-cwd-{who:?}"), who);
    // The caller's working directory: a decoy on the host, writable by the runner.
    let decoy = s.f.path("decoy/inner");
    fs::create_dir_all(&decoy).unwrap();
    if who == Who::Rootless {
        chown_r(&s.f.path("decoy"), NOBODY);
    }
    std::os::unix::fs::symlink("/proc/self/cwd", s.image.join("app")).unwrap();
    std::os::unix::fs::symlink("/tmp", s.image.join("work")).unwrap();
    let bind = s.f.path("bound");
    fs::create_dir(&bind).unwrap();
    let bind_opt = format!("{}:/mnt", bind.display());
    let attack = "touch here-was-cwd ../up-was-cwd; pwd";
    let refused = |out: &Out, how: &str| {
        assert!(!decoy.join("here-was-cwd").exists(), "{who:?} {how}: wrote in the host's directory: {out:?}");
        assert!(!s.f.path("decoy/up-was-cwd").exists(), "{who:?} {how}: climbed out: {out:?}");
        out.expect(125);
        assert_eq!(out.stderr.lines().count(), 1, "{who:?} {how}: {}", out.stderr);
        assert!(out.stderr.starts_with("sandbox: working directory: /app"), "{who:?} {how}: {}", out.stderr);
    };
    for (opts, how) in [(vec!["--cwd", "/app"], "image"), (vec!["--cwd", "/app", "--bind", &bind_opt], "image, bind"), (vec!["--cwd", "/app/.."], "image, ..")] {
        let mut c = s.cmd(&s.f.name("a"), &opts, &["sh", "-c", attack]);
        c.current_dir(&decoy);
        refused(&run_cmd(c, b""), how);
    }
    // A kept layer that made /app a way back.
    let k = s.f.name("k");
    fs::remove_file(s.image.join("app")).unwrap();
    s.run(&k, &["--keep"], &["ln", "-s", "/proc/self/cwd", "/app"]).expect(0);
    let mut c = s.cmd(&k, &["--cwd", "/app"], &["sh", "-c", attack]);
    c.current_dir(&decoy);
    refused(&run_cmd(c, b""), "kept layer");
    s.run(&k, &[], &["true"]).expect(0);
    // An ordinary symlink is followed, inside the root; the default is /.
    let mut c = s.cmd(&s.f.name("b"), &["--cwd", "/work"], &["pwd"]);
    c.current_dir(&decoy);
    let out = run_cmd(c, b"");
    out.expect(0);
    assert_eq!(out.stdout.trim(), "/tmp");
    let mut c = s.cmd(&s.f.name("b"), &[], &["sh", "-c", "pwd; ls /proc/self/cwd/"]);
    c.current_dir(&decoy);
    let out = run_cmd(c, b"");
    out.expect(0);
    assert!(out.stdout.starts_with("/\n") && out.stdout.contains("bin"), "{out:?}");
    s.f.finish();
}

#[test]
fn the_working_directory_is_always_inside_the_root() {
    both(cwd_stays_inside);
}

// ---- process groups ---------------------------------------------------------------------------

fn no_group_shared(who: Who) {
    let s = Setup::new(&format!("esc-pg-{who:?}"), who);
    let mark = s.f.path("sleeper");
    for (kill, name, status) in [("kill -9 0", "a", 137), ("kill -9 -1; exit 3", "b", 3), ("kill -TERM -1; kill -KILL 0", "c", 137)] {
        // The caller: a shell leading its own process group, with another process of its job
        // beside sandbox. The command kills "its" group, or every process it can see.
        let line = format!(
            "sleep 600 & echo $! > {mark}; {run} -- sh -c '{kill}; sleep 5'; echo status=$?; kill -0 $(cat {mark}) && echo sleeper-alive; kill $(cat {mark})",
            mark = mark.display(),
            run = shell_words(&s, &s.f.name(name)),
        );
        let mut c = Command::new("bash");
        c.args(["-c", &line]);
        c.process_group(0);
        let out = run_cmd(c, b"");
        assert!(out.stdout.contains(&format!("status={status}\n")), "{who:?} {kill}: {out:?}");
        assert!(out.stdout.contains("sleeper-alive"), "{who:?} {kill}: the caller's job was hit: {out:?}");
    }
    s.f.finish();
}

/// The sandbox's command line (without the command) for a shell.
fn shell_words(s: &Setup, name: &str) -> String {
    let runner = match s.who {
        Who::Root => String::new(),
        Who::Rootless => "setpriv --reuid 65534 --regid 65534 --clear-groups --".into(),
    };
    format!("{runner} {} --lower {} --name {name} --state-dir {}", s.bin.display(), s.image.display(), s.f.state.display())
}

#[test]
fn the_command_cannot_signal_the_callers_processes() {
    both(no_group_shared);
}

// ---- signals --------------------------------------------------------------------------------

/// Every signal but SIGKILL, SIGSTOP and SIGCHLD, some real-time ones among them.
const SIGNALS: [i32; 30] = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 34, 64];

fn state_of(pid: u32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&s).map(|(_, _, st, _)| st)
}

fn children(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Each signal sent to sandbox reaches the command, which traps it and ends with 7; sandbox
/// ends with the command's status.
fn signals_reach(sandboxed: bool) {
    let f = Fixture::new(if sandboxed { "esc-sig" } else { "esc-sig-init" });
    let out_dir = f.path("out");
    fs::create_dir(&out_dir).unwrap();
    let bind = format!("{}:/out", out_dir.display());
    let dir = if sandboxed { "/out".to_string() } else { out_dir.display().to_string() };
    // The command `sh -c SCRIPT` in a sandbox (with the test's directory at /out), or as the
    // child of sandbox's init alone; in a process group of its own, as a job.
    let start = |name: &str, script: &str| {
        let mut c = if sandboxed {
            f.cmd(&f.name(name), &["--bind", &bind], &["sh", "-c", script])
        } else {
            let mut c = sandbox_cmd();
            c.args(["--", &format!("{IMAGE}/bin/busybox"), "sh", "-c", script]);
            c.env("PATH", format!("{IMAGE}/bin"));
            c
        };
        c.process_group(0);
        spawn(c, b"")
    };
    for sig in SIGNALS {
        let ready = out_dir.join(format!("ready-{sig}"));
        let script = format!("trap 'echo got-{sig}; exit 7' {sig}; touch {dir}/ready-{sig}; while :; do sleep 0.05; done");
        let running = start(&sig.to_string(), &script);
        assert!(wait_until(Duration::from_secs(120), || ready.exists()), "signal {sig}: the command never started");
        running.signal(sig);
        let out = running.wait_for(Duration::from_secs(120));
        assert_eq!(out.code, 7, "signal {sig} (sandboxed: {sandboxed}): {out:?}");
        assert_eq!(out.stdout.trim(), format!("got-{sig}"), "signal {sig}");
    }
    // SIGTSTP not from a terminal stops the command (and sandbox with it, in a sandbox);
    // SIGCONT continues both.
    let ready = out_dir.join("ready-sleep");
    let running = start("tstp", &format!("touch {dir}/ready-sleep; exec sleep 600"));
    assert!(wait_until(Duration::from_secs(120), || ready.exists()));
    let outer = running.pid();
    // The command is `sleep` below the outer process (PID 1 between them in a sandbox; the
    // helper that makes the network namespace may be a child of the outer process for a while).
    let mut command = 0;
    assert!(
        wait_until(Duration::from_secs(120), || {
            let mut todo = children(outer);
            while let Some(p) = todo.pop() {
                if fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep") {
                    command = p;
                    return true;
                }
                todo.extend(children(p));
            }
            false
        }),
        "the command never appeared"
    );
    running.signal(20);
    assert!(wait_until(Duration::from_secs(120), || state_of(command) == Some('T')), "SIGTSTP did not stop the command");
    if sandboxed {
        assert!(wait_until(Duration::from_secs(120), || state_of(outer) == Some('T')), "sandbox did not stop with its command");
    }
    running.signal(18);
    assert!(wait_until(Duration::from_secs(120), || state_of(command).is_some_and(|s| s != 'T') && state_of(outer).is_some_and(|s| s != 'T')), "SIGCONT did not continue the command");
    running.signal(SIGTERM);
    let out = running.wait_for(Duration::from_secs(120));
    assert_eq!(out.code, 143, "{out:?}");
    f.finish();
}

#[test]
fn every_signal_reaches_the_command_in_a_sandbox() {
    if !require_root() {
        return;
    }
    signals_reach(true);
}

#[test]
fn every_signal_reaches_the_command_without_a_sandbox() {
    signals_reach(false);
}
