//! Reliability: faults, load and hostile input lose nothing and leak nothing (issue 7).
//!
//! Every test runs the real binary in real namespaces (as root) and asserts on what really
//! happened: processes in /proc, the host's mount table, files on disk, exit statuses. All
//! randomness is a seeded LCG, so a failure can be replayed. Each test is bounded in time.

mod common;

use common::*;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A deterministic pseudo-random generator (64-bit LCG, Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Lcg {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    /// `n` bytes, none of them NUL.
    fn bytes_nonzero(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| 1 + self.below(255) as u8).collect()
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What a run gave, as raw bytes; `signal` is set when the process itself died of a signal.
#[derive(Debug)]
struct Raw {
    code: i32,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Raw {
    fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Run `cmd` to its end (within TIMEOUT, else its process group is killed and the test fails):
/// stdin is `input` through a pipe (or /dev/null when None) unless the caller set it; stdout and
/// stderr are captured unless `keep_stdio` (the caller set them).
fn run_raw(mut cmd: Command, input: Option<Vec<u8>>, keep_stdio: bool) -> Raw {
    if !keep_stdio {
        cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let (status, stdout, stderr) = start_cmd(cmd, Some(input.unwrap_or_default())).wait_raw(TIMEOUT);
    Raw {
        code: status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        signal: status.signal(),
        stdout,
        stderr,
    }
}

/// A marker unique to this process and `n`, that is also a valid `sleep` argument of about
/// 20 minutes (longer than any wait of the tests, so a sleep never ends by itself while a test
/// counts on it): it shows in /proc/*/cmdline of the outer process, of PID 1 inside (a clone of
/// it) and of the sleep.
fn marker(n: u64) -> String {
    format!("1200.{:07}{:05}1", std::process::id() % 10_000_000, n)
}

/// Exactly one line on stderr, starting `sandbox: `.
fn one_line(stderr: &[u8]) -> bool {
    stderr.starts_with(b"sandbox: ") && stderr.ends_with(b"\n") && stderr.iter().filter(|&&b| b == b'\n').count() == 1
}

/// Every file under `dir` with its content (directories as `<dir>/`): a snapshot to compare.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    listing(dir)
        .into_iter()
        .map(|rel| {
            let c = if rel.ends_with('/') { Vec::new() } else { fs::read(dir.join(&rel)).unwrap_or_default() };
            (rel, c)
        })
        .collect()
}

/// Wait until no process carries `marker`; fail with what is left if that does not come.
fn assert_no_procs(marker: &str, ctx: &str) {
    if !wait_until(TIMEOUT, || procs_with_arg(marker).is_empty()) {
        let left: Vec<String> = procs_with_arg(marker)
            .into_iter()
            .map(|p| {
                let stat = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                format!("{p}: {}", stat.trim())
            })
            .collect();
        panic!("{ctx}: processes of the sandbox survived: {left:#?}");
    }
}

// 1. kill -9 of the outer process at many moments of start-up and of the run.
#[test]
fn sigkill_of_the_outer_at_any_moment_leaks_nothing() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rkill");
    let mounts = mount_snapshot();
    let name = f.name("k");
    let mut rng = Lcg::new(7);
    const EARLY: u64 = 40;
    const RUNNING: u64 = 5;
    let t0 = Instant::now();
    let (mut layer_left, mut after_mount) = (0, 0);
    for i in 0..EARLY + RUNNING {
        let m = marker(i);
        let mut r = f.start(&name, &[], &["sleep", &m]);
        let ctx;
        if i < EARLY {
            // Spread over 0..8 ms, denser near 0 where start-up happens.
            let x = rng.below(8000);
            let us = x * x / 8000;
            ctx = format!("iteration {i}: SIGKILL after {us} us");
            thread::sleep(Duration::from_micros(us));
        } else {
            ctx = format!("iteration {i}: SIGKILL while the command runs");
            // The outer process, PID 1 and the sleep all carry the marker.
            wait_for_event(&format!("{ctx}: the outer process, PID 1 and the sleep"), || {
                procs_with_arg(&m).len() >= 3
            });
        }
        let finished_early = !r.running();
        if !finished_early {
            r.signal(SIGKILL);
        }
        let out = r.wait();
        assert!(
            out.code == 128 + SIGKILL,
            "{ctx}: the outer process ended by itself before the kill: {out:?}"
        );
        assert_no_procs(&m, &ctx);
        assert_mounts_unchanged(&mounts);
        if f.layer(&name).exists() {
            layer_left += 1;
            // overlayfs makes work/work when it is mounted: the kill came after that.
            if f.layer(&name).join("work/work").exists() {
                after_mount += 1;
            }
        }
        // The name is usable again at once, and what the killed run left is discarded.
        let out = f.run(&name, &[], &["sh", "-c", "test -e /x && echo stale; echo new > /x; cat /x"]);
        assert_eq!(out.tuple(), (0, "new\n", ""), "{ctx}: the next run of the name");
        assert!(listing(&f.state).is_empty(), "{ctx}: left after the next run: {:?}", listing(&f.state));
    }
    eprintln!(
        "sigkill: {} kills in {:?}; {} before the layer existed, {} after it was made but before the overlay was \
         mounted, {after_mount} after; each left layer was discarded by the next start",
        EARLY + RUNNING,
        t0.elapsed(),
        EARLY + RUNNING - layer_left,
        layer_left - after_mount
    );
    f.finish();
}

// 2. A layer kept with --keep is never lost: not by a crash, a contended start, a rejected run.
#[test]
fn kept_layer_survives_crash_contention_and_rejection() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rkeep");
    let mounts = mount_snapshot();
    let n = f.name("k");
    let layer = f.layer(&n);
    let mut failures: Vec<String> = Vec::new();

    // (a) A --keep run writes a file and is killed while it runs.
    let m = marker(1);
    let r = f.start(&n, &["--keep"], &["sh", "-c", "echo data > /f; exec sleep \"$0\"", &m]);
    let file = f.upper(&n).join("f");
    wait_for_event("the --keep run to write /f and run its sleep", || {
        fs::read(&file).is_ok_and(|c| c == b"data\n") && procs_with_arg(&m).len() >= 3
    });
    r.signal(SIGKILL);
    assert_eq!(r.wait().code, 128 + SIGKILL);
    assert_no_procs(&m, "killed --keep run");
    assert_mounts_unchanged(&mounts);
    assert_eq!(fs::read(&file).ok().as_deref(), Some(&b"data\n"[..]), "the killed --keep run lost its file");
    assert!(layer.join("keep").exists(), "the keep marker is gone: {:?}", listing(&layer));
    // Kill resumed --keep runs at random moments of their start-up: the layer survives each.
    let mut rng = Lcg::new(2);
    for i in 0..12 {
        let m = marker(100 + i);
        let mut r = f.start(&n, &["--keep"], &["sleep", &m]);
        thread::sleep(Duration::from_micros(rng.below(8000)));
        if r.running() {
            r.signal(SIGKILL);
        }
        let _ = r.wait();
        assert_no_procs(&m, "killed resumed --keep run");
        assert_eq!(fs::read(&file).ok().as_deref(), Some(&b"data\n"[..]), "kill {i}: the kept file is lost");
        assert!(layer.join("keep").exists(), "kill {i}: the keep marker is gone");
    }
    // The next run resumes it.
    let out = f.run(&n, &["--keep"], &["sh", "-c", "cat /f; echo more >> /f"]);
    assert_eq!(out.tuple(), (0, "data\n", ""), "the resumed run");
    assert_eq!(fs::read_to_string(&file).unwrap(), "data\nmore\n");

    // (b) Contended starts while a run of the kept layer is running: 125, in use, untouched.
    let m = marker(2);
    // The first run sleeps until the test stops it; each contender is refused and ends while
    // it still runs (it did not wait for the name).
    let mut first = f.start(&n, &["--keep"], &["sh", "-c", "echo r > /r; exec sleep \"$0\"", &m]);
    let rfile = f.upper(&n).join("r");
    // Its record too: the outer process writes it when PID 1 is ready, which a loaded machine
    // may let come after the command's first write.
    let (record, outer) = (layer.join("record"), format!("outer={}\0", first.pid()));
    wait_for_event("the first run to write /r, run its sleep and record itself", || {
        rfile.exists()
            && procs_with_arg(&m).len() >= 3
            && fs::read(&record).is_ok_and(|r| r.windows(outer.len()).any(|w| w == outer.as_bytes()))
    });
    let before = tree(&layer);
    let contenders: [&[&str]; 4] = [&[], &["--keep"], &["--cwd", "/no/such"], &["--env", "A=1"]];
    for opts in contenders {
        let out = f.run(&n, opts, &["sh", "-c", "rm -rf /f /r; echo ran"]);
        if !(out.code == 125 && one_line(out.stderr.as_bytes()) && out.stderr.contains("in use") && out.stdout.is_empty())
        {
            failures.push(format!("contended start with {opts:?}: want 125 and one 'in use' line, got {out:?}"));
        }
        if !first.running() {
            failures.push(format!("the first run ended while a contended start with {opts:?} ran"));
        }
        if tree(&layer) != before {
            failures.push(format!("contended start with {opts:?} changed the layer: {:?}", listing(&layer)));
        }
    }
    // SIGTERM goes on to the command; the first run ends and keeps its layer.
    first.signal(SIGTERM);
    let out = first.wait();
    assert_eq!(out.code, 128 + SIGTERM, "{out:?}");
    assert_no_procs(&m, "first run");
    assert_eq!(fs::read_to_string(&file).unwrap(), "data\nmore\n");
    assert_eq!(fs::read_to_string(&rfile).unwrap(), "r\n");
    assert!(layer.join("keep").exists());

    // (c) Runs rejected with a kept layer present leave it intact. After a case that lost it,
    // the layer is made again as it was, so that every case is tried.
    let before = tree(&layer);
    let remake = || {
        let out = f.run(&n, &["--keep"], &["sh", "-c", "echo data > /f; echo more >> /f; echo r > /r"]);
        out.expect(0);
        assert_eq!(tree(&layer), before, "the layer was not made again as it was");
    };
    let missing = f.path("no-such-dir");
    let missing = missing.to_str().unwrap();
    let bind = format!("{missing}:/x");
    let mut bad_lower = f.args(&n, &[], &["sh", "-c", "rm -rf /f /r; echo ran"]);
    bad_lower[1] = missing.to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (f.args(&n, &["--cwd", "/no/such"], &["sh", "-c", "rm -rf /f /r; echo ran"]), "/no/such"),
        (f.args(&n, &["--keep", "--cwd", "/no/such"], &["sh", "-c", "rm -rf /f /r; echo ran"]), "/no/such"),
        (f.args(&n, &["--bind", &bind], &["sh", "-c", "rm -rf /f /r; echo ran"]), missing),
        (f.args(&n, &["--keep", "--bind", &bind], &["sh", "-c", "rm -rf /f /r; echo ran"]), missing),
        (f.args(&n, &["--hostname", ""], &["sh", "-c", "rm -rf /f /r; echo ran"]), "hostname"),
        (bad_lower, missing),
    ];
    for (args, what) in cases {
        let shown = &args[6..args.len() - 4];
        let out = run(&args, b"");
        if !(out.code == 125 && one_line(out.stderr.as_bytes()) && out.stderr.contains(what) && out.stdout.is_empty()) {
            failures.push(format!("rejected run with {shown:?}: want 125 and one line naming {what:?}, got {out:?}"));
        }
        let after = tree(&layer);
        if after != before {
            failures.push(format!(
                "rejected run with {shown:?} (status {}) changed the kept layer: before {:?}, after {:?}",
                out.code,
                before.iter().map(|e| &e.0).collect::<Vec<_>>(),
                after.iter().map(|e| &e.0).collect::<Vec<_>>()
            ));
            if layer.exists() {
                // Not this test's to repair: start from an empty name.
                f.run(&n, &[], &["true"]).expect(0);
            }
            remake();
        }
    }

    // Finally a run without --keep discards it.
    if layer.exists() {
        let out = f.run(&n, &[], &["cat", "/f"]);
        out.expect(0);
    }
    assert!(failures.is_empty(), "the kept layer was not safe:\n{}", failures.join("\n"));
    f.finish();
}

// 3. Load: 40 names in parallel; six runs of one name at once.
#[test]
fn load_forty_in_parallel_and_six_on_one_name() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rload");
    let t = Instant::now();
    let results: Vec<(String, Out)> = thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let f = &f;
                s.spawn(move || {
                    let n = f.name(&format!("p{i}"));
                    let out = f.run(&n, &[], &["sh", "-c", "echo \"$0\" > /mine; sync /mine; cat /mine", &n]);
                    (n, out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("load: 40 sandboxes in parallel in {:?}", t.elapsed());
    for (n, out) in &results {
        assert_eq!(out.tuple(), (0, format!("{n}\n").as_str(), ""), "sandbox {n}");
    }
    assert_dir_empty(&f.state);

    // Six runs of one name, started together. Each blocks on its stdin, which the test holds:
    // the one that got the name cannot end before the test lets it, so the five others must be
    // refused and end while it still runs (a run that waited for the name would never end).
    let n = f.name("one");
    let t = Instant::now();
    let mut runs: Vec<Running> =
        (0..6).map(|_| spawn_held(f.cmd(&n, &[], &["sh", "-c", "read _; echo done"]))).collect();
    wait_for_event("five of the six runs on one name to be refused and end", || {
        runs.iter_mut().map(|r| r.running()).filter(|running| !running).count() >= 5
    });
    let winner = runs.iter_mut().position(|r| r.running()).expect("one run still holds the name");
    let mut results: Vec<Out> = runs.into_iter().map(|r| r.wait()).collect();
    eprintln!("load: six on one name in {:?}", t.elapsed());
    let won = results.remove(winner);
    assert_eq!(won.tuple(), (0, "done\n", ""), "the run that got the name; the others: {results:#?}");
    for out in &results {
        assert_eq!(out.code, 125, "{out:?}");
        assert!(one_line(out.stderr.as_bytes()) && out.stderr.contains("in use") && out.stderr.contains(&n), "{out:?}");
    }
    f.finish();
}

// 4. Thousands of arguments and variables, and long values, reach the command intact.
#[test]
fn long_argument_lists_and_environments_arrive_intact() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rargs");
    let n = f.name("a");
    let mut rng = Lcg::new(4);
    // sh prints the count, then its own command line as the kernel holds it (not the shell's
    // idea of it): byte for byte what sandbox passed to execve.
    let script = "echo $#; cat /proc/$$/cmdline; echo";
    let mut cmd_args: Vec<OsString> = vec!["sh".into(), "-c".into(), script.into(), "x".into()];
    for i in 1..=5000 {
        cmd_args.push(format!("a{i}").into());
    }
    for s in [
        "with space",
        "  leading and trailing  ",
        "new\nline",
        "tab\there",
        "",
        "ünïcødé ✓ 日本語 🦀",
        "'single' \"double\" `back` $HOME * ? [a] \\",
        "--",
        "--keep",
        "-n",
        "=",
    ] {
        cmd_args.push(s.into());
    }
    // Every byte value but NUL, and a 100 KB argument of random bytes.
    cmd_args.push(OsString::from_vec((1..=255u8).collect()));
    cmd_args.push(OsString::from_vec(rng.bytes_nonzero(100 * 1024)));
    let mut c = f.cmd(&n, &[], &[]);
    c.args(&cmd_args);
    let t = Instant::now();
    let out = run_raw(c, None, false);
    eprintln!("args: {} arguments in {:?}", cmd_args.len(), t.elapsed());
    assert_eq!(out.code, 0, "stderr: {}", out.err());
    let mut want = format!("{}\n", cmd_args.len() - 4).into_bytes();
    for a in &cmd_args {
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    want.push(b'\n');
    assert!(out.stdout == want, "the arguments changed on the way (got {} bytes, want {})", out.stdout.len(), want.len());

    // 2000 --env, and a 100 KB value of random bytes: the command's environment is exactly the
    // standard PATH, HOME, then these in order (TERM is not set here).
    let big = rng.bytes_nonzero(100 * 1024);
    let mut big_env = b"BIG=".to_vec();
    big_env.extend(big.iter().map(|&b| if b == b'=' { b'+' } else { b }));
    let mut opts: Vec<OsString> = Vec::new();
    for i in 0..2000 {
        opts.push("--env".into());
        opts.push(format!("K_{i}=V_{i} x").into());
    }
    opts.push("--env".into());
    opts.push(OsString::from_vec(big_env.clone()));
    let env_cmd = |command: &[&str]| {
        let mut c = sandbox_cmd();
        c.env_remove("TERM");
        let base = f.args(&n, &[], &[]);
        c.args(&base[..base.len() - 1]).args(&opts).arg("--").args(command);
        c
    };
    let out = run_raw(env_cmd(&["cat", "/proc/self/environ"]), None, false);
    assert_eq!(out.code, 0, "stderr: {}", out.err());
    let mut want = b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\0HOME=/root\0".to_vec();
    for i in 0..2000 {
        want.extend_from_slice(format!("K_{i}=V_{i} x\0").as_bytes());
    }
    want.extend_from_slice(&big_env);
    want.push(0);
    assert!(out.stdout == want, "the environment changed on the way (got {} bytes, want {})", out.stdout.len(), want.len());
    // And as a shell sees it.
    let out = run_raw(
        env_cmd(&["sh", "-c", "env | grep -c ^K_; echo \"$K_0|$K_1999\"; printf %s \"$BIG\" | wc -c"]),
        None,
        false,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.err());
    let lines: Vec<String> = out.out().lines().map(|l| l.trim().to_string()).collect();
    assert_eq!(lines, ["2000", "V_0 x|V_1999 x", &big.len().to_string()], "{}", out.err());
    f.finish();
}

// 5. A writable layer of hundreds of MB and a tree 3000 directories deep are removed at exit.
#[test]
fn big_layer_and_deep_tree_are_removed_at_exit() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rsize");
    let n = f.name("s");
    let df = Command::new("df").arg("-Pk").arg(&f.state).output().expect("df");
    let avail_kb: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .expect("df -Pk output");
    let mb = if avail_kb > 2 << 20 {
        300
    } else if avail_kb > 1 << 20 {
        200
    } else {
        eprintln!("note: only {avail_kb} KB free: 50 MB instead of 200-300");
        50
    };
    let ctl = f.path("ctl");
    fs::create_dir(&ctl).unwrap();
    let bind = format!("{}:/ctl", ctl.display());
    let p = "d/".repeat(1000);
    // 3 chains of 1001 directories moved into each other: 3003 levels, under PATH_MAX per call.
    let script = format!(
        "set -e; dd if=/dev/zero of=/big bs=1M count={mb} 2>/dev/null; \
         mkdir -p /t1/$1 /t2/$1 /t3/$1; mv /t1 /t2/$1; mv /t2 /t3/$1; \
         cd /t3/$1; i=0; while [ $i -lt 200 ]; do echo $i > f$i; i=$((i+1)); done; \
         mkdir /many; cd /many; i=0; while [ $i -lt 3000 ]; do echo $i > f$i; i=$((i+1)); done; \
         touch /ctl/ready; while [ ! -e /ctl/stop ]; do usleep 10000; done; echo ok"
    );
    let t = Instant::now();
    let r = f.start(&n, &["--bind", &bind], &["sh", "-c", &script, "sh", &p]);
    wait_for_event("the command to finish writing its layer (/ctl/ready)", || ctl.join("ready").exists());
    let filled = t.elapsed();
    let upper = f.upper(&n);
    assert_eq!(fs::metadata(upper.join("big")).unwrap().len(), mb << 20);
    let dirs = Command::new("find").arg(&upper).args(["-type", "d"]).output().expect("find");
    let ndirs = String::from_utf8_lossy(&dirs.stdout).lines().count();
    assert!(ndirs >= 3000 + 4, "only {ndirs} directories in the layer");
    assert_eq!(fs::read_dir(upper.join("many")).unwrap().count(), 3000);
    fs::write(ctl.join("stop"), "").unwrap();
    let t = Instant::now();
    let out = r.wait();
    let removal = t.elapsed();
    assert_eq!(out.tuple(), (0, "ok\n", ""));
    eprintln!(
        "size: wrote {mb} MB + {ndirs} directories + 3200 files in {filled:?}; exit and removal took {removal:?}"
    );
    assert!(!f.layer(&n).exists(), "left: {:?}", listing(&f.state).len());
    f.finish();
}

/// The private-mount-namespace script of test 6: mount a tmpfs at $1 as `setup` says, list it,
/// run sandbox with the state dir `$1/state`, list it again.
fn on_special_fs(f: &Fixture, name: &str, setup: &str) -> (i32, String, String, String) {
    let dir = f.path(&format!("fs-{name}"));
    fs::create_dir(&dir).unwrap();
    let script = format!(
        "set -u; D=$1; shift; {setup} || exit 90; \
         list() {{ find \"$D\" -exec stat -c '%n %F %s %a %Y %Z' {{}} + | sort; }}; \
         list > /proc/self/fd/3; echo BEFORE-END >&3; \
         \"$@\"; echo \"rc=$?\" >&3; list >&3"
    );
    // The state directory is $D/state: replace the fixture's.
    let mut args = f.args(name, &[], &["sh", "-c", "echo ran"]);
    let i = args.iter().position(|a| a == "--state-dir").unwrap();
    args[i + 1] = format!("{}/state", dir.display());
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &format!("exec 3>&1; {script}"), "sh"]);
    c.arg(&dir).arg(BIN).args(&args).env_remove("SANDBOX_STATE_DIR");
    let out = run_raw(c, None, false);
    let text = out.out();
    let (before, rest) = text.split_once("BEFORE-END\n").unwrap_or_else(|| panic!("{name}: {out:?}"));
    let (rc, after) = rest.split_once('\n').unwrap_or_else(|| panic!("{name}: {out:?}"));
    let rc: i32 = rc.strip_prefix("rc=").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name}: {out:?}"));
    assert!(!after.contains("ran"), "{name}: the command ran");
    (rc, before.to_string(), after.to_string(), out.err())
}

// 6. A state dir on a full or a read-only file system: 125, one line, nothing touched.
#[test]
fn full_or_read_only_state_dir_is_refused_cleanly() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rfs");
    let fill = "i=0; while [ $i -lt 100 ] && touch \"$D/fill$i\" 2>/dev/null; do i=$((i+1)); done";
    let cases: [(&str, String, &str, &str); 4] = [
        // No inode left for the state directory.
        (
            "full",
            format!("mount -t tmpfs -o size=64k,nr_inodes=4 tmpfs \"$D\" && {fill}"),
            "/state",
            "No space left on device",
        ),
        // The state directory exists; no inode left for the layer.
        (
            "full2",
            format!("mount -t tmpfs -o size=64k,nr_inodes=4 tmpfs \"$D\" && mkdir \"$D/state\" && {fill}"),
            "/state/",
            "No space left on device",
        ),
        ("ro", "mount -t tmpfs -o ro tmpfs \"$D\"".to_string(), "/state", "Read-only file system"),
        (
            "ro2",
            "mount -t tmpfs tmpfs \"$D\" && mkdir -p \"$D/state/other/upper\" && echo x > \"$D/state/other/upper/x\" \
             && mount -o remount,ro \"$D\""
                .to_string(),
            "/state/",
            "Read-only file system",
        ),
    ];
    for (tag, setup, path_end, reason) in cases {
        let name = f.name(tag);
        let (rc, before, after, stderr) = on_special_fs(&f, &name, &setup);
        eprintln!("{tag}: rc={rc} stderr={stderr:?}\n  before:\n{before}  after:\n{after}");
        assert_eq!(rc, 125, "{tag}: {stderr}");
        assert!(one_line(stderr.as_bytes()), "{tag}: not one sandbox: line: {stderr:?}");
        let dir = f.path(&format!("fs-{name}"));
        let want_path = format!("{}{path_end}", dir.display());
        assert!(stderr.contains(&want_path), "{tag}: does not name {want_path}: {stderr:?}");
        assert!(stderr.contains(reason), "{tag}: does not give the reason {reason:?}: {stderr:?}");
        assert!(!before.is_empty(), "{tag}: no listing");
        assert_eq!(before, after, "{tag}: the file system changed");
        // The host never saw the tmpfs.
        assert_dir_empty(&dir);
    }
    f.finish();
}

// 7. The argument parser never crashes: seeded random command lines.
#[test]
fn random_command_lines_never_crash_the_parser() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rfuzz");
    let mut rng = Lcg::new(0x5eed);
    let state = f.state.to_string_lossy().into_owned();
    let names: Vec<String> = (0..3).map(|i| f.name(&format!("z{i}"))).collect();
    let opts = [
        "--lower", "--name", "--keep", "--hostname", "--env", "--cwd", "--bind", "--ro-bind", "--net", "--memory",
        "--pids", "--cpus", "--cap-add", "--cap-drop", "--timings", "--", "-", "-x", "--frob", "--lowe", "--keep=1",
        "-h", "--help", "-V", "--version",
    ];
    let good_values = [
        IMAGE, "none", "host", "64M", "10", "0.5", "all", "net_admin", "A=1", "/", "/tmp", "/etc:/mnt", "/:/x",
    ];
    let bad_values = ["", "=", "a/b", "..", "-1", "0", "1x", "/no/such", "rel", ":/b", "/a:b", "NOEQ", "bogus"];
    let random_token = |rng: &mut Lcg| -> OsString {
        match rng.below(10) {
            0 => OsString::from_vec(rng.bytes_nonzero(100 * 1024)),
            1..=4 => {
                let len = 1 + rng.below(12) as usize;
                OsString::from_vec(rng.bytes_nonzero(len))
            }
            _ => {
                let len = 1 + rng.below(10) as usize;
                let s: String = (0..len).map(|_| *rng.pick(&b"abcXYZ019-_.=/:, \n\t"[..]) as char).collect();
                s.into()
            }
        }
    };
    let mut accepted = 0;
    let mut rejected = 0;
    let mut problems: Vec<String> = Vec::new();
    let t = Instant::now();
    for run_no in 0..300 {
        let mut args: Vec<OsString> = vec!["--state-dir".into(), state.clone().into()];
        if rng.chance(35) {
            args.extend(["--lower".into(), IMAGE.into(), "--name".into(), rng.pick(&names).into()]);
        }
        let mut huge = 0;
        for _ in 0..1 + rng.below(6) {
            match rng.below(10) {
                0..=5 => {
                    let o = *rng.pick(&opts);
                    let value: Option<OsString> = match rng.below(6) {
                        0 => None,
                        1 | 2 => Some((*rng.pick(&good_values)).into()),
                        3 => Some((*rng.pick(&bad_values)).into()),
                        4 => Some(rng.pick(&names).into()),
                        _ => {
                            let v = random_token(&mut rng);
                            if v.len() > 4096 {
                                huge += 1;
                            }
                            Some(v)
                        }
                    };
                    match value {
                        Some(v) if rng.chance(30) => {
                            let mut a = OsString::from(o);
                            a.push("=");
                            a.push(v);
                            args.push(a);
                        }
                        Some(v) => {
                            args.push(o.into());
                            args.push(v);
                        }
                        None => args.push(o.into()),
                    }
                }
                6 | 7 => {
                    let v = random_token(&mut rng);
                    if v.len() > 4096 {
                        huge += 1;
                    }
                    args.push(v);
                }
                8 => args.push("--".into()),
                _ => args.push("true".into()),
            }
            if huge > 3 {
                break;
            }
        }
        if rng.chance(40) {
            args.extend(["--".into(), "true".into()]);
        }
        let mut c = sandbox_cmd();
        c.args(&args);
        let out = run_raw(c, None, false);
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                let s = format!("{:?}", a);
                if s.len() > 80 { format!("{}...({} bytes)", s.chars().take(80).collect::<String>(), a.len()) } else { s }
            })
            .collect();
        let ctx = format!("run {run_no}: {shown:?} gave {} (stderr {:?})", out.code, String::from_utf8_lossy(&out.stderr[..out.stderr.len().min(300)]));
        if let Some(sig) = out.signal {
            problems.push(format!("{ctx}: killed by signal {sig}"));
        }
        if out.stderr.windows(14).any(|w| w == b"internal error") {
            problems.push(format!("{ctx}: internal error"));
        }
        let has = |o: &str| args.iter().any(|a| a.as_bytes() == o.as_bytes() || a.as_bytes().starts_with(format!("{o}=").as_bytes()));
        if out.code == 125 {
            rejected += 1;
            if !one_line(&out.stderr) {
                let nl = out.stderr.iter().filter(|&&b| b == b'\n').count();
                problems.push(format!(
                    "{ctx}: not exactly one `sandbox: ` line ({} bytes, {nl} newlines, ends with newline: {})",
                    out.stderr.len(),
                    out.stderr.ends_with(b"\n")
                ));
            }
        } else {
            accepted += 1;
            // Only a real run, or help/version, can get past the parser.
            let plausible = (has("--lower") && has("--name")) || ["-h", "--help", "-V", "--version"].iter().any(|o| has(o));
            if !plausible || out.signal.is_some() {
                problems.push(format!("{ctx}: accepted an invalid command line"));
            }
        }
        // Nothing left in the state dir, except the layer of an accepted --keep run.
        let left: Vec<String> = fs::read_dir(&f.state).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        if !left.is_empty() {
            // The name of the run: the value of its last --name.
            let name_given = |l: &String| {
                args.windows(2).any(|w| w[0] == "--name" && w[1].as_bytes() == l.as_bytes())
                    || args.iter().any(|a| a.as_bytes() == format!("--name={l}").as_bytes())
            };
            if out.code != 125 && has("--keep") && left.len() == 1 && left.iter().all(name_given) {
                for l in &left {
                    fs::remove_dir_all(f.state.join(l)).unwrap();
                }
            } else {
                problems.push(format!("{ctx}: left in the state dir: {left:?}"));
                for l in &left {
                    let _ = fs::remove_dir_all(f.state.join(l));
                }
            }
        }
    }
    eprintln!("fuzz: 300 command lines in {:?}: {rejected} rejected (125), {accepted} accepted", t.elapsed());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(rejected >= 150, "rejected inputs should be the common case: {rejected}");
    f.finish();
}

// 8. stdin, stdout and stderr are the caller's own descriptors, or pipes without loss.
#[test]
fn stdio_is_passed_through_without_loss() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("rstdio");
    let n = f.name("io");

    // stdout and stderr are one file the caller opened: the command writes to that same open
    // file (its offset is shared: what the caller wrote before and after stays in order).
    let path = f.path("out.txt");
    let mut file = fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path).unwrap();
    file.write_all(b"before\n").unwrap();
    let mut c = f.cmd(&n, &[], &["sh", "-c", "echo out; echo err >&2; echo out2"]);
    c.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file.try_clone().unwrap());
    let out = run_raw(c, None, true);
    assert_eq!(out.code, 0);
    file.write_all(b"after\n").unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut content = String::new();
    file.read_to_string(&mut content).unwrap();
    assert_eq!(content, "before\nout\nerr\nout2\nafter\n");

    // stdin from a file.
    let input = f.path("in.txt");
    fs::write(&input, "line 1\nline 2\n").unwrap();
    let mut c = f.cmd(&n, &[], &["sh", "-c", "cat; echo end"]);
    c.stdin(fs::File::open(&input).unwrap()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run_raw(c, None, true);
    assert_eq!((out.code, out.out().as_str()), (0, "line 1\nline 2\nend\n"), "{}", out.err());

    // /dev/null as stdin.
    let out = run_raw(f.cmd(&n, &[], &["sh", "-c", "cat; echo rc=$?"]), None, false);
    assert_eq!((out.code, out.out().as_str(), out.err().as_str()), (0, "rc=0\n", ""));

    // A closed stdin (or stdout) stays closed: no descriptor of sandbox's own takes its place.
    let probe = "for fd in 0 1; do if [ -e /proc/$$/fd/$fd ]; then echo \"$fd open\" >&2; else echo \"$fd closed\" >&2; fi; done";
    for (close, want) in [("<&-", "0 closed\n1 open\n"), (">&-", "0 open\n1 closed\n")] {
        let mut c = Command::new("sh");
        c.args(["-c", &format!("exec {close}; exec \"$0\" \"$@\""), BIN]).args(f.args(&n, &[], &["sh", "-c", probe]));
        c.env_remove("SANDBOX_STATE_DIR");
        let out = run_raw(c, Some(Vec::new()), false);
        assert_eq!((out.code, out.err().as_str()), (0, want), "with {close}");
    }

    // A binary stream through pipes: every byte value, then 10 MB of random bytes.
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend((0..=255u8).rev());
    data.extend(Lcg::new(8).bytes(10 << 20));
    let t = Instant::now();
    let out = run_raw(f.cmd(&n, &[], &["cat"]), Some(data.clone()), false);
    eprintln!("stdio: {} bytes through cat in {:?}", data.len(), t.elapsed());
    assert_eq!(out.code, 0, "{}", out.err());
    assert!(out.stdout.len() == data.len(), "got {} bytes, sent {}", out.stdout.len(), data.len());
    assert!(out.stdout == data, "the stream changed on the way");
    // And the same on stderr, while stdout also flows.
    let out = run_raw(f.cmd(&n, &[], &["sh", "-c", "cat >&2; echo done"]), Some(data.clone()), false);
    assert_eq!((out.code, out.out().as_str()), (0, "done\n"));
    assert!(out.stderr == data, "the stream on stderr changed on the way ({} bytes)", out.stderr.len());
    f.finish();
}
