//! ps, pause, resume, list, features, spec.

use super::create::{self, each_name, freeze_file};
use super::record::{self, Status};
use super::{each_option, take_id, Done, Fail, Global, Opts, Step, IGNORED, VALUE};
use crate::out::Buf;
use crate::sys::{self, Errno, Fd, AT_FDCWD};

fn format(o: &mut Opts) -> Result<bool, Fail<'static>> {
    let mut json = false;
    each_option(o, &[(b"format", VALUE), (b"f", VALUE), (b"quiet", IGNORED), (b"q", IGNORED)], &mut |_, v| {
        json = v.to_bytes() == b"json";
        Ok(())
    })?;
    Ok(json)
}

/// The pids of the container (create::members).
pub fn ps(g: &Global, o: &mut Opts) -> Done<'static> {
    let json = format(o)?;
    let id = take_id(g, o)?;
    let r = create::open(g, id)?;
    let mut out = Buf::<65536>::new();
    out.push(if json { b"[" } else { b"PID\n" });
    let mut first = true;
    let mut put = |pid: i32| {
        if json {
            if !first {
                out.push(b",");
            }
            out.push_u64(pid as u64);
        } else {
            out.push_u64(pid as u64).push(b"\n");
        }
        first = false;
    };
    create::members(&r, &mut put);
    out.push(if json { b"]\n" } else { b"" });
    let _ = sys::write_all(Fd(1), out.bytes());
    Ok(0)
}

pub fn freeze(g: &Global, o: &mut Opts, on: bool) -> Done<'static> {
    each_option(o, &[], &mut |_, _| Ok(()))?;
    let id = take_id(g, o)?;
    let r = create::open(g, id)?;
    if matches!(r.status, Status::Stopped | Status::Created) {
        return Err(Fail::usage(Step::Status, r.status.name(), b"only a running container can be paused or resumed"));
    }
    freeze_file(r.cgroup, on).map_err(|e| {
        let f = if e == Errno::ENOENT { Fail::usage(Step::Freeze, b"", b"the container has no cgroup v2 (cgroups disabled, or none on this host)") } else { Fail::new(Step::Freeze, r.cgroup, e) };
        f
    })?;
    Ok(0)
}

pub fn list(g: &Global, o: &mut Opts) -> Done<'static> {
    let json = format(o)?;
    let mut out = Buf::<65536>::new();
    out.push(if json { b"[" } else { b"ID\tPID\tSTATUS\tBUNDLE\n" });
    let mut first = true;
    let mut space = record::Space::new();
    each_name(g.root, &mut |name| {
        if name.first() == Some(&b'.') {
            return;
        }
        let mut idb = Buf::<1100>::new();
        idb.push(name);
        if let Ok(r) = record::read(g.root, idb.c(), &mut space) {
            if json {
                if !first {
                    out.push(b",");
                }
                create::print_state(&mut out, name, &r);
            } else {
                out.push(name).push(b"\t").push_u64(if r.status == Status::Stopped { 0 } else { r.pid as u64 }).push(b"\t").push(r.status.name()).push(b"\t").push(r.bundle.to_bytes()).push(b"\n");
            }
            first = false;
        }
    });
    out.push(if json { b"]\n" } else { b"" });
    let _ = sys::write_all(Fd(1), out.bytes());
    Ok(0)
}

/// What this runtime supports, in runc 1.1's form.
const FEATURES: &[u8] = br#"{"ociVersionMin":"1.0.0","ociVersionMax":"1.0.2","hooks":[],"mountOptions":["async","atime","bind","defaults","dev","diratime","dirsync","exec","mand","noatime","nodev","nodiratime","noexec","nomand","norelatime","nostrictatime","nosuid","private","rbind","relatime","remount","ro","rprivate","rshared","rslave","runbindable","rw","shared","slave","strictatime","suid","sync","unbindable","tmpcopyup"],"linux":{"namespaces":["cgroup","ipc","mount","network","pid","user","uts","time"],"capabilities":["#;
/// After the capabilities (caps::NAMES, each as CAP_NAME).
const FEATURES_END: &[u8] = br#"],"cgroup":{"v1":false,"v2":true,"systemd":false,"systemdUser":false},"seccomp":{"enabled":true,"actions":["SCMP_ACT_ALLOW","SCMP_ACT_ERRNO","SCMP_ACT_KILL","SCMP_ACT_KILL_PROCESS","SCMP_ACT_KILL_THREAD","SCMP_ACT_LOG","SCMP_ACT_TRACE","SCMP_ACT_TRAP"],"operators":["SCMP_CMP_EQ","SCMP_CMP_GE","SCMP_CMP_GT","SCMP_CMP_LE","SCMP_CMP_LT","SCMP_CMP_MASKED_EQ","SCMP_CMP_NE"],"archs":["SCMP_ARCH_X86_64"]},"apparmor":{"enabled":true},"selinux":{"enabled":false}},"annotations":{"org.opencontainers.runc.checkpoint.enabled":"false","io.github.sandbox.runtime":"sandbox-oci"}}
"#;

pub fn features() -> Done<'static> {
    let mut b = Buf::<4096>::new();
    b.push(FEATURES);
    for (i, n) in crate::caps::NAMES.iter().enumerate() {
        b.push(if i > 0 { b",\"CAP_" } else { b"\"CAP_" }).push(n).push(b"\"");
    }
    b.push(FEATURES_END);
    let _ = sys::write_all(Fd(1), b.bytes());
    Ok(0)
}

/// runc's default config.json: busybox's sh on a terminal, rootfs beside it.
const SPEC: &[u8] = br#"{"ociVersion":"1.0.2","process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/","capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"ambient":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},"root":{"path":"rootfs","readonly":true},"hostname":"sandbox","mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}],"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}],"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],"readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}
"#;

/// Write a default config.json into the bundle (the working directory, or --bundle); with
/// --rootless, runc's form for a user without privileges: a user namespace mapping root to
/// the caller, the host's network, /sys bound from the host, devpts without gid=5.
pub fn spec(o: &mut Opts) -> Done<'static> {
    let (mut bundle, mut rootless) = (c".", false);
    each_option(o, &[(b"bundle", VALUE), (b"b", VALUE), (b"rootless", 2)], &mut |i, v| {
        match i {
            2 => rootless = true,
            _ => bundle = v,
        }
        Ok(())
    })?;
    let mut text = Buf::<4096>::new();
    let mut rest = SPEC;
    let mut ids = Buf::<160>::new();
    ids.push(br#""uidMappings":[{"containerID":0,"hostID":"#).push_u64(sys::geteuid() as u64)
        .push(br#","size":1}],"gidMappings":[{"containerID":0,"hostID":"#).push_u64(sys::getegid() as u64)
        .push(br#","size":1}],"namespaces":"#);
    // In the order they come in the text.
    let edits: [(&[u8], &[u8]); 4] = [
        (br#","gid=5""#, b""),
        (br#""type":"sysfs","source":"sysfs","options":["#, br#""type":"none","source":"/sys","options":["rbind","#),
        (br#""namespaces":"#, ids.bytes()),
        (br#"{"type":"network"}"#, br#"{"type":"user"}"#),
    ];
    for (from, to) in edits.iter().filter(|_| rootless) {
        if let Some(at) = rest.windows(from.len()).position(|w| w == *from) {
            text.push(&rest[..at]).push(to);
            rest = &rest[at + from.len()..];
        }
    }
    text.push(rest);
    let e = |errno| Fail::new(Step::Config, bundle.to_bytes(), errno);
    let dir = sys::openat(AT_FDCWD, bundle, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(e)?;
    let f = sys::openat(dir, c"config.json", libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, 0o644);
    sys::close(dir);
    let f = f.map_err(e)?;
    let r = sys::write_all(f, text.bytes());
    sys::close(f);
    r.map_err(e)?;
    Ok(0)
}
