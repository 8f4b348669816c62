//! The command's seccomp filter, an allowlist as Docker's default profile: tried for real by the
//! static probe (tests/helpers/probe.c, mode `allowlist`) inside a sandbox on the busybox image,
//! with the default capabilities and with --cap-add/--cap-drop. Where the kernel itself would
//! let a call through, EPERM can only be the filter's.
//!
//! The compiler of OCI profiles (`seccomp::compile`) is tried on the real kernel by the unit
//! tests in src/seccomp.rs (`installed_*`): a forked child installs a compiled filter and makes
//! the calls, x32's and i386's among them.

mod common;

use common::*;
use std::collections::BTreeMap;

/// Lines `name RESULT` of the probe, as a map.
fn results(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect()
}

/// The probe's `allowlist` answers in a sandbox with the options `opts`.
fn allowlist(f: &Fixture, name: &str, opts: &[&str]) -> BTreeMap<String, String> {
    let bind = format!("{}:/probe", probe().display());
    let mut o = vec!["--ro-bind", &bind];
    o.extend_from_slice(opts);
    let out = f.run(&f.name(name), &o, &["/probe", "allowlist"]);
    out.expect(0);
    results(&out.stdout)
}

fn expect(r: &BTreeMap<String, String>, want: &[(&str, &str)], opts: &str) {
    for (call, answer) in want {
        assert_eq!(r.get(*call).map(String::as_str), Some(*answer), "{call} with [{opts}]: {r:?}");
    }
}

#[test]
fn the_default_filter_allows_what_programs_use_and_refuses_the_rest() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("sc-default");
    let r = allowlist(&f, "a", &[]);
    expect(
        &r,
        &[
            ("modify_ldt", "OK"),
            // Docker's personalities: the query, PER_LINUX32, PER_LINUX; not ADDR_NO_RANDOMIZE.
            ("personality_query", "OK"),
            ("personality_linux32", "OK"),
            ("personality_linux", "OK"),
            ("personality_no_randomize", "EPERM"),
            ("socket_vsock", "EPERM"),
            ("socket_unix", "OK"),
            ("socket_inet", "OK"),
            ("keyctl", "EPERM"),
            ("io_uring_setup", "EPERM"),
            // Unknown numbers: ENOSYS, so that C libraries fall back.
            ("nr_1000", "ENOSYS"),
            ("nr_400", "ENOSYS"),
            ("sysctl", "ENOSYS"),
            // The kernel lets anyone call these: refused by the filter.
            ("open_tree_attr", "EPERM"),
            ("quotactl_fd", "EPERM"),
            ("kcmp", "EPERM"),
            ("set_mempolicy", "EPERM"),
            // Allowed: the kernel's own answer to a NULL request, to a size 0.
            ("listmount", "EFAULT"),
            ("file_getattr", "EINVAL"),
            // CAP_SYS_CHROOT is in the default set.
            ("chroot", "OK"),
            ("mount_tmpfs", "EPERM"),
            ("unshare_uts", "EPERM"),
            ("clone3_plain", "ENOSYS"),
            ("thread", "OK"),
        ],
        "",
    );
    f.finish();
}

#[test]
fn capabilities_given_open_the_calls_they_allow() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("sc-caps");
    // CAP_SYS_ADMIN: the mount calls, namespaces, clone3 (a tmpfs mount inside stays inside:
    // `finish` checks the host's mount table).
    let r = allowlist(&f, "a", &["--cap-add", "SYS_ADMIN"]);
    expect(
        &r,
        &[
            ("mount_tmpfs", "OK"),
            ("unshare_uts", "OK"),
            ("clone3_plain", "OK"),
            ("open_tree_attr", "OK"),
            ("thread", "OK"),
            // Not SYS_ADMIN's.
            ("kcmp", "EPERM"),
            ("set_mempolicy", "EPERM"),
            ("keyctl", "EPERM"),
            ("socket_vsock", "EPERM"),
            ("nr_1000", "ENOSYS"),
        ],
        "SYS_ADMIN",
    );
    let r = allowlist(&f, "b", &["--cap-add", "SYS_PTRACE", "--cap-add", "SYS_NICE"]);
    expect(&r, &[("kcmp", "OK"), ("set_mempolicy", "OK"), ("mount_tmpfs", "EPERM"), ("clone3_plain", "ENOSYS")], "SYS_PTRACE SYS_NICE");
    // All of them: still never io_uring, the keyring, AF_VSOCK, unknown numbers.
    let r = allowlist(&f, "c", &["--cap-add", "all"]);
    expect(
        &r,
        &[
            ("mount_tmpfs", "OK"),
            ("kcmp", "OK"),
            ("io_uring_setup", "EPERM"),
            ("keyctl", "EPERM"),
            ("socket_vsock", "EPERM"),
            ("personality_no_randomize", "EPERM"),
            ("nr_1000", "ENOSYS"),
            ("thread", "OK"),
        ],
        "all",
    );
    // Without CAP_SYS_CHROOT, chroot goes with it (the kernel's EPERM or the filter's).
    let r = allowlist(&f, "d", &["--cap-drop", "SYS_CHROOT"]);
    expect(&r, &[("chroot", "EPERM"), ("modify_ldt", "OK")], "--cap-drop SYS_CHROOT");
    f.finish();
}

#[test]
fn ordinary_programs_work_under_the_filter() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("sc-programs");
    let script = "set -e; grep '^Seccomp:' /proc/self/status; ls / | grep -c . >/dev/null; \
                  cat /etc/passwd | sort | head -n 1 >/dev/null; sleep 0.1; date +%Y >/dev/null; \
                  ps | grep -q ps; mkdir -p /tmp/d && echo x > /tmp/d/f && mv /tmp/d/f /tmp/d/g && \
                  cat /tmp/d/g; (sleep 0.1 & wait); echo end";
    let out = f.run(&f.name("a"), &[], &["sh", "-c", script]);
    out.expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().map(|l| l.split_whitespace().collect::<Vec<_>>()), Some(vec!["Seccomp:", "2"]), "{out:?}");
    assert_eq!(lines[1..], ["x", "end"], "{out:?}");
    f.finish();
}
