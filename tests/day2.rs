//! Named sandboxes on one host: --list (running, kept, killed), --remove (also rootless, with
//! overlayfs's mode-000 work directory), --stop, and --join (same namespaces, same confinement
//! as the command, exit status, a terminal, refusals, a race with the sandbox's end). As root,
//! and as uid 65534 (setpriv) where it applies.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const NOBODY: &[&str] = &["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"];

/// The binary as uid 65534 (setpriv), without an XDG_RUNTIME_DIR of root's.
fn nobody_cmd() -> Command {
    let mut c = Command::new("setpriv");
    c.args(NOBODY).arg(BIN).env_remove("SANDBOX_STATE_DIR").env_remove("XDG_RUNTIME_DIR");
    c
}

/// A state directory of uid 65534's in the fixture.
fn nobody_state(f: &Fixture) -> String {
    let d = f.path("nobody");
    fs::create_dir(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
    let st = Command::new("chown").args(["65534:65534"]).arg(&d).status().unwrap();
    assert!(st.success());
    fs::set_permissions(&f.dir, fs::Permissions::from_mode(0o755)).unwrap();
    d.to_string_lossy().into_owned()
}

fn sd(f: &Fixture) -> String {
    f.state.to_string_lossy().into_owned()
}

/// Run the binary with `args` (as root).
fn sb(args: &[&str]) -> Out {
    run(args, b"")
}

/// The stderr of a refused run: status 125, one line.
fn refused(o: &Out, what: &str) {
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.starts_with("sandbox: ") && o.stderr.lines().count() == 1, "one line: {o:?}");
    assert!(o.stderr.contains(what), "{what:?} in {o:?}");
}

/// Start a sandbox whose command writes /up and then waits on its (held) stdin; wait until the
/// record says it runs.
fn start_held(f: &Fixture, name: &str, opts: &[&str], setup: &str) -> Running {
    let script = format!("{setup}; echo up > /up; read _; true");
    let r = spawn_held(f.cmd(name, opts, &["sh", "-c", &script]));
    wait_for_event("the sandbox to run", || f.upper(name).join("up").exists());
    wait_for_event("its record", || sb(&["--list", "--state-dir", &sd(f)]).stdout.contains("\trunning\t"));
    r
}

fn list_line(f: &Fixture, name: &str) -> Vec<String> {
    let o = sb(&["--list", "--state-dir", &sd(f)]);
    o.expect(0);
    let line = o.stdout.lines().find(|l| l.split('\t').next() == Some(name)).unwrap_or_else(|| panic!("{name} not listed: {o:?}"));
    line.split('\t').map(String::from).collect()
}

/// The --list --json output, parsed by python3 into `name state pid lowers...` lines.
fn json_rows(state: &str) -> Vec<String> {
    let o = sb(&["--list", "--json", "--state-dir", state]);
    o.expect(0);
    let py = "import json,sys\nfor s in json.load(sys.stdin):\n print(s['name'], s['state'], s['pid'], s['started'] is not None, *s['lowers'])";
    let out = spawn({
        let mut c = Command::new("python3");
        c.args(["-c", py]);
        c
    }, o.stdout.as_bytes())
    .wait();
    assert_eq!(out.code, 0, "JSON not parsed: {}\n{out:?}", o.stdout);
    out.stdout.lines().map(String::from).collect()
}

#[test]
fn list_tells_running_kept_and_killed() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2list");
    let (run_n, kept_n, killed_n) = (f.name("run"), f.name("kept"), f.name("killed"));
    assert_eq!(json_rows(&sd(&f)), Vec::<String>::new());
    f.run(&kept_n, &["--keep"], &["true"]).expect(0);
    let held = start_held(&f, &run_n, &[], "true");
    let cols = list_line(&f, &run_n);
    assert_eq!(cols[1], "running");
    let pid: u32 = cols[2].parse().unwrap();
    // The PID of its init: a sandbox init whose parent is the outer process.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, _, _, ppid) = parse_stat(stat.trim()).unwrap();
    assert_eq!(ppid, held.pid());
    assert!(cols[3].ends_with('Z') && cols[3].len() == 20, "{cols:?}");
    assert_eq!(cols[4], IMAGE);
    assert_eq!(list_line(&f, &kept_n)[1..3], ["kept", "-"]);
    // The record lives beside the layer, the caller's, 0600; not in the sandbox's upper.
    let rec = f.layer(&run_n).join("record");
    let m = fs::metadata(&rec).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o600));
    assert!(!f.upper(&run_n).join("record").exists());

    // Killed outright, outer process and all: not running; the next run of the name cleans up.
    let mut killed = start_held(&f, &killed_n, &["--keep"], "true");
    let kpid: u32 = list_line(&f, &killed_n)[2].parse().unwrap();
    signal(killed.pid(), SIGKILL);
    wait_for_event("the killed sandbox's init to go", || !Path::new(&format!("/proc/{kpid}")).exists());
    assert!(!killed.running());
    drop(killed);
    assert_eq!(list_line(&f, &killed_n)[1..3], ["kept", "-"]);
    let rows = json_rows(&sd(&f));
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&format!("{run_n} running {pid} True {IMAGE}")), "{rows:?}");
    assert!(rows.contains(&format!("{kept_n} kept None False")), "{rows:?}");
    assert!(rows.contains(&format!("{killed_n} kept None True {IMAGE}")), "{rows:?}");
    f.run(&killed_n, &[], &["true"]).expect(0);
    assert!(!f.layer(&killed_n).exists());

    // Another user's layer in the listed directory is not shown.
    fs::create_dir(f.layer("theirs")).unwrap();
    Command::new("chown").args(["65534", f.layer("theirs").to_str().unwrap()]).status().unwrap();
    assert!(!sb(&["--list", "--state-dir", &sd(&f)]).stdout.contains("theirs"));
    fs::remove_dir(f.layer("theirs")).unwrap();

    held.wait().expect(0);
    assert!(!rec.exists());
    sb(&["--remove", &kept_n, "--state-dir", &sd(&f)]).expect(0);
    assert_eq!(sb(&["--list", "--state-dir", &sd(&f)]).stdout, "");
    f.finish();
}

#[test]
fn remove_discards_a_kept_layer_and_refuses_a_running_one() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2rm");
    let n = f.name("a");
    f.run(&n, &["--keep"], &["sh", "-c", "mkdir -p /deep/er && echo x > /deep/er/f && chmod 0 /deep/er /deep"]).expect(0);
    let held = start_held(&f, &f.name("b"), &[], "true");
    refused(&sb(&["--remove", &f.name("b"), "--state-dir", &sd(&f)]), "sandbox is running");
    assert!(f.upper(&f.name("b")).join("up").exists());
    refused(&sb(&["--remove", "nosuch", "--state-dir", &sd(&f)]), "no such sandbox");
    sb(&["--remove", &n, "--state-dir", &sd(&f)]).expect(0);
    assert!(!f.layer(&n).exists());
    held.wait().expect(0);
    f.finish();
}

#[test]
fn remove_as_a_user_discards_what_overlayfs_left_with_mode_000() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2rmu");
    let st = nobody_state(&f);
    let n = f.name("u");
    let mut c = nobody_cmd();
    c.args(["--lower", IMAGE, "--name", &n, "--state-dir", &st, "--keep", "--", "sh", "-c", "echo x > /f; mkdir -p /d/e; echo y > /d/e/g; chmod 0 /d/e /d"]);
    run_cmd(c, b"").expect(0);
    let work = Path::new(&st).join(&n).join("work/work");
    assert_eq!(fs::metadata(&work).unwrap().mode() & 0o777, 0, "overlayfs leaves work/work mode 000");
    // What stops `rm -rf` of its owner (tried on a copy).
    let copy = format!("{st}/copy");
    assert!(Command::new("cp").args(["-a", &format!("{st}/{n}"), &copy]).status().unwrap().success());
    let rm = run_cmd(
        {
            let mut c = Command::new("setpriv");
            c.args(NOBODY).args(["rm", "-rf", &copy]);
            c
        },
        b"",
    );
    assert_ne!(rm.code, 0, "rm -rf was expected to fail: {rm:?}");
    let mut c = nobody_cmd();
    c.args(["--remove", "copy", "--state-dir", &st]);
    run_cmd(c, b"").expect(0);
    let mut c = nobody_cmd();
    c.args(["--remove", &n, "--state-dir", &st]);
    run_cmd(c, b"").expect(0);
    assert!(!Path::new(&st).join(&n).exists());
    f.finish();
}

#[test]
fn stop_sends_term_or_the_signal_given() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2stop");
    let n = f.name("a");
    let mut held = start_held(&f, &n, &[], "true");
    sb(&["--stop", &n, "--state-dir", &sd(&f)]).expect(0);
    // Its end by the signal, not by the end of its (held) input.
    wait_for_event("the sandbox to end", || !held.running());
    assert_eq!(held.wait().code, 128 + SIGTERM);
    refused(&sb(&["--stop", &n, "--state-dir", &sd(&f)]), "no such sandbox");
    // The command takes the signal as if it were sent to the outer process by hand.
    let mut held = start_held(&f, &n, &[], "trap 'echo usr1; exit 7' USR1");
    sb(&["--stop", &n, "--signal", "SIGUSR1", "--state-dir", &sd(&f)]).expect(0);
    wait_for_event("the sandbox to end", || !held.running());
    let o = held.wait();
    assert_eq!((o.code, o.stdout.as_str()), (7, "usr1\n"), "{o:?}");
    f.run(&n, &["--keep"], &["true"]).expect(0);
    refused(&sb(&["--stop", &n, "--state-dir", &sd(&f)]), "sandbox is not running");
    sb(&["--remove", &n, "--state-dir", &sd(&f)]).expect(0);
    f.finish();
}

/// What a process of the sandbox says of itself: its namespaces and confinement.
const SELF: &str = "for n in mnt pid uts ipc cgroup net user; do readlink /proc/self/ns/$n; done; \
                    grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; hostname";

fn join_same(f: &Fixture, who: Option<&str>) {
    let n = f.name("j");
    let mut opts = vec!["--env", "FROM=main", "--cap-drop", "chown"];
    let state = match who {
        Some(st) => st.to_string(),
        None => sd(f),
    };
    let main_script = format!("{{ {SELF}; }} > /main; echo hello > /tmp/seen");
    let mut held = match who {
        None => start_held(f, &n, &opts, &main_script),
        Some(st) => {
            let mut c = nobody_cmd();
            c.args(["--lower", IMAGE, "--name", &n, "--state-dir", st]).args(&opts);
            c.args(["--", "sh", "-c", &format!("{main_script}; echo up > /up; read _; true")]);
            let r = spawn_held(c);
            wait_for_event("the sandbox to run", || Path::new(st).join(&n).join("upper/up").exists());
            r
        }
    };
    opts.clear();
    let upper = Path::new(&state).join(&n).join("upper");
    let main = fs::read_to_string(upper.join("main")).unwrap();
    let join = |extra: &[&str], cmd: &[&str]| {
        let mut c = match who {
            None => sandbox_cmd(),
            Some(_) => nobody_cmd(),
        };
        c.args(["--join", &n, "--state-dir", &state]).args(extra).arg("--").args(cmd);
        run_cmd(c, b"")
    };
    // Same namespaces (inode by inode), same capability sets, no_new_privs, seccomp, hostname.
    let o = join(&[], &["sh", "-c", SELF]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, main);
    // Its own pid in the sandbox's PID namespace; the sandbox's files and processes; the
    // command's environment with --env over it; --cwd inside; no fd of the host.
    let o = join(
        &["--env", "JOINED=yes", "--cwd", "/tmp"],
        &["sh", "-c", "echo $$ $FROM $JOINED $HOME $(pwd) $(cat seen); grep PPid /proc/1/status; ls /proc/self/fd | wc -l; tr '\\0' ' ' < /proc/2/cmdline | grep -c 'echo up'"],
    );
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(o.code, 0, "{o:?}");
    let w: Vec<&str> = lines[0].split(' ').collect();
    assert!(w[0].parse::<u32>().unwrap() < 100, "{o:?}");
    assert_eq!(w[1..], ["main", "yes", "/root", "/tmp", "hello"]);
    assert_eq!(lines[1], "PPid:\t0");
    assert_eq!(lines[2], "4", "fds 0-2 and ls's own: {o:?}");
    assert_eq!(lines[3], "1", "the main command is seen: {o:?}");
    // A descriptor of the host held by the joiner (`7</`) does not go in.
    let mut c = match who {
        None => Command::new("sh"),
        Some(_) => {
            let mut c = Command::new("setpriv");
            c.args(NOBODY).arg("sh");
            c
        }
    };
    c.args(["-c", "exec 7</ 8</tmp; exec \"$0\" \"$@\"", BIN, "--join", &n, "--state-dir", &state, "--", "sh", "-c", "ls /proc/self/fd"]);
    c.env_remove("XDG_RUNTIME_DIR");
    let o = run_cmd(c, b"");
    assert_eq!(o.stdout, "0\n1\n2\n3\n", "{o:?}");
    // Nor does a directory of the host given as stdin: refused before anything is joined.
    let host = f.path("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("victim"), "precious\n").unwrap();
    Command::new("chown").args(["-R", "65534:65534"]).arg(&host).status().unwrap();
    let mut c = match who {
        None => Command::new("sh"),
        Some(_) => {
            let mut c = Command::new("setpriv");
            c.args(NOBODY).arg("sh");
            c
        }
    };
    c.args(["-c", &format!("exec \"$0\" \"$@\" < {}", host.display()), BIN, "--join", &n, "--state-dir", &state, "--", "sh", "-c", "echo pwned > /proc/self/fd/0/victim"]);
    c.env_remove("XDG_RUNTIME_DIR");
    let o = run_cmd(c, b"");
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.starts_with("sandbox: standard input, output or error: fd 0: Is a directory"), "{o:?}");
    assert_eq!(fs::read_to_string(host.join("victim")).unwrap(), "precious\n");
    fs::remove_dir_all(&host).unwrap();
    // Exit status, and death by a signal.
    assert_eq!(join(&[], &["sh", "-c", "exit 5"]).code, 5);
    assert_eq!(join(&[], &["sh", "-c", "kill -9 $$"]).code, 137);
    assert_eq!(join(&[], &["nosuch"]).code, 127);
    if who.is_none() {
        // --user: that uid and gid, no capabilities in effect.
        let o = join(&["--user", "1000:1001"], &["sh", "-c", "id -u; id -g; grep CapEff /proc/self/status; touch /tmp/u; stat -c %u /tmp/u"]);
        assert_eq!(o.stdout, "1000\n1001\nCapEff:\t0000000000000000\n1000\n", "{o:?}");
    }
    // Nothing left behind by the joins: the sandbox's own processes only.
    let o = join(&[], &["sh", "-c", "echo /proc/[0-9]*"]);
    assert_eq!(o.stdout.split(' ').count(), 4, "PID 1, the command, the joined session's leader, this sh: {o:?}");
    // Listed and stopped by its owner.
    let mut c = match who {
        None => sandbox_cmd(),
        Some(_) => nobody_cmd(),
    };
    c.args(["--list", "--state-dir", &state]);
    let o = run_cmd(c, b"");
    assert!(o.stdout.starts_with(&format!("{n}\trunning\t")), "{o:?}");
    let mut c = match who {
        None => sandbox_cmd(),
        Some(_) => nobody_cmd(),
    };
    c.args(["--stop", &n, "--signal", "HUP", "--state-dir", &state]);
    run_cmd(c, b"").expect(0);
    wait_for_event("the sandbox to end", || !held.running());
    assert_eq!(held.wait().code, 128 + 1);
}

#[test]
fn join_enters_the_same_namespaces_with_the_same_confinement() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2join");
    join_same(&f, None);
    f.finish();
}

#[test]
fn join_as_a_user_enters_a_rootless_sandbox() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2joinu");
    let st = nobody_state(&f);
    join_same(&f, Some(&st));
    f.finish();
}

#[test]
fn join_of_a_sandbox_not_running_or_of_another_user_is_refused() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2joinno");
    let n = f.name("k");
    refused(&sb(&["--join", &n, "--state-dir", &sd(&f), "true"]), "no such sandbox");
    f.run(&n, &["--keep"], &["true"]).expect(0);
    refused(&sb(&["--join", &n, "--state-dir", &sd(&f), "true"]), "sandbox is not running");
    // A record of a dead run whose pid is now someone else's (pid 1 of the host here).
    fs::write(f.layer(&n).join("record"), b"pid=1\0start=1\0outer=1\0outerstart=1\0caps=0\0").unwrap();
    fs::set_permissions(f.layer(&n).join("record"), fs::Permissions::from_mode(0o600)).unwrap();
    refused(&sb(&["--join", &n, "--state-dir", &sd(&f), "true"]), "sandbox is not running");
    refused(&sb(&["--stop", &n, "--state-dir", &sd(&f)]), "sandbox is not running");
    assert_eq!(list_line(&f, &n)[1], "kept");
    // One that others may write is not trusted.
    fs::set_permissions(f.layer(&n).join("record"), fs::Permissions::from_mode(0o620)).unwrap();
    refused(&sb(&["--join", &n, "--state-dir", &sd(&f), "true"]), "record of the sandbox");
    // A record that is a symlink is not followed.
    fs::remove_file(f.layer(&n).join("record")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", f.layer(&n).join("record")).unwrap();
    refused(&sb(&["--join", &n, "--state-dir", &sd(&f), "true"]), "record of the sandbox");
    fs::remove_file(f.layer(&n).join("record")).unwrap();
    sb(&["--remove", &n, "--state-dir", &sd(&f)]).expect(0);

    // Root's running sandbox, joined by uid 65534 (through root's state directory), and the
    // other way round: refused, with the reason.
    let held = start_held(&f, &n, &[], "true");
    fs::set_permissions(&f.dir, fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = nobody_cmd();
    c.args(["--join", &n, "--state-dir", &sd(&f), "true"]);
    refused(&run_cmd(c, b""), "state directory");
    let st = nobody_state(&f);
    let mut c = nobody_cmd();
    c.args(["--lower", IMAGE, "--name", "theirs", "--state-dir", &st, "--", "sh", "-c", "echo up > /up; read _; true"]);
    let theirs = spawn_held(c);
    wait_for_event("their sandbox", || Path::new(&st).join("theirs/upper/up").exists());
    refused(&sb(&["--join", "theirs", "--state-dir", &st, "true"]), "state directory not yours alone");
    assert_eq!(theirs.wait().code, 0);
    assert_eq!(held.wait().code, 0);
    f.finish();
}

#[test]
fn join_racing_the_end_joins_or_fails_cleanly() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2race");
    let n = f.name("r");
    let (mut ran, mut failed) = (0, 0);
    fs::create_dir(f.path("m")).unwrap();
    fs::write(f.path("m/ok"), b"").unwrap();
    let marker = format!("{}:/marker", f.path("m").display());
    // The joined command looks for what only the sandbox's complete root has: never the host's
    // root of a sandbox still in the making.
    let joined = "if test -e /marker/ok; then echo inside; else echo outside; fi; usleep 500000";
    for round in 0..12 {
        let main = f.start(&n, &["--ro-bind", &marker], &["sh", "-c", &format!("echo up > /up; usleep {}", 2000 + round * 3000)]);
        let mut main = Some(main);
        for _ in 0..200 {
            let o = sb(&["--join", &n, "--state-dir", &sd(&f), "--", "sh", "-c", joined, "joined-d2race"]);
            assert!(!o.stdout.contains("outside"), "{o:?}");
            match o.code {
                // Ended by the sandbox's end (SIGKILL), or ran to its own end.
                0 | 137 => ran += 1,
                125 => {
                    assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
                    failed += 1;
                }
                _ => panic!("neither joined nor refused: {o:?}"),
            }
            if main.as_mut().is_some_and(|m| !m.running()) {
                break;
            }
        }
        assert_eq!(main.take().unwrap().wait().code, 0);
    }
    assert!(ran > 0 && failed > 0, "both outcomes are expected over the rounds: ran {ran}, refused {failed}");
    assert!(procs_with_arg("joined-d2race").is_empty(), "a joined command was left");
    f.finish();
}

#[test]
fn bad_input_for_each_new_option_is_refused_and_changes_nothing() {
    let f = Fixture::new("d2bad");
    let s = sd(&f);
    for (args, what) in [
        (vec!["--list", "extra"], "option not valid here"),
        (vec!["--list", "--signal", "1"], "option not valid here"),
        (vec!["--list", "--remove", "x"], "option not valid here"),
        (vec!["--remove", "a/b"], "invalid name"),
        (vec!["--remove"], "option needs a value"),
        (vec!["--stop", "x", "--signal", "NOPE"], "invalid --signal"),
        (vec!["--stop", "x", "--signal", "65"], "invalid --signal"),
        (vec!["--signal", "TERM", "true"], "option not valid here"),
        (vec!["--join", "x"], "no command given"),
        (vec!["--join", "x", "--user", "a b", "true"], "invalid --user"),
        (vec!["--join", "x", "--user", "1:", "true"], "invalid --user"),
        (vec!["--join", "x", "--cwd", "rel", "true"], "working directory"),
        (vec!["--join", "x", "--env", "NOEQ", "true"], "invalid --env"),
        (vec!["--join", "x", "--lower", "/", "true"], "option not valid here"),
        (vec!["--json", "true"], "unknown option"),
    ] {
        let mut a = vec!["--state-dir", &s];
        a.extend(args.iter());
        refused(&sb(&a), what);
    }
    f.finish();
}

/// tmux: a shell joined into a running sandbox gets a terminal of the sandbox's own, with job
/// control, and its exit status reaches the caller's shell.
#[test]
fn a_joined_shell_gets_a_terminal_and_its_status_comes_back() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("d2tty");
    let n = f.name("t");
    let held = start_held(&f, &n, &[], "true");
    let session = format!("sbx-d2tty-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux").args(["-L", &session]).args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let st = Command::new("tmux")
        .args(["-L", &session, "-f", "/dev/null", "new-session", "-d", "-s", &session, "-x", "100", "-y", "30"])
        .args(["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "PS1=caller$ ", "bash", "--norc", "--noprofile"])
        .status()
        .expect("tmux is needed");
    assert!(st.success());
    let screen = || tmux(&["capture-pane", "-p", "-J", "-t", &session, "-S", "-200"]);
    let typed = |s: &str| {
        tmux(&["send-keys", "-t", &session, "-l", s]);
        tmux(&["send-keys", "-t", &session, "Enter"]);
    };
    let wait = |text: &str, k: usize| {
        let ok = wait_until(Duration::from_secs(120), || screen().matches(text).count() >= k);
        assert!(ok, "never saw {text:?} x{k}:\n{}", screen());
    };
    wait("caller$", 1);
    typed(&format!("{BIN} --join {n} --state-dir {} -- sh", sd(&f)));
    // The joined shell's own prompt first: what is typed before it meets the caller's shell
    // changing the terminal's modes.
    wait("/ # ", 1);
    typed("PS1='joined# '; tty; echo $((6*7))");
    wait("42", 1);
    assert!(screen().contains("/dev/pts/"), "{}", screen());
    // Job control inside: a background job, then Ctrl-C of a foreground one.
    typed("sleep 100 &");
    wait("joined# ", 2);
    typed("sleep 2017");
    wait_for_event("sleep 2017 to run", || !procs_with_arg("2017").is_empty());
    tmux(&["send-keys", "-t", &session, "C-c"]);
    typed("echo status=$?");
    wait("status=130", 1);
    typed("exit 3");
    wait("caller$", 2);
    typed("echo caller=$?");
    wait("caller=3", 1);
    // Ctrl-Z on a joined command that is not a shell stops the caller's job; fg resumes it.
    typed(&format!("{BIN} --join {n} --state-dir {} -- /bin/cat", sd(&f)));
    wait_for_event("cat to run", || !procs_with_arg("/bin/cat").is_empty());
    typed("one-d2tty");
    wait("one-d2tty", 2);
    tmux(&["send-keys", "-t", &session, "C-z"]);
    wait("Stopped", 1);
    wait("caller$", 3);
    typed("fg");
    wait_for_event("cat to run again", || {
        procs_with_arg("/bin/cat").iter().any(|p| fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|st| parse_stat(st.trim()).is_some_and(|s| s.2 != 'T')))
    });
    typed("two-d2tty");
    wait("two-d2tty", 2);
    tmux(&["send-keys", "-t", &session, "C-d"]);
    wait("caller$", 4);
    let _ = Command::new("tmux").args(["-L", &session, "kill-server"]).status();
    assert_eq!(held.wait().code, 0);
    f.finish();
}
