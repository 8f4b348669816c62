//! Hardening: the state directory another user could write, layers whose `upper` or `work` lead
//! elsewhere, the masks of /proc and /sys, and the size of /tmp. The attacks are carried out for
//! real, by uid 65534 (setpriv), on decoys of their own, and the host is checked afterwards.

mod common;

use common::*;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{chown, symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

const NOBODY: u32 = 65534;

fn mkdir_mode(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Every file under `dir`, with its owner and mode: what must not change.
fn snapshot(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .map(|rel| {
            let m = fs::symlink_metadata(dir.join(rel.trim_end_matches('/'))).unwrap();
            format!("{rel} {} {:o} {}", m.uid(), m.mode(), m.len())
        })
        .collect()
}

/// The attacker's layers: `<dir>/evil/<name>` for each name, whose `upper` has a /bin/sh that,
/// run by root in a sandbox built on it, leaves a marker and a setuid-root copy of busybox in
/// that upper, on the host, where its owner can run it. Owned by 65534.
fn decoy_layers(dir: &Path, names: &[String]) -> PathBuf {
    let evil = dir.join("evil");
    for n in names {
        let l = evil.join(n);
        fs::create_dir_all(l.join("upper/bin")).unwrap();
        fs::create_dir_all(l.join("work")).unwrap();
        let sh = l.join("upper/bin/sh");
        fs::write(&sh, "#!/bin/busybox sh\n/bin/busybox touch /marker\n/bin/busybox cp /bin/busybox /suid\n/bin/busybox chmod 4755 /suid\n").unwrap();
        fs::set_permissions(&sh, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let st = Command::new("chown").args(["-R", "65534:65534"]).arg(&evil).status().unwrap();
    assert!(st.success());
    evil
}

/// Markers or setuid files that the attacker's /bin/sh left anywhere under `dir`.
fn left_by_attacker(dir: &Path) -> Vec<String> {
    listing(dir).into_iter().filter(|p| p.ends_with("/marker") || p.ends_with("/suid")).collect()
}

/// The attacker's racer: `racer DIR WATCH A B DELAY [LINK]` makes B a symlink to LINK if given,
/// says "ready", then polls (a bounded number of times) until DIR/WATCH is a directory, waits
/// DELAY microseconds (the victim locks it, then mounts on it: the attacker aims between the
/// two and tries several delays), exchanges DIR/A and DIR/B (renameat2 RENAME_EXCHANGE: atomic),
/// says "swapped" and exits.
const RACER_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int d = open(argv[1], O_PATH | O_DIRECTORY);
    if (d < 0 || argc < 6) return 2;
    if (argc > 6 && symlinkat(argv[6], d, argv[4])) return 3;
    printf("ready\n");
    fflush(stdout);
    struct stat st;
    for (long i = 0; i < 50000000; i++) {
        if (fstatat(d, argv[2], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
            usleep(atoi(argv[5]));
            if (syscall(SYS_renameat2, d, argv[3], d, argv[4], 2 /* RENAME_EXCHANGE */) == 0) {
                printf("swapped\n");
                return 0;
            }
        }
    }
    return 1;
}
"#;

fn racer_bin() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        fs::create_dir_all(&dir).unwrap();
        let src = dir.join(format!("racer-{}.c", std::process::id()));
        let out = dir.join(format!("racer-{}", std::process::id()));
        fs::write(&src, RACER_C).unwrap();
        let st = Command::new("cc").args(["-O2", "-o"]).arg(&out).arg(&src).status().expect("cc is needed to build the racer");
        assert!(st.success(), "building the racer failed");
        fs::set_permissions(&out, fs::Permissions::from_mode(0o755)).unwrap();
        out
    })
}

/// The racer, started as 65534 and polling; `finish` stops it and says whether it swapped.
struct Racer(Child);

impl Racer {
    fn start(args: &[&Path]) -> Racer {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]).arg(racer_bin()).args(args);
        c.current_dir("/").stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "the racer did not start");
        Racer(child)
    }

    fn finish(mut self) -> bool {
        let _ = self.0.kill();
        let mut rest = String::new();
        let _ = self.0.stdout.take().unwrap().read_to_string(&mut rest);
        let _ = self.0.wait();
        rest.contains("swapped")
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn assert_one_line(out: &Out, start: &str) {
    out.expect(125);
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.starts_with(start), "{out:?}");
    assert!(out.stdout.is_empty(), "the command ran: {out:?}");
}

/// A state directory owned by another user (an explicit --state-dir, or SANDBOX_STATE_DIR kept
/// by `sudo -E`) is refused outright, while its owner stands ready to exchange the layer the
/// moment it appears for a symlink to a layer of theirs whose /bin/sh leaves a setuid-root file.
#[test]
fn a_state_dir_another_user_owns_is_refused_while_they_race() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("hd-own");
    let state = f.path("theirs");
    mkdir_mode(&state, 0o755);
    chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
    let names: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    let evil = decoy_layers(&f.dir, &names);
    let before = snapshot(&evil);
    let sd = state.to_str().unwrap();
    for (i, name) in names.iter().enumerate() {
        let link = format!("x-{name}");
        let delay = (i * 150).to_string();
        let race = Racer::start(&[&state, Path::new(name), Path::new(name), Path::new(&link), Path::new(&delay), &evil.join(name)]);
        let mut c = sandbox_cmd();
        c.args(["--lower", IMAGE, "--name", name]);
        if i % 2 == 0 {
            c.args(["--state-dir", sd]);
        } else {
            c.env("SANDBOX_STATE_DIR", sd);
        }
        c.args(["--", "sh", "-c", "echo ran"]);
        let out = run_cmd(c, b"");
        assert!(!race.finish(), "a layer appeared in their state directory: {out:?}");
        assert_one_line(&out, "sandbox: state directory not yours alone: ");
        assert!(out.stderr.contains(sd), "{out:?}");
        fs::remove_file(state.join(&link)).unwrap();
    }
    assert_eq!(left_by_attacker(&f.dir), Vec::<String>::new(), "root ran the attacker's /bin/sh");
    assert_eq!(snapshot(&evil), before, "the attacker's layers were touched");
    assert_dir_empty(&state);
    f.finish();
}

/// A state directory of root's that others can write (group, others, or a sticky /tmp-like
/// one) is refused, and nothing is made in it.
#[test]
fn a_state_dir_others_can_write_is_refused() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("hd-mode");
    for mode in [0o775, 0o757, 0o1777, 0o770] {
        let state = f.path(&format!("st-{mode:o}"));
        mkdir_mode(&state, mode);
        let mut c = sandbox_cmd();
        c.args(["--lower", IMAGE, "--name", "a", "--state-dir", state.to_str().unwrap(), "--", "sh", "-c", "echo ran"]);
        let out = run_cmd(c, b"");
        assert_one_line(&out, "sandbox: state directory not yours alone: ");
        assert!(out.stderr.contains("chmod go-w"), "no hint: {out:?}");
        assert_dir_empty(&state);
        assert_eq!(fs::metadata(&state).unwrap().mode() & 0o7777, mode, "the state directory was changed");
    }
    // Made by this run (missing): it is ours, mode 0700, and taken away again at the end.
    let made = f.path("made/state");
    fs::create_dir(f.path("made")).unwrap();
    let mut c = sandbox_cmd();
    c.args(["--lower", IMAGE, "--name", "a", "--state-dir", made.to_str().unwrap(), "--", "true"]);
    run_cmd(c, b"").expect(0);
    assert_eq!(fs::metadata(&made).unwrap().mode() & 0o777, 0o700);
    assert_dir_empty(&made);
    f.finish();
}

/// Root's own state directory in a directory another user owns: they cannot take the state
/// directory (it is root's), but they can exchange it, the moment a layer appears in it, for one
/// of theirs holding a layer of that name with their /bin/sh. The sandbox's root is built on the
/// directory the outer process locked, or the run stops: however each race goes, root never
/// runs their /bin/sh.
#[test]
fn a_state_dir_swapped_under_its_path_is_noticed() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("hd-swap");
    let parent = f.path("parent");
    mkdir_mode(&parent, 0o755);
    chown(&parent, Some(NOBODY), Some(NOBODY)).unwrap();
    let names: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    let evil = decoy_layers(&f.dir, &names);
    let (mut ran, mut stopped, mut swapped) = (0, 0, 0);
    for (i, name) in names.iter().enumerate() {
        // Root's state directory; theirs beside it, with their layer under the name started.
        let state = parent.join("state");
        let _ = fs::remove_dir_all(&state);
        mkdir_mode(&state, 0o755);
        let theirs = parent.join("x-state");
        let _ = fs::remove_dir_all(&theirs);
        fs::create_dir(&theirs).unwrap();
        let st = Command::new("cp").arg("-a").arg(evil.join(name)).arg(theirs.join(name)).status().unwrap();
        assert!(st.success());
        let st = Command::new("chown").args(["-R", "65534:65534"]).arg(&theirs).status().unwrap();
        assert!(st.success());
        let watch = format!("state/{name}");
        let delay = (i * 100).to_string();
        let race = Racer::start(&[&parent, Path::new(&watch), Path::new("state"), Path::new("x-state"), Path::new(&delay)]);
        let mut c = sandbox_cmd();
        c.args(["--lower", IMAGE, "--name", name, "--state-dir", state.to_str().unwrap(), "--", "sh", "-c", "echo ran"]);
        let out = run_cmd(c, b"");
        swapped += race.finish() as u32;
        match out.code {
            0 => {
                assert_eq!(out.stdout, "ran\n", "{out:?}");
                ran += 1;
            }
            125 => {
                assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
                assert!(out.stderr.starts_with("sandbox: writable layer replaced while starting: "), "{out:?}");
                assert!(out.stdout.is_empty(), "{out:?}");
                stopped += 1;
            }
            _ => panic!("{out:?}"),
        }
        assert_eq!(left_by_attacker(&f.dir), Vec::<String>::new(), "root ran the attacker's /bin/sh: {out:?}");
    }
    eprintln!("{ran} runs ran, {stopped} stopped; the attacker exchanged the state directory {swapped} times");
    f.finish();
}

/// A kept layer whose `upper` or `work` is a symlink (to a decoy directory with a file of its
/// own and what overlayfs leaves in a work directory) is refused and left as it is; one left by
/// a killed run (no keep marker) is discarded without following them. The decoy is untouched.
#[test]
fn a_layer_whose_upper_or_work_is_a_symlink_is_not_followed() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("hd-link");
    let decoy = f.path("decoy");
    fs::create_dir_all(decoy.join("work/incompat/volatile")).unwrap();
    fs::create_dir_all(decoy.join("index")).unwrap();
    fs::write(decoy.join("work/incompat/volatile/dirty"), "").unwrap();
    fs::write(decoy.join("precious"), "root's\n").unwrap();
    let before = snapshot(&decoy);
    for (sub, keep) in [("upper", true), ("work", true), ("upper", false), ("work", false)] {
        let n = f.name(&format!("{sub}-{keep}"));
        f.run(&n, &["--keep"], &["sh", "-c", "echo kept > /k"]).expect(0);
        let layer = f.layer(&n);
        fs::remove_dir_all(layer.join(sub)).unwrap();
        symlink(&decoy, layer.join(sub)).unwrap();
        if !keep {
            fs::remove_file(layer.join("keep")).unwrap();
        }
        let kept = snapshot(&layer);
        let out = f.run(&n, &[], &["sh", "-c", "echo ran; echo x > /owned; rm -f /precious"]);
        if keep {
            assert_one_line(&out, "sandbox: writable layer: ");
            assert!(out.stderr.contains("not symlinks"), "{out:?}");
            assert_eq!(snapshot(&layer), kept, "the refused layer was changed");
            fs::remove_dir_all(&layer).unwrap();
        } else {
            // Left by a killed run: discarded (the symlink removed, not followed), made afresh.
            out.expect(0);
            assert_eq!(out.stdout, "ran\n");
            assert!(!layer.exists());
        }
        assert_eq!(snapshot(&decoy), before, "the decoy was touched through {sub}");
    }
    f.finish();
}

/// Root removes a layer after its run while whoever can write it (a process inside, or one on
/// the host holding a directory fd the sandbox sent out, over an abstract socket with --net host)
/// moves the directory being emptied higher up in the layer: 4 levels, the test acting on the
/// host with the path of `upper`. A climb back by `..`, counted in levels, would now end 4 levels
/// above `upper`: the state directory is placed in a tree of decoys (files beside it and above
/// it, another sandbox's kept layer beside this one) where that over-shoot lands on them, never
/// on the host's own directories. The decoys are untouched and the layer is gone. Tried until
/// the move lands while root is emptying the directory (the race is wide: 20,000 files).
#[test]
fn a_directory_moved_up_while_its_layer_is_removed_leads_nowhere_outside() {
    if !require_root() {
        return;
    }
    const FILES: usize = 20000;
    let f = Fixture::new("hd-climb");
    let decoy = f.path("decoy");
    let state = decoy.join("a/b/state");
    fs::create_dir_all(state.join("other/upper")).unwrap();
    for d in ["", "a", "a/b", "a/b/state/other/upper"] {
        fs::write(decoy.join(d).join("keep"), "root's\n").unwrap();
    }
    let before = snapshot(&decoy);
    // upper/top is 1 deep, d10 11; moved under d5 it is 7 deep.
    let chain = "top/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10";
    let script = format!("mkdir -p /{chain} && cd /{chain} && seq {FILES} | sed s/^/f/ | xargs touch && echo up > /up; read _; true");
    let (mut tries, mut landed) = (0, 0);
    while landed == 0 && tries < 5 {
        tries += 1;
        let n = f.name(&format!("v{tries}"));
        let layer = state.join(&n);
        let mut c = sandbox_cmd();
        c.args(["--lower", IMAGE, "--name", &n, "--state-dir", state.to_str().unwrap(), "--", "sh", "-c", &script]);
        let mut run = spawn_held(c);
        let upper = layer.join("upper");
        wait_for_event("the files", || upper.join("up").exists());
        // The order root reads them in: the first gone means root is in d10, the last still
        // there after the move that it was moved under root.
        let d10 = upper.join(chain);
        let names: Vec<_> = fs::read_dir(&d10).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), FILES);
        let first = d10.join(&names[0]);
        run.release();
        let deadline = Instant::now() + TIMEOUT;
        while fs::symlink_metadata(&first).is_ok() {
            assert!(Instant::now() < deadline, "the layer was not removed");
            std::thread::yield_now();
        }
        let moved = upper.join("top/d1/d2/d3/d4/d5/d10");
        if fs::rename(&d10, &moved).is_ok() && fs::symlink_metadata(moved.join(&names[FILES - 1])).is_ok() {
            landed += 1;
        }
        let out = run.wait();
        assert_eq!(snapshot(&decoy), before, "the decoys were touched or the layer is left: {out:?}");
        out.expect(0);
        assert!(!layer.exists());
    }
    eprintln!("the move landed while root emptied the directory in {landed} of {tries} tries");
    assert_eq!(landed, 1, "the move never landed while root emptied the directory");
    f.finish();
}

/// Without --state-dir: /run/sandbox for root; not root, $XDG_RUNTIME_DIR/sandbox when that is
/// the caller's, else /tmp/sandbox-UID. All work, and are left empty.
#[test]
fn the_default_state_dirs_still_work() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("hd-default");
    let n = f.name("r");
    let mut c = sandbox_cmd();
    c.args(["--lower", IMAGE, "--name", &n, "--", "sh", "-c", "echo ran"]);
    let out = run_cmd(c, b"");
    out.expect(0);
    assert_eq!(out.stdout, "ran\n");
    assert!(!Path::new("/run/sandbox").join(&n).exists());
    let xdg = f.path("xdg");
    mkdir_mode(&xdg, 0o700);
    chown(&xdg, Some(NOBODY), Some(NOBODY)).unwrap();
    for with_xdg in [true, false] {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--", BIN, "--lower", IMAGE, "--name", &n, "--", "sh", "-c", "echo ran"]);
        c.env_remove("SANDBOX_STATE_DIR").current_dir("/");
        if with_xdg {
            c.env("XDG_RUNTIME_DIR", &xdg);
        } else {
            c.env_remove("XDG_RUNTIME_DIR");
        }
        let out = run_cmd(c, b"");
        out.expect(0);
        assert_eq!(out.stdout, "ran\n");
        let sd = if with_xdg { xdg.join("sandbox") } else { PathBuf::from(format!("/tmp/sandbox-{NOBODY}")) };
        let m = fs::metadata(&sd).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o777), (NOBODY, 0o700), "{}", sd.display());
        assert!(!sd.join(&n).exists());
    }
    f.finish();
}

/// The masks on this host (those of its kernel's files that exist): masked files read empty and
/// cannot be written, masked directories list nothing and take nothing, /dev keeps nothing of
/// the masking. Root, rootless, and rootless with the host's /sys (--net host).
#[test]
fn masked_files_read_empty_and_refuse_writes() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("hd-mask");
    let files = "/proc/interrupts /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list /proc/timer_stats \
                 /proc/sched_debug /proc/sysrq-trigger /proc/config.gz";
    let dirs = "/proc/asound /proc/acpi /proc/scsi /sys/firmware /sys/devices/virtual/powercap";
    let script = format!(
        "for p in {files}; do [ -e $p ] || continue; echo \"file $p $(wc -c < $p) $( (echo x > $p) 2>/dev/null && echo written || echo refused)\"; done; \
         for p in {dirs}; do [ -e $p ] || continue; echo \"dir $p $(ls -A $p | wc -l) $(touch $p/x 2>/dev/null && echo written || echo refused)\"; done; \
         echo \"dev $(ls -A /dev | tr '\\n' ' ')\""
    );
    let host_has = |p: &str| Path::new(p).exists();
    let want: Vec<&str> = files.split_whitespace().chain(dirs.split_whitespace()).filter(|p| host_has(p)).collect();
    assert!(want.contains(&"/sys/firmware"), "this host has no /sys/firmware to mask");
    let state = f.path("nobody-state");
    mkdir_mode(&state, 0o700);
    chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
    for (who, net) in [("root", "none"), ("rootless", "none"), ("rootless", "host")] {
        let args: Vec<String> = vec!["--net".into(), net.into()];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = if who == "root" {
            f.run(&f.name("r"), &args, &["sh", "-c", &script])
        } else {
            let mut c = Command::new("setpriv");
            c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--", BIN, "--lower", IMAGE]);
            c.args(["--name", "m", "--state-dir"]).arg(&state).args(&args).args(["--", "sh", "-c", &script]);
            c.env_remove("XDG_RUNTIME_DIR").env_remove("SANDBOX_STATE_DIR").current_dir("/");
            run_cmd(c, b"")
        };
        out.expect(0);
        let seen: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with("dev ")).collect();
        assert_eq!(seen.len(), want.len(), "{who} --net {net}: {out:?}");
        for l in &seen {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(&w[2..], ["0", "refused"], "{who} --net {net}: {l} is not masked");
        }
        let dev = out.stdout.lines().find(|l| l.starts_with("dev ")).unwrap();
        assert!(!dev.contains(".blank"), "{who}: {dev}");
    }
    f.finish();
}

/// /tmp has a size: 10% of RAM by default, --tmp-size to choose it, and it holds no more.
#[test]
fn tmp_has_a_size() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("hd-tmp");
    let size_of_tmp = |opts: &[&str], extra: &str| {
        let out = f.run(&f.name("t"), opts, &["sh", "-c", &format!("grep ' /tmp ' /proc/mounts; {extra}")]);
        out.expect(0);
        let opt = out.stdout.split([' ', ',']).find_map(|o| o.strip_prefix("size=").map(str::to_string));
        (opt.unwrap_or_else(|| panic!("no size for /tmp: {out:?}")), out)
    };
    let (size, _) = size_of_tmp(&[], "");
    let mem_kb: u64 = fs::read_to_string("/proc/meminfo").unwrap().lines().find_map(|l| l.strip_prefix("MemTotal:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap();
    let kb: u64 = size.trim_end_matches('k').parse().unwrap();
    assert!(kb.abs_diff(mem_kb / 10) <= 8, "/tmp is {size}, 10% of {mem_kb} kB expected");
    let (size, out) = size_of_tmp(&["--tmp-size", "5M"], "dd if=/dev/zero of=/tmp/big bs=1M count=6 2>&1; echo dd=$?");
    assert_eq!(size, "5120k");
    assert!(out.stdout.contains("dd=1") && out.stdout.contains("No space left"), "{out:?}");
    for bad in ["0", "5Q", "1.5G", "-1", "99999999999999999999"] {
        let out = f.run(&f.name("bad"), &["--tmp-size", bad], &["sh", "-c", "echo ran"]);
        assert_one_line(&out, &format!("sandbox: invalid --tmp-size: {bad} ("));
        assert_dir_empty(&f.state);
    }
    f.finish();
}
