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
