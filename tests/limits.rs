//! cgroup v2 limits on this host. Where /sys/fs/cgroup offers the controllers, the limits are
//! visible inside and the cgroup is gone after; where it does not (a hybrid or v1 host, like the
//! development machines), each limit option fails with 125, names the missing controller, and
//! creates nothing. The enforcement itself is tested in a VM (tests/vm.rs).

mod common;

use common::*;
use std::fs;
use std::path::Path;

fn offered() -> String {
    fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default()
}

fn has(controller: &str) -> bool {
    offered().split_whitespace().any(|c| c == controller)
}

#[test]
fn each_limit_is_applied_or_refused_naming_its_controller() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("limits");
    let cases: [(&str, &str, &str, &str, &str); 3] = [
        ("memory", "--memory", "64M", "memory.max", "67108864"),
        ("pids", "--pids", "20", "pids.max", "20"),
        ("cpu", "--cpus", "0.5", "cpu.max", "50000 100000"),
    ];
    for (controller, opt, value, file, shown) in cases {
        let name = f.name(controller);
        let out = f.run(&name, &[opt, value], &["cat", &format!("/sys/fs/cgroup/{file}")]);
        if has(controller) {
            out.expect(0);
            assert_eq!(out.stdout.trim(), shown);
            assert!(!Path::new("/sys/fs/cgroup/sandbox").join(&name).exists(), "the cgroup is removed");
        } else {
            eprintln!("this host's cgroup v2 has no {controller} controller: checking the refusal");
            out.expect(125);
            assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
            assert!(out.stderr.starts_with("sandbox: "), "{}", out.stderr);
            assert!(out.stderr.contains(controller), "the message names {controller}: {}", out.stderr);
        }
        assert!(!f.layer(&name).exists(), "nothing of the layer is left");
    }
    f.finish();
}

#[test]
fn bad_limits_are_refused() {
    let f = Fixture::new("badlimits");
    for (opt, value) in [("--memory", "lots"), ("--memory", "0"), ("--pids", "-1"), ("--cpus", "0.0001"), ("--cpus", "x")] {
        let out = f.run(&f.name("x"), &[opt, value], &["true"]);
        out.expect(125);
        assert!(out.stderr.starts_with("sandbox: invalid limit: "), "{}", out.stderr);
        assert!(out.stderr.contains(value), "{}", out.stderr);
    }
    f.finish();
}

/// SANDBOX_CGROUP that root inherits from a user (`sudo -E`, a unit's environment) names the
/// cgroup to make the sandbox's in. A user's directory dressed as a cgroup (its
/// cgroup.controllers offering everything, its cgroup.subtree_control a link to a file of the
/// host) must not turn root's writes onto that file, nor get a directory made in it: only a
/// cgroup2 directory of the caller's own is a delegated cgroup.
#[test]
fn a_delegated_cgroup_that_is_a_users_directory_is_refused() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("fakecg");
    let decoy = f.path("decoy");
    fs::write(&decoy, "host file\n").unwrap();
    let fake = f.path("fake");
    fs::create_dir(&fake).unwrap();
    fs::write(fake.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
    std::os::unix::fs::symlink(&decoy, fake.join("cgroup.subtree_control")).unwrap();
    std::os::unix::fs::symlink(&decoy, fake.join("cgroup.procs")).unwrap();
    let chown = |p: &Path| std::os::unix::fs::lchown(p, Some(65534), Some(65534)).unwrap();
    for entry in fs::read_dir(&fake).unwrap() {
        chown(&entry.unwrap().path());
    }
    chown(&fake);
    let before = listing(&fake);
    for opts in [["--pids", "20"], ["--memory", "64M"]] {
        let name = f.name("x");
        let mut cmd = f.cmd(&name, &opts, &["true"]);
        cmd.env("SANDBOX_CGROUP", &fake);
        let out = run_cmd(cmd, b"");
        assert_eq!(fs::read_to_string(&decoy).unwrap(), "host file\n", "the host's file was written: {}", out.stderr);
        assert_eq!(listing(&fake), before, "something was made in the user's directory");
        out.expect(125);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.starts_with("sandbox: cgroup: "), "{}", out.stderr);
        assert!(out.stderr.contains(fake.to_str().unwrap()), "the message names the cgroup: {}", out.stderr);
        assert!(!f.layer(&name).exists(), "nothing of the layer is left");
    }
    f.finish();
}
