//! Running as a user (--user), host devices (--device, --dev-bind), tmpfs mounts (--tmpfs), a
//! read-only root (--read-only) and the name service files (/etc/resolv.conf, /etc/hosts), as
//! root and rootless (uid 65534 through setpriv), with the real binary: what the command sees in
//! /proc, what lands on disk, and bad input for each option (125, one line, nothing made).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const NOBODY: u32 = 65534;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Who {
    Root,
    Rootless,
}

/// A fixture with its own copy of the binary and the image (to change), owned by the runner.
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
        assert!(Command::new("cp").arg("-a").arg(IMAGE).arg(&image).status().unwrap().success());
        if who == Who::Rootless {
            chown_r(&image, NOBODY);
            chown_r(&f.state, NOBODY);
            chown_r(&bin, NOBODY);
        }
        Setup { f, who, bin, image }
    }

    fn cmd(&self, name: &str, opts: &[&str], command: &[&str]) -> Command {
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
        c.arg("--lower").arg(&self.image).args(["--name", name, "--state-dir"]).arg(&self.f.state).args(opts).arg("--").args(command);
        c
    }

    fn run(&self, name: &str, opts: &[&str], command: &[&str]) -> Out {
        run_cmd(self.cmd(name, opts, command), b"")
    }

    /// Write a file into the image.
    fn put(&self, path: &str, text: &str) {
        let p = self.image.join(path.trim_start_matches('/'));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
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

/// The value of a `Key:\tvalue` line of /proc/self/status as printed by the command.
fn status_field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).unwrap_or_else(|| panic!("no {key} in {out}"))
}

/// One error line of sandbox's own, naming `what`.
fn one_line(out: &Out, what: &str) {
    assert_eq!(out.code, 125, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.starts_with("sandbox: ") && out.stderr.contains(what), "{out:?}");
}

// ---- --user -------------------------------------------------------------------------------

const IDS: &str = "echo uid=$(id -u) gid=$(id -g) groups=$(id -G) home=$HOME; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status";

#[test]
fn user_ids_groups_caps_and_home_as_root() {
    if !require_root() {
        return;
    }
    let s = Setup::new("user-ids", Who::Root);
    s.put("/etc/group", "root:x:0:\ntty:x:5:\nstaff:x:50:nobody,other\nnogroup:x:65534:\n");
    let n = s.f.name("a");
    let out = s.run(&n, &["--user", "65534"], &["sh", "-c", IDS]);
    out.expect(0);
    assert!(out.stdout.contains("uid=65534 gid=65534 groups=65534 50 home=/nonexistent"), "{out:?}");
    for cap in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
        assert_eq!(status_field(&out.stdout, cap), "0000000000000000", "{cap} {out:?}");
    }
    // Names, and a group given: the user's memberships stay.
    let out = s.run(&n, &["--user", "nobody:tty"], &["sh", "-c", IDS]);
    assert!(out.expect(0).stdout.contains("uid=65534 gid=5 groups=5 50 home=/nonexistent"), "{out:?}");
    // A number the image does not know: gid 0 unless given, no groups, HOME=/.
    let out = s.run(&n, &["--user", "1234"], &["sh", "-c", IDS]);
    assert!(out.expect(0).stdout.contains("uid=1234 gid=0 groups=0 home=/\n"), "{out:?}");
    let out = s.run(&n, &["--user", "1234:77", "--env", "HOME=/h"], &["sh", "-c", IDS]);
    assert!(out.expect(0).stdout.contains("uid=1234 gid=77 groups=77 home=/h\n"), "{out:?}");
    // Root keeps the default capabilities.
    let out = s.run(&n, &["--user", "0"], &["sh", "-c", IDS]);
    assert!(out.expect(0).stdout.contains("uid=0 gid=0 groups=0 home=/root"), "{out:?}");
    assert_ne!(status_field(&out.stdout, "CapEff:"), "0000000000000000", "{out:?}");
    // The user cannot take root back: no setuid helper works under no_new_privs, and setuid(0) fails.
    let out = s.run(&n, &["--user", "65534"], &["sh", "-c", "su -c id root </dev/null; echo x > /etc/x"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("uid=0"), "{out:?}");
    s.f.finish();
}

#[test]
fn users_are_looked_up_inside_the_image_only() {
    if !require_root() {
        return;
    }
    let s = Setup::new("user-links", Who::Root);
    // A decoy passwd and group on the host, and the image's files as links that climb out.
    let decoy = s.f.path("decoy");
    fs::create_dir(&decoy).unwrap();
    fs::write(decoy.join("passwd"), "decoy:x:4242:4242::/decoyhome:/bin/sh\n").unwrap();
    fs::write(decoy.join("group"), "decoygroup:x:4343:decoy\n").unwrap();
    let up = "../".repeat(decoy.components().count() + 4);
    for f in ["passwd", "group"] {
        let p = s.image.join("etc").join(f);
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(format!("{up}{}/{f}", decoy.display()), &p).unwrap();
    }
    let n = s.f.name("a");
    one_line(&s.run(&n, &["--user", "decoy"], &["id"]), "--user: decoy: No such file or directory");
    one_line(&s.run(&n, &["--user", "0:decoygroup"], &["id"]), "--user: decoygroup: No such file or directory");
    // A number needs no file: its HOME is /, not the decoy's.
    let out = s.run(&n, &["--user", "4242"], &["sh", "-c", IDS]);
    assert!(out.expect(0).stdout.contains("uid=4242 gid=0 groups=0 home=/\n"), "{out:?}");
    // /etc/passwd a FIFO: read as none, no hang.
    let p = s.image.join("etc/passwd");
    fs::remove_file(&p).unwrap();
    assert!(Command::new("mkfifo").arg(&p).status().unwrap().success());
    one_line(&s.run(&n, &["--user", "nobody"], &["id"]), "--user: nobody: No such file or directory");
    s.f.finish();
}

#[test]
fn files_the_user_writes_are_its_own_in_the_layer() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("user-owner");
    let n = f.name("a");
    f.run(&n, &["--keep"], &["sh", "-c", "mkdir /w && chown 1000:1000 /w"]).expect(0);
    f.run(&n, &["--keep", "--user", "1000:1000"], &["sh", "-c", "echo hi > /w/f && touch /w/g"]).expect(0);
    let m = fs::metadata(f.upper(&n).join("w/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1000));
    // Not its directory: refused.
    let out = f.run(&n, &["--keep", "--user", "1000"], &["sh", "-c", "touch /etc/f"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(!f.upper(&n).join("etc/f").exists());
    f.run(&n, &[], &["true"]).expect(0);
    f.finish();
}

#[test]
fn rootless_runs_only_as_root_inside() {
    if !require_root() {
        return;
    }
    let s = Setup::new("user-rootless", Who::Rootless);
    let n = s.f.name("a");
    let out = s.run(&n, &["--user", "0:0"], &["sh", "-c", IDS]);
    assert!(out.expect(0).stdout.contains("uid=0 gid=0"), "{out:?}");
    for u in ["1000", "nobody", "0:5"] {
        let out = s.run(&n, &["--user", u], &["id"]);
        one_line(&out, "only --user 0 works");
        assert!(out.stdout.is_empty(), "{out:?}");
    }
    s.f.finish();
}

// ---- devices ------------------------------------------------------------------------------

#[test]
fn devices_are_usable_while_the_rest_stays_nodev() {
    both(|who| {
        let s = Setup::new(&format!("dev-{who:?}"), who);
        let n = s.f.name("a");
        // A device node the image brings cannot be opened (made here as root, on the copy).
        if who == Who::Root {
            fs::create_dir_all(s.image.join("mydev")).unwrap();
            assert!(Command::new("mknod").arg(s.image.join("mydev/null")).args(["c", "1", "3"]).status().unwrap().success());
        }
        let mut opts = vec!["--dev-bind", "/dev/null:/mnt/null", "--device", "/dev/zero"];
        // /dev/net/tun opens read-write for root only here (mode 0600 on the host): a read of
        // the opened but unattached device fails with EBADFD.
        let tun = who == Who::Root && Path::new("/dev/net/tun").exists();
        if tun {
            opts.extend(["--device", "/dev/net/tun"]);
        }
        let script = "echo x > /mnt/null && echo null-ok; head -c 4 /dev/zero | od -An -tx1; \
                      cat /dev/net/tun 2>&1; echo y > /mydev/null 2>/dev/null || echo image-node-refused; \
                      mknod /made c 1 3 2>/dev/null; echo z > /made 2>/dev/null || echo made-node-refused";
        let out = s.run(&n, &opts, &["sh", "-c", script]);
        assert!(out.stdout.contains("null-ok"), "{who:?} {out:?}");
        assert!(out.stdout.contains("00 00 00 00"), "{who:?} {out:?}");
        if tun {
            assert!(out.stdout.contains("File descriptor in bad state"), "{who:?} {out:?}");
        }
        if who == Who::Root {
            assert!(out.stdout.contains("image-node-refused"), "{who:?} {out:?}");
        }
        // As root the node is made (CAP_MKNOD) and opens nothing; rootless it is not even made.
        if who == Who::Root {
            assert!(out.stdout.contains("made-node-refused"), "{who:?} {out:?}");
        }
        s.f.finish();
    });
}

// ---- --tmpfs and --read-only --------------------------------------------------------------

/// The options of the mount at `dst` in /proc/mounts as the command printed it.
fn mount_opts<'a>(mounts: &'a str, dst: &str) -> &'a str {
    mounts.lines().find(|l| l.split(' ').nth(1) == Some(dst)).and_then(|l| l.split(' ').nth(3)).unwrap_or_else(|| panic!("no {dst} in {mounts}"))
}

#[test]
fn tmpfs_mounts_are_writable_with_their_size() {
    both(|who| {
        let s = Setup::new(&format!("tmpfs-{who:?}"), who);
        let n = s.f.name("a");
        let script = "echo a > /data/a && echo b > /var/cache/x/b && stat -c %a /data && cat /proc/mounts";
        let out = s.run(&n, &["--tmpfs", "/data:8M", "--tmpfs", "/var/cache/x", "--tmp-size", "3M"], &["sh", "-c", script]);
        out.expect(0);
        assert!(out.stdout.starts_with("1777\n"), "{out:?}");
        let data = mount_opts(&out.stdout, "/data");
        assert!(data.contains("size=8192k") && data.contains("nosuid") && data.contains("nodev"), "{data}");
        // Without a size, the size of /tmp.
        assert!(mount_opts(&out.stdout, "/var/cache/x").contains("size=3072k"), "{out:?}");
        s.f.finish();
    });
}

#[test]
fn read_only_root_has_no_writable_layer() {
    both(|who| {
        let s = Setup::new(&format!("ro-{who:?}"), who);
        let n = s.f.name("a");
        let script = "(echo x > /x) 2>&1; mkdir /etc/y 2>&1; echo t > /tmp/t && echo tmp-ok; echo c > /run/c && echo tmpfs-ok; \
                      cat /proc/mounts";
        let out = s.run(&n, &["--read-only", "--tmpfs", "/run"], &["sh", "-c", script]);
        out.expect(0);
        assert!(out.stdout.matches("Read-only file system").count() >= 2, "{who:?} {out:?}");
        assert!(out.stdout.contains("tmp-ok") && out.stdout.contains("tmpfs-ok"), "{who:?} {out:?}");
        assert!(mount_opts(&out.stdout, "/").split(',').any(|o| o == "ro"), "{who:?} {out:?}");
        // Two lowers: an overlay without an upper layer.
        let top = s.f.path("top");
        fs::create_dir_all(top.join("opt")).unwrap();
        fs::write(top.join("opt/hi"), "hi\n").unwrap();
        if who == Who::Rootless {
            chown_r(&top, NOBODY);
        }
        let mut c = s.cmd(&n, &["--read-only"], &["sh", "-c", "cat /opt/hi; (echo x > /opt/x) 2>&1; grep ' / ' /proc/mounts"]);
        // The first --lower is the top layer: put `top` before the image.
        let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
        let mut c2 = Command::new(c.get_program());
        c2.current_dir("/").env_remove("XDG_RUNTIME_DIR");
        for a in &args {
            if a == "--lower" {
                c2.arg("--lower").arg(&top);
            }
            c2.arg(a);
        }
        c = c2;
        let out = run_cmd(c, b"");
        out.expect(0);
        assert!(out.stdout.starts_with("hi\n") && out.stdout.contains("Read-only file system"), "{who:?} {out:?}");
        assert!(out.stdout.contains(" / overlay ro,"), "{who:?} {out:?}");
        // A kept layer of the name is not discarded by a read-only run: refused.
        s.run(&n, &["--keep"], &["sh", "-c", "echo k > /k"]).expect(0);
        let out = s.run(&n, &["--read-only"], &["true"]);
        one_line(&out, "--read-only");
        assert!(s.f.upper(&n).join("k").exists());
        s.run(&n, &[], &["true"]).expect(0);
        s.f.finish();
    });
}

// ---- name service -------------------------------------------------------------------------

#[test]
fn name_service_files() {
    both(|who| {
        let s = Setup::new(&format!("ns-{who:?}"), who);
        let n = s.f.name("a");
        // A network of its own: an /etc/hosts that names localhost, read-only.
        let out = s.run(&n, &[], &["sh", "-c", "cat /etc/hosts; (echo x >> /etc/hosts) 2>&1; true"]);
        out.expect(0);
        assert!(out.stdout.contains("127.0.0.1\tlocalhost\n") && out.stdout.contains("::1\tlocalhost"), "{who:?} {out:?}");
        assert!(out.stdout.contains("Read-only file system"), "{who:?} {out:?}");
        // The host's network: the host's files, where the image has none or an empty one.
        for f in ["/etc/resolv.conf", "/etc/hosts"] {
            let Ok(host) = fs::read_to_string(f) else {
                eprintln!("the host has no {f}: not compared");
                continue;
            };
            let out = s.run(&n, &["--net", "host"], &["cat", f]);
            assert_eq!(out.expect(0).stdout, host, "{who:?} {f}");
        }
        // A host directory bound at /etc gets no mount point made in it (a decoy, left empty).
        let decoy = s.f.path("decoy-etc");
        fs::create_dir(&decoy).unwrap();
        if who == Who::Rootless {
            chown_r(&decoy, NOBODY);
        }
        let bind = format!("{}:/etc", decoy.display());
        for net in ["none", "host"] {
            let out = s.run(&n, &["--net", net, "--bind", &bind], &["sh", "-c", "ls -A /etc"]);
            assert_eq!(out.expect(0).stdout, "", "{who:?} {net}");
            assert!(fs::read_dir(&decoy).unwrap().next().is_none(), "{who:?} {net}: made in the host's directory");
        }
        // An image's own file with content stands.
        s.put("/etc/hosts", "10.1.2.3 mine\n");
        for net in ["none", "host"] {
            let out = s.run(&n, &["--net", net], &["cat", "/etc/hosts"]);
            assert_eq!(out.expect(0).stdout, "10.1.2.3 mine\n", "{who:?} {net}");
        }
        s.f.finish();
    });
}

// ---- bad input ----------------------------------------------------------------------------

#[test]
fn bad_input_for_each_option_is_one_line_and_makes_nothing() {
    both(|who| {
        let s = Setup::new(&format!("bad-{who:?}"), who);
        let n = s.f.name("a");
        let cases: &[(&[&str], &str)] = &[
            (&["--user", "a b"], "invalid --user: a b"),
            (&["--user", ":5"], "invalid --user"),
            (&["--user", "4294967295"], "invalid --user"),
            (&["--user", "alice"], "--user: alice: No such file or directory"),
            (&["--user", "nobody:wheel"], "--user: wheel: No such file or directory"),
            (&["--device", "/etc/passwd"], "device: /etc/passwd: No such device (--device and --dev-bind take a character or block device)"),
            (&["--device", "/dev/no-such"], "device: /dev/no-such: No such file or directory"),
            (&["--dev-bind", "/dev/null:rel"], "invalid bind: /dev/null:rel"),
            (&["--tmpfs", "rel"], "invalid --tmpfs: rel"),
            (&["--tmpfs", "/x:0"], "invalid --tmpfs: /x:0"),
            (&["--tmpfs", "/"], "invalid --tmpfs: /"),
            (&["--read-only", "--keep"], "--read-only has no writable layer to keep"),
            (&["--read-only", "--tmpfs", "/no/such"], "mount --tmpfs: /no/such: Read-only file system"),
        ];
        for (opts, what) in cases {
            if who == Who::Rootless && opts[1] == "nobody:wheel" {
                continue; // rootless, the unmapped user is refused first in other words
            }
            let out = s.run(&n, opts, &["sh", "-c", "echo ran"]);
            one_line(&out, what);
            assert!(out.stdout.is_empty(), "{who:?} {opts:?}: {out:?}");
            assert!(fs::read_dir(&s.f.state).unwrap().next().is_none(), "{who:?} {opts:?}: left in the state directory");
        }
        s.f.finish();
    });
}
