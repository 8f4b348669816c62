//! Integration tests: the real binary, real namespaces (as root). Each test has its own state
//! directory and sandbox names, so they run in parallel; after each, the host's mount table is
//! as before and the state directory is empty (`Fixture::finish`).

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;


fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

/// Bad input: status 125, exactly one line on stderr starting `sandbox: ` and containing `what`.
fn assert_one_error_line(out: &Out, what: &str) {
    out.expect(125);
    assert!(out.stderr.ends_with('\n'), "stderr not a whole line: {out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "not one line on stderr: {out:?}");
    assert!(out.stderr.starts_with("sandbox: "), "stderr: {:?}", out.stderr);
    assert!(out.stderr.contains(what), "stderr {:?} does not name {what:?}", out.stderr);
}

/// The interface names of a /proc/net/dev.
fn net_dev_names(s: &str) -> BTreeSet<String> {
    s.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_string()).collect()
}

// 1.
#[test]
fn two_sandboxes_on_one_image_are_isolated() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("iso");
    let (a, b) = (f.name("a"), f.name("b"));
    // A runs until the test lets it end (it reads its stdin, which the test holds open).
    let mut run_a = spawn_held(f.cmd(&a, &[], &["sh", "-c", "echo hi > /x; cat /x; read _ || :"]));
    let upper_x = f.upper(&a).join("x");
    wait_for_event(&format!("A's write in {} while it runs", upper_x.display()), || {
        fs::read_to_string(&upper_x).is_ok_and(|s| s == "hi\n")
    });
    // B, on the same image while A runs, does not see A's file.
    let out = f.run(&b, &[], &["sh", "-c", "if [ -e /x ]; then echo seen; else echo absent; fi; echo b > /y"]);
    out.expect(0);
    assert_eq!(out.stdout, "absent\n");
    assert!(!f.layer(&b).exists(), "B's layer is left behind");
    // A does not see B's file either, and the image has neither.
    assert!(!f.upper(&a).join("y").exists());
    assert!(!Path::new(IMAGE).join("x").exists(), "the image was written to");
    assert!(!Path::new(IMAGE).join("y").exists(), "the image was written to");
    assert!(run_a.running(), "A ended before the test let it");
    assert!(fs::read_to_string(&upper_x).unwrap() == "hi\n", "A's layer changed while it runs");
    run_a.release();
    let out = run_a.wait();
    out.expect(0);
    assert_eq!(out.stdout, "hi\n");
    assert!(!f.layer(&a).exists(), "A's layer is left behind");
    // Run again on the same image: a clean root.
    let out = f.run(&a, &[], &["sh", "-c", "test -e /x || echo clean"]);
    out.expect(0);
    assert_eq!(out.stdout, "clean\n");
    f.finish();
}

// 2.
#[test]
fn keep_resumes_then_discards() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("keep");
    let n = f.name("k");
    f.run(&n, &["--keep"], &["sh", "-c", "echo kept > /file"]).expect(0);
    let file = f.upper(&n).join("file");
    assert_eq!(fs::read_to_string(&file).expect("the kept layer lost the file"), "kept\n");
    assert!(!Path::new(IMAGE).join("file").exists());
    // Resume without --keep: the file is there, then the layer is discarded.
    let out = f.run(&n, &[], &["sh", "-c", "cat /file && echo more >> /file"]);
    out.expect(0);
    assert_eq!(out.stdout, "kept\n");
    assert!(!f.layer(&n).exists(), "the layer was not discarded: {:?}", listing(&f.layer(&n)));
    // And it is really gone: the next run starts clean.
    let out = f.run(&n, &[], &["sh", "-c", "test -e /file && echo present || echo gone"]);
    out.expect(0);
    assert_eq!(out.stdout, "gone\n");
    f.finish();
}

// 3.
#[test]
fn two_lowers_first_is_top() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("lowers");
    let top = f.path("top");
    fs::create_dir_all(top.join("etc")).unwrap();
    fs::write(top.join("etc/passwd"), "top-passwd\n").unwrap();
    fs::write(top.join("only-top"), "only in top\n").unwrap();
    let image_passwd = fs::read_to_string(Path::new(IMAGE).join("etc/passwd")).unwrap();
    assert_ne!(image_passwd, "top-passwd\n");
    let n = f.name("l");
    let args = vec![
        "--lower".to_string(),
        top.to_string_lossy().into_owned(),
        "--lower".into(),
        IMAGE.into(),
        "--name".into(),
        n.clone(),
        "--state-dir".into(),
        f.state.to_string_lossy().into_owned(),
        "sh".into(),
        "-c".into(),
        "cat /etc/passwd; cat /only-top; cat /etc/group | head -n 1".into(),
    ];
    let out = run(&args, b"");
    out.expect(0);
    let group_first = fs::read_to_string(Path::new(IMAGE).join("etc/group")).unwrap().lines().next().unwrap().to_string();
    assert_eq!(out.stdout, format!("top-passwd\nonly in top\n{group_first}\n"));
    // Neither lower changed.
    assert_eq!(fs::read_to_string(top.join("etc/passwd")).unwrap(), "top-passwd\n");
    assert_eq!(fs::read_to_string(Path::new(IMAGE).join("etc/passwd")).unwrap(), image_passwd);
    f.finish();
}

// 4.
#[test]
fn hostname_is_the_name_unless_given() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("host");
    let host_before = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let n = f.name("hn1");
    let out = f.run(&n, &[], &["sh", "-c", "hostname; cat /proc/sys/kernel/hostname"]);
    out.expect(0);
    assert_eq!(out.stdout, format!("{n}\n{n}\n"));
    let out = f.run(&n, &["--hostname", "other.example"], &["hostname"]);
    out.expect(0);
    assert_eq!(out.stdout, "other.example\n");
    assert_eq!(fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_before, "host's hostname changed");
    f.finish();
}

// 5.
#[test]
fn command_is_not_pid1_and_sees_only_the_sandbox() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("pid");
    let n = f.name("p");
    let out = f.run(
        &n,
        &[],
        &["sh", "-c", "echo $$; echo ---; ls /proc; echo ---; cat /proc/1/cmdline | tr '\\0' '\\n'; echo ---; ps -o pid,comm"],
    );
    out.expect(0);
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{out:?}");
    let me: u32 = parts[0].trim().parse().expect("echo $$");
    assert_ne!(me, 1, "the command is PID 1");
    let pids: BTreeSet<u32> = parts[1].lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert!(pids.contains(&1) && pids.contains(&me), "pids {pids:?}");
    assert!(pids.len() <= 4, "more processes than the sandbox's: {pids:?}");
    assert!(!pids.contains(&std::process::id()), "the test's own pid is visible inside");
    // PID 1 is sandbox's own init: its command line is the outer process's.
    let init_argv: Vec<&str> = parts[2].lines().collect();
    assert_eq!(init_argv.first().copied(), Some(BIN), "PID 1 is not sandbox: {init_argv:?}");
    assert!(init_argv.contains(&n.as_str()));
    // ps agrees: PID 1, the shell and ps itself at most.
    let ps: Vec<&str> = parts[3].lines().skip(1).collect();
    assert!(ps.len() <= 3, "ps sees too much: {ps:?}");
    assert!(ps.iter().any(|l| l.split_whitespace().next() == Some("1")), "{ps:?}");
    f.finish();
}

// 6.
#[test]
fn network_none_has_only_lo_up_and_host_shares() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("net");
    let n = f.name("n");
    let out = f.run(
        &n,
        &[],
        &["sh", "-c", "cat /proc/net/dev; echo ---; cat /sys/class/net/lo/flags; echo ---; ip addr show lo; echo ---; ls /sys/class/net"],
    );
    out.expect(0);
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{out:?}");
    assert_eq!(net_dev_names(parts[0]), BTreeSet::from(["lo".to_string()]));
    let flags = u32::from_str_radix(parts[1].trim().trim_start_matches("0x"), 16).expect("lo flags");
    assert_eq!(flags & 1, 1, "lo is not up: flags {flags:#x}");
    assert!(parts[2].contains("UP"), "ip addr: {}", parts[2]);
    assert!(parts[2].contains("inet 127.0.0.1/8"), "ip addr: {}", parts[2]);
    assert_eq!(parts[3].split_whitespace().collect::<Vec<_>>(), ["lo"]);
    // Loopback works.
    let out = f.run(&n, &[], &["ping", "-c", "1", "-W", "2", "127.0.0.1"]);
    out.expect(0);

    // --net host: the host's interfaces.
    let host = net_dev_names(&fs::read_to_string("/proc/net/dev").unwrap());
    let out = f.run(&n, &["--net", "host"], &["cat", "/proc/net/dev"]);
    out.expect(0);
    assert_eq!(net_dev_names(&out.stdout), host);
    f.finish();
}

// 7.
#[test]
fn mounts_and_dev_inside() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("mnt");
    let n = f.name("m");
    let script = "cat /proc/mounts; echo ---; \
        for d in null zero full random urandom tty; do test -c /dev/$d && echo chr-$d; done; \
        for l in fd stdin stdout stderr ptmx; do test -L /dev/$l && echo link-$l; done; \
        test -d /dev/shm && echo dir-shm; test -d /dev/pts && echo dir-pts; test -e /dev/ptmx && echo ptmx-resolves; \
        echo ---; echo x > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c; \
        if echo x > /dev/full; then echo full-accepted; else echo full-refused; fi; \
        if touch /sys/x 2>/dev/null; then echo sys-writable; else echo sys-ro; fi; \
        touch /tmp/t && echo tmp-ok";
    let out = f.run(&n, &[], &["sh", "-c", script]);
    out.expect(0);
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{out:?}");
    let mounts: BTreeMap<&str, (&str, &str)> = parts[0]
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[1], (w[2], w[3]))
        })
        .collect();
    let fstypes: BTreeMap<&str, &str> = mounts.iter().map(|(k, v)| (*k, v.0)).collect();
    let want = BTreeMap::from([
        ("/", "overlay"),
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/sys", "sysfs"),
        ("/tmp", "tmpfs"),
    ]);
    for (mp, fs) in &want {
        assert_eq!(fstypes.get(mp), Some(fs), "{mp} is not {fs}; mounts inside: {}", parts[0]);
    }
    // The old root is gone: none of the host's other mount points is mounted inside (mounts
    // under /proc, /dev and /sys, such as masks of /proc files, are the sandbox's own).
    // /etc/hosts: the localhost entries of a sandbox with a network of its own (the image has none).
    let ours = |mp: &str| ["/proc/", "/dev/", "/sys/"].iter().any(|p| mp.starts_with(p)) || want.contains_key(mp) || mp == "/etc/hosts";
    let host_only: BTreeSet<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(4).unwrap().to_string())
        .filter(|mp| !ours(mp))
        .collect();
    for mp in fstypes.keys() {
        assert!(ours(mp) || !host_only.contains(*mp), "a host mount is visible inside: {mp}");
        assert!(ours(mp), "an unexpected mount inside: {mp}; mounts inside: {}", parts[0]);
    }
    assert!(mounts["/sys"].1.split(',').any(|o| o == "ro"), "/sys is not read-only: {:?}", mounts["/sys"]);
    let checks: BTreeSet<&str> = parts[1].lines().collect();
    for want in [
        "chr-null", "chr-zero", "chr-full", "chr-random", "chr-urandom", "chr-tty", "link-fd", "link-stdin",
        "link-stdout", "link-stderr", "link-ptmx", "dir-shm", "dir-pts", "ptmx-resolves",
    ] {
        assert!(checks.contains(want), "/dev lacks {want}: {checks:?}");
    }
    let r: Vec<&str> = lines(parts[2]).iter().map(|l| l.trim()).collect();
    assert_eq!(r, ["null-ok", "5", "full-refused", "sys-ro", "tmp-ok"], "{out:?}");
    f.finish();
}

// 8.
#[test]
fn exit_statuses() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("exit");
    let n = f.name("e");
    f.run(&n, &[], &["true"]).expect(0);
    f.run(&n, &[], &["false"]).expect(1);
    f.run(&n, &[], &["sh", "-c", "exit 7"]).expect(7);
    f.run(&n, &[], &["sh", "-c", "kill -9 $$"]).expect(137);
    f.run(&n, &[], &["sh", "-c", "kill -TERM $$"]).expect(143);
    let out = f.run(&n, &["--frob"], &["true"]);
    assert_one_error_line(&out, "--frob");

    let out = f.run(&n, &[], &["/etc/passwd"]);
    out.expect(126);
    assert!(out.stderr.starts_with("sandbox: "), "{out:?}");
    assert!(out.stderr.lines().next().unwrap().contains("/etc/passwd"), "{out:?}");
    let out = f.run(&n, &[], &["/etc"]);
    out.expect(126);
    assert!(out.stderr.starts_with("sandbox: ") && out.stderr.contains("/etc"), "{out:?}");

    let out = f.run(&n, &[], &["no-such-command", "arg"]);
    out.expect(127);
    assert!(out.stderr.starts_with("sandbox: "), "{out:?}");
    assert!(out.stderr.lines().next().unwrap().contains("no-such-command"), "{out:?}");
    let out = f.run(&n, &[], &["/no/such/path"]);
    out.expect(127);
    assert!(out.stderr.starts_with("sandbox: ") && out.stderr.contains("/no/such/path"), "{out:?}");
    f.finish();
}

/// The /proc/*/stat lines of a dump: (pid, comm, state, ppid).
fn stats(dump: &str) -> Vec<(u32, String, char, u32)> {
    dump.lines().filter_map(parse_stat).collect()
}

// 9.
#[test]
fn orphans_are_reaped() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("orph");
    let n = f.name("o");
    // 40 subshells leave a sleep each to PID 1; once all 40 are PID 1's, the shell kills them
    // and waits until they are gone from /proc (an unreaped one stays there as a zombie).
    let script = format!("{ORPHANS}; orphans 40 1; cat /proc/[0-9]*/stat; echo ---; \
                  gone 1; cat /proc/[0-9]*/stat");
    let out = f.run(&n, &[], &["sh", "-c", &script]);
    out.expect(0);
    let (during, after) = out.stdout.split_once("---\n").expect("two dumps");
    let during = stats(during);
    let orphans = during.iter().filter(|p| p.1 == "sleep" && p.3 == 1).count();
    assert_eq!(orphans, 40, "not every orphan was adopted by PID 1: {during:?}");
    let after = stats(after);
    let zombies: Vec<_> = after.iter().filter(|p| p.2 == 'Z').collect();
    assert!(zombies.is_empty(), "zombies after the orphans ended: {zombies:?}");
    assert!(after.iter().all(|p| p.1 != "sleep"), "orphans left: {after:?}");
    f.finish();
}

// 9b.
#[test]
fn what_is_left_inside_dies_with_the_command() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("left");
    let n = f.name("l");
    let marker = format!("{}", 700_000_000 + std::process::id());
    // The shell waits until the orphan runs, lists every command line, and exits.
    let script = format!(
        "cmdlines() {{ for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null; }}; \
         (sleep {marker} &); until cmdlines | grep -qx 'sleep {marker} '; do sleep 0.01; done; cmdlines; exit 4"
    );
    let out = f.run(&n, &[], &["sh", "-c", &script]);
    out.expect(4);
    assert!(
        out.stdout.lines().any(|l| l.trim_end() == format!("sleep {marker}")),
        "the orphan did not run: {out:?}"
    );
    wait_for_event("the processes left in the sandbox to die with it", || procs_with_arg(&marker).is_empty());
    f.finish();
}

fn signal_reaches_command(tag: &str, sig: i32, signame: &str, code: i32) {
    let f = Fixture::new(tag);
    let n = f.name("s");
    let script = format!(
        "trap 'echo got-{signame}; exit {code}' {signame}; echo r > /ready; while true; do sleep 0.1; done"
    );
    let r = f.start(&n, &[], &["sh", "-c", &script]);
    let ready = f.upper(&n).join("ready");
    wait_for_event("the command to start (its trap set)", || ready.exists());
    r.signal(sig);
    let out = r.wait();
    out.expect(code);
    assert_eq!(out.stdout, format!("got-{signame}\n"));
    f.finish();
}

// 10.
#[test]
fn sigterm_to_the_outer_process_reaches_the_command() {
    if !require_root() {
        return;
    }
    signal_reaches_command("sigterm", SIGTERM, "TERM", 3);
}

#[test]
fn sigusr1_to_the_outer_process_reaches_the_command() {
    if !require_root() {
        return;
    }
    signal_reaches_command("sigusr1", SIGUSR1, "USR1", 4);
}

// 11.
#[test]
fn sigkill_of_the_outer_process_kills_everything_inside() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("kill9");
    let n = f.name("k");
    let marker = format!("{}", 800_000_000 + std::process::id());
    let script = format!("echo s > /started; exec sleep {marker}");
    let r = f.start(&n, &[], &["sh", "-c", &script, "sh", &marker]);
    let started = f.upper(&n).join("started");
    wait_for_event("the command to start", || started.exists());
    // The outer process, PID 1 inside and the sleep all carry the marker.
    wait_for_event("the outer process, init and the sleep, each with the marker", || {
        procs_with_arg(&marker).len() >= 3
    });
    r.signal(SIGKILL);
    let out = r.wait();
    assert_eq!(out.code, 128 + SIGKILL);
    wait_for_event("the processes of the sandbox to die with its outer process", || {
        procs_with_arg(&marker).is_empty()
    });
    // The killed run could not clean up: its layer is still there ...
    assert!(started.exists(), "the killed run's layer: {:?}", listing(&f.state));
    // ... and is discarded at the next start of the name.
    let out = f.run(&n, &[], &["sh", "-c", "test -e /started && echo stale || echo clean"]);
    out.expect(0);
    assert_eq!(out.stdout, "clean\n");
    f.finish();
}

// 12.
#[test]
fn environment_and_cwd() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("env");
    let n = f.name("e");
    let mut c = f.cmd(&n, &["--env", "A=1", "--env", "B=two words"], &["env"]);
    c.env("TERM", "xterm-test").env("FOO_HOST", "1").env("HOME", "/home/host");
    let out = run_cmd(c, b"");
    out.expect(0);
    let got: BTreeSet<&str> = out.stdout.lines().collect();
    let want = BTreeSet::from([
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root",
        "TERM=xterm-test",
        "A=1",
        "B=two words",
    ]);
    assert_eq!(got, want);
    assert_eq!(out.stdout.lines().count(), want.len(), "duplicates: {}", out.stdout);

    // No TERM in the caller's environment: none inside.
    let mut c = f.cmd(&n, &[], &["env"]);
    c.env_remove("TERM");
    let out = run_cmd(c, b"");
    out.expect(0);
    assert!(!out.stdout.lines().any(|l| l.starts_with("TERM=")), "{}", out.stdout);

    // --env replaces the standard PATH, and the command is searched in it.
    let out = f.run(&n, &["--env", "PATH=/bin"], &["/usr/bin/env"]);
    out.expect(0);
    let paths: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("PATH=")).collect();
    assert_eq!(paths, ["PATH=/bin"]);
    let out = f.run(&n, &["--env", "PATH=/bin"], &["env"]); // env is in /usr/bin only
    out.expect(127);
    assert!(fs::symlink_metadata(Path::new(IMAGE).join("usr/bin/env")).is_ok());
    assert!(fs::symlink_metadata(Path::new(IMAGE).join("bin/env")).is_err());

    // --cwd.
    let out = f.run(&n, &[], &["pwd"]);
    out.expect(0);
    assert_eq!(out.stdout, "/\n");
    let out = f.run(&n, &["--cwd", "/tmp"], &["pwd"]);
    out.expect(0);
    assert_eq!(out.stdout, "/tmp\n");
    let out = f.run(&n, &["--cwd", "/no/such"], &["pwd"]);
    assert_one_error_line(&out, "/no/such");
    assert_eq!(out.stdout, "");
    assert_dir_empty(&f.state);
    f.finish();
}

// 13.
#[test]
fn binds_rw_ro_created_targets_and_files() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("bind");
    let n = f.name("b");
    let rw = f.path("rw");
    let ro = f.path("ro");
    let deep = f.path("deep");
    let file = f.path("file.txt");
    fs::create_dir(&rw).unwrap();
    fs::create_dir(&ro).unwrap();
    fs::create_dir(&deep).unwrap();
    fs::write(ro.join("r"), "read me\n").unwrap();
    fs::write(deep.join("d"), "deep\n").unwrap();
    fs::write(&file, "file content\n").unwrap();
    let (rw_s, ro_s, deep_s, file_s) =
        (rw.to_string_lossy(), ro.to_string_lossy(), deep.to_string_lossy(), file.to_string_lossy());
    let binds = [
        format!("{rw_s}:/data"),
        format!("{ro_s}:/ro"),
        format!("{deep_s}:/new/deep/dir"),
        format!("{file_s}:/etc/injected"),
    ];
    let script = "echo inside > /data/w; cat /ro/r; \
        if touch /ro/y 2>/dev/null; then echo ro-writable; else echo ro-denied; fi; \
        cat /new/deep/dir/d; test -f /etc/injected && echo is-file; cat /etc/injected; \
        echo changed > /etc/injected";
    let out = f.run(
        &n,
        &["--keep", "--bind", &binds[0], "--ro-bind", &binds[1], "--bind", &binds[2], "--bind", &binds[3]],
        &["sh", "-c", script],
    );
    out.expect(0);
    assert_eq!(out.stdout, "read me\nro-denied\ndeep\nis-file\nfile content\n", "{out:?}");
    assert_eq!(fs::read_to_string(rw.join("w")).unwrap(), "inside\n");
    assert!(!ro.join("y").exists());
    assert_eq!(fs::read_to_string(ro.join("r")).unwrap(), "read me\n");
    assert_eq!(fs::read_to_string(&file).unwrap(), "changed\n");
    // The targets that were missing were made in the writable layer, never in the image.
    let upper = f.upper(&n);
    assert!(upper.join("new/deep/dir").is_dir(), "{:?}", listing(&upper));
    assert!(upper.join("data").is_dir(), "{:?}", listing(&upper));
    assert!(upper.join("etc/injected").is_file(), "{:?}", listing(&upper));
    for p in ["new", "data", "ro", "etc/injected"] {
        assert!(!Path::new(IMAGE).join(p).exists(), "{p} was made in the image");
    }
    // Nothing written through the binds landed in the layer.
    assert!(!upper.join("data/w").exists());
    assert_eq!(fs::read(upper.join("etc/injected")).unwrap(), b"");
    // Discard the kept layer.
    f.run(&n, &[], &["true"]).expect(0);
    assert!(!f.layer(&n).exists());
    f.finish();
}

// 14.
#[test]
fn bad_input_is_refused_before_anything_exists() {
    let f = Fixture::new("bad");
    // The state directory given is one that does not exist yet: it must not be made.
    let state = f.path("state-new");
    let st = state.to_string_lossy().into_owned();
    let file = f.path("a-file");
    fs::write(&file, "x").unwrap();
    let file_s = file.to_string_lossy().into_owned();
    let long = "a".repeat(300);
    let before = listing(&f.dir);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--lower", "/no/such", "--name", "n", "--state-dir", &st, "true"], "/no/such"),
        (vec!["--lower", &file_s, "--name", "n", "--state-dir", &st, "true"], &file_s),
        (vec!["--lower", IMAGE, "--name", "a/b", "--state-dir", &st, "true"], "name"),
        (vec!["--lower", IMAGE, "--name", "..", "--state-dir", &st, "true"], "name"),
        (vec!["--lower", IMAGE, "--name", "", "--state-dir", &st, "true"], "name"),
        (vec!["--lower", IMAGE, "--name", &long, "--state-dir", &st, "true"], "name"),
        (vec!["--lower", IMAGE, "--name", "n", "--state-dir", &st, "--frob", "true"], "--frob"),
        (vec!["--lower", IMAGE, "--name", "n", "--state-dir", &st], "command"),
        (vec!["--lower", IMAGE, "--state-dir", &st, "true"], "--name"),
        (vec!["--lower", IMAGE, "--name", "n", "--state-dir", &st, "--net", "bogus", "true"], "bogus"),
        (vec!["--lower", IMAGE, "--name", "n", "--state-dir", &st, "--env", "NOEQUALS", "true"], "NOEQUALS"),
        (vec!["--lower", IMAGE, "--name", "n", "--state-dir", &st, "--bind", "/tmp:rel", "true"], "/tmp:rel"),
        (vec!["--lower", IMAGE, "--name", "n", "--state-dir", &st, "--bind", "/no/such/src:/x", "true"], "/no/such/src"),
        (vec!["--lower", IMAGE, "--name", "n", "--state-dir", &st, "--lower"], "--lower"),
    ];
    for (args, what) in &cases {
        let out = run(args, b"");
        assert_one_error_line(&out, what);
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(listing(&f.dir), before, "{args:?} created something");
        assert!(!state.exists(), "{args:?} made the state directory");
    }
    // The same refusals with an existing state directory leave it empty.
    for (args, what) in &cases {
        let args: Vec<&str> = args.iter().map(|a| if *a == st { f.state.to_str().unwrap() } else { *a }).collect();
        let out = run(&args, b"");
        assert_one_error_line(&out, what);
        assert_dir_empty(&f.state);
    }
    f.finish();
}

// 15.
#[test]
fn a_name_in_use_is_refused_at_once() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("inuse");
    let n = f.name("u");
    // The first run blocks on its stdin, which the test holds: it cannot end before the test
    // lets it. The second is refused and ends while the first is still blocked: it did not wait.
    let mut first = spawn_held(f.cmd(&n, &[], &["sh", "-c", "echo a > /a; read _; cat /a"]));
    let a = f.upper(&n).join("a");
    // The whole line: the file exists (created) a moment before "a\n" is in it.
    wait_for_event("the first run to write a line to /a", || fs::read_to_string(&a).is_ok_and(|s| s == "a\n"));
    let out = f.run(&n, &[], &["sh", "-c", "echo second > /a; echo ran"]);
    assert!(first.running(), "the first run ended before the test let it");
    assert_one_error_line(&out, "in use");
    assert!(out.stderr.contains(&n), "{out:?}");
    assert_eq!(out.stdout, "");
    // The first is untouched.
    assert_eq!(fs::read_to_string(&a).unwrap(), "a\n");
    assert!(f.upper(&n).is_dir() && f.layer(&n).join("work").is_dir());
    first.release();
    let out = first.wait();
    out.expect(0);
    assert_eq!(out.stdout, "a\n");
    assert!(!f.layer(&n).exists());
    f.finish();
}

// 16.
#[test]
fn without_lower_only_init() {
    let f = Fixture::new("initonly");
    let mounts = mount_snapshot();
    let out = run(&["--", "sh", "-c", "exit 5"], b"");
    out.expect(5);
    let out = run(&["sh", "-c", "kill -TERM $$"], b"");
    out.expect(143);
    // The caller's PATH is searched (only directories that everyone can read: an unreadable one
    // makes a miss "cannot execute", as with execvp).
    let mut c = sandbox_cmd();
    c.env("PATH", "/usr/bin:/bin").arg("no-such-command-xyz");
    let out = run_cmd(c, b"");
    out.expect(127);
    assert!(out.stderr.starts_with("sandbox: ") && out.stderr.contains("no-such-command-xyz"), "{out:?}");
    assert!(out.stderr.ends_with("(command not found)\n"), "there is no sandbox to speak of: {out:?}");
    // The options that need a root are refused.
    let out = run(&["--name", "x", "true"], b"");
    assert_one_error_line(&out, "--name");

    // The command is sandbox's child, in the host's namespaces; orphans come to sandbox.
    let script = format!("{ORPHANS}; echo $$ $PPID; readlink /proc/self/ns/pid /proc/self/ns/mnt; echo ---; \
                  orphans 40 $PPID; cat /proc/[0-9]*/stat 2>/dev/null; echo ---; \
                  gone $PPID; cat /proc/[0-9]*/stat 2>/dev/null; exit 0");
    let mut c = sandbox_cmd();
    c.args(["sh", "-c", &script]);
    let r = spawn(c, b"");
    let outer = r.pid();
    let out = r.wait();
    out.expect(0);
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{out:?}");
    let head: Vec<&str> = parts[0].lines().collect();
    let ids: Vec<u32> = head[0].split_whitespace().map(|s| s.parse().unwrap()).collect();
    assert_ne!(ids[0], outer, "the command is sandbox itself");
    assert_eq!(ids[1], outer, "the command is not sandbox's child");
    assert_eq!(head[1], fs::read_link("/proc/self/ns/pid").unwrap().to_string_lossy());
    assert_eq!(head[2], fs::read_link("/proc/self/ns/mnt").unwrap().to_string_lossy());
    let during = stats(parts[1]);
    let adopted = during.iter().filter(|p| p.1 == "sleep" && p.3 == outer).count();
    assert_eq!(adopted, 40, "not every orphan came to sandbox (not a child subreaper?)");
    let after = stats(parts[2]);
    let zombies: Vec<_> = after.iter().filter(|p| p.3 == outer && p.2 == 'Z').collect();
    assert!(zombies.is_empty(), "zombies under sandbox: {zombies:?}");
    let left: Vec<_> = after.iter().filter(|p| p.3 == outer && p.1 == "sleep").collect();
    assert!(left.is_empty(), "orphans left under sandbox: {left:?}");
    assert_mounts_unchanged(&mounts);
    f.finish();
}

// 17.
#[test]
fn relative_lowers_and_odd_characters() {
    if !require_root() {
        return;
    }
    // Relative to the caller's working directory.
    let f = Fixture::with_state("odd", "state a b,c:d");
    let n = f.name("r");
    let mut c = sandbox_cmd();
    c.current_dir(MANIFEST_DIR).args([
        "--lower",
        "rootfs/busybox",
        "--name",
        &n,
        "--state-dir",
        f.state.to_str().unwrap(),
        "cat",
        "/etc/passwd",
    ]);
    let out = run_cmd(c, b"");
    out.expect(0);
    assert_eq!(out.stdout, fs::read_to_string(Path::new(IMAGE).join("etc/passwd")).unwrap());

    // Lowers with a space, a comma and a colon, given relative; a state directory with them too.
    let top = f.path("top x,y:z");
    fs::create_dir_all(top.join("etc")).unwrap();
    fs::write(top.join("etc/odd"), "odd top\n").unwrap();
    symlink(IMAGE, f.path("image 1,2:3")).unwrap();
    let run_odd = |opts: &[&str], script: &str| {
        let mut c = sandbox_cmd();
        c.current_dir(&f.dir)
            .args(["--lower", "top x,y:z", "--lower", "image 1,2:3", "--name", &n, "--state-dir"])
            .arg(&f.state)
            .args(opts)
            .args(["sh", "-c", script]);
        run_cmd(c, b"")
    };
    let out = run_odd(&["--keep"], "cat /etc/odd; echo k > /kept; ls /bin/busybox");
    out.expect(0);
    assert_eq!(out.stdout, "odd top\n/bin/busybox\n");
    assert_eq!(fs::read_to_string(f.upper(&n).join("kept")).unwrap(), "k\n");
    let out = run_odd(&[], "cat /kept");
    out.expect(0);
    assert_eq!(out.stdout, "k\n");
    assert!(!f.layer(&n).exists());
    f.finish();
}

// 18.
#[test]
fn timings_line() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("tim");
    let n = f.name("t");
    let out = f.run(&n, &["--timings"], &["true"]);
    out.expect(0);
    let tl: Vec<&str> = out.stderr.lines().filter(|l| l.contains("timings")).collect();
    assert_eq!(tl.len(), 1, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    let rest = tl[0].strip_prefix("sandbox: timings (us since start): ").expect("prefix");
    let phases: Vec<(&str, u64)> = rest
        .split(' ')
        .map(|p| {
            let (k, v) = p.split_once('=').expect("phase=N");
            (k, v.parse().expect("a number"))
        })
        .collect();
    let names: Vec<&str> = phases.iter().map(|p| p.0).collect();
    assert_eq!(names, ["clone", "root", "exec", "exit", "cleanup"]);
    // The outer process stamps clone, exec, exit and cleanup one after the other; PID 1 stamps
    // root, which the outer hears of before exec. Root and clone come from two processes and
    // have no order between them (on a busy machine PID 1 can be done before the outer runs).
    let t: Vec<u64> = phases.iter().map(|p| p.1).collect();
    let (clone, root, exec, exit, cleanup) = (t[0], t[1], t[2], t[3], t[4]);
    assert!(clone <= exec && root <= exec && exec <= exit && exit <= cleanup, "out of order: {t:?}");
    assert!(clone < cleanup, "{t:?}");
    // A command that cannot be executed: no exec phase, the others in order.
    let out = f.run(&n, &["--timings"], &["no-such-command"]);
    out.expect(127);
    let tl: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("sandbox: timings")).collect();
    assert_eq!(tl.len(), 1, "{out:?}");
    let names: Vec<&str> = tl[0].split(' ').filter_map(|p| p.split_once('=').map(|kv| kv.0)).collect();
    assert_eq!(names, ["clone", "root", "exit", "cleanup"], "{out:?}");
    // A rejected run: its one error line, no timings line.
    let out = run(&["--timings", "--lower", "/nonexistent-image", "--name", &n, "true"], b"");
    out.expect(125);
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.starts_with("sandbox: lower directory: /nonexistent-image: "), "{out:?}");
    // Init-only: exec and exit.
    let out = run(&["--timings", "true"], b"");
    out.expect(0);
    let rest = out.stderr.trim_end().strip_prefix("sandbox: timings (us since start): ").expect("prefix");
    let names: Vec<&str> = rest.split(' ').map(|p| p.split_once('=').expect("phase=N").0).collect();
    assert_eq!(names, ["exec", "exit"], "{out:?}");
    // Without --timings: silent.
    let out = f.run(&n, &[], &["true"]);
    out.expect(0);
    assert_eq!(out.stderr, "");
    f.finish();
}

// 19.
#[test]
fn help_and_version() {
    for flag in ["-h", "--help"] {
        let out = run(&[flag], b"");
        out.expect(0);
        assert_eq!(out.stderr, "");
        for opt in [
            "--lower", "--name", "--state-dir", "--keep", "--hostname", "--env", "--cwd", "--bind", "--ro-bind",
            "--net", "--timings", "--help", "--version", "-h", "-V",
        ] {
            assert!(
                out.stdout.split(|c: char| c.is_whitespace() || c == ',').any(|w| w == opt),
                "{flag} does not list {opt}"
            );
        }
    }
    for flag in ["-V", "--version"] {
        let out = run(&[flag], b"");
        out.expect(0);
        assert_eq!(out.stdout, format!("sandbox {}\n", env!("CARGO_PKG_VERSION")));
    }
}

/// A run rejected after the state directory was made (it did not exist) takes it away again:
/// a rejected run makes nothing. One that ran leaves the state directory (empty) for the next.
#[test]
fn a_rejected_run_leaves_no_state_directory() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("nostate");
    let sd = f.path("new-state");
    let in_new_state = |opts: &[&str], command: &[&str]| {
        let mut c = sandbox_cmd();
        c.args(["--lower", IMAGE, "--name", "a", "--state-dir", sd.to_str().unwrap()]).args(opts).args(command);
        run_cmd(c, b"")
    };
    let cases: [(&[&str], &[&str], i32); 4] = [
        (&["--cwd", "/no/such"], &["true"], 125),
        (&["--lower", IMAGE], &["true"], 125),
        (&[], &["no-such-command"], 127),
        (&["--hostname", ""], &["true"], 125),
    ];
    for (opts, command, code) in cases {
        let out = in_new_state(opts, command);
        out.expect(code);
        assert!(!sd.exists(), "{opts:?} {command:?} left {}: {out:?}", sd.display());
    }
    in_new_state(&[], &["true"]).expect(0);
    assert_eq!(fs::read_dir(&sd).map(|d| d.count()).ok(), Some(0), "after a run that ran");
    f.finish();
}

/// The image is not changed by any of this, and is a directory tree with a shell.
#[test]
fn image_is_usable() {
    let sh = Path::new(IMAGE).join("bin/busybox");
    let m = fs::metadata(&sh).expect("rootfs/busybox is missing: run bash rootfs/build.sh");
    assert!(m.permissions().mode() & 0o111 != 0);
}
