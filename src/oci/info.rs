//! ps, pause, resume, list, features, spec.

use super::create::{self, cgroup_pids, freeze_file};
use super::record::{self, Status};
use super::{take_id, unknown, Arg, Done, Fail, Global, Opts, Step};
use crate::out::Buf;
use crate::sys::{self, Errno, Fd, AT_FDCWD};

fn format(o: &mut Opts) -> Result<bool, Fail<'static>> {
    let mut json = false;
    loop {
        match o.next() {
            Arg::Opt(b"format" | b"f", given) => json = o.value(b"--format", given)?.to_bytes() == b"json",
            Arg::Opt(b"quiet" | b"q", _) => {}
            Arg::Opt(name, _) => return Err(unknown(name)),
            _ => return Ok(json),
        }
    }
}

/// The pids of the container: its cgroup's, or else the processes in its PID namespace.
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
    if r.status != Status::Stopped && !cgroup_pids(r.cgroup, &mut put) {
        let mut ns = Buf::<64>::new();
        ns.push(b"/proc/").push_u64(r.pid as u64).push(b"/ns/pid");
        if let Ok(want) = sys::stat_at(AT_FDCWD, ns.c(), 0) {
            let proc_dir = sys::openat(AT_FDCWD, c"/proc", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(|e| Fail::new(Step::Process, b"/proc", e))?;
            let mut d = [0u8; 8192];
            while let Ok(n) = sys::getdents(proc_dir, &mut d) {
                if n == 0 {
                    break;
                }
                let mut at = 0;
                while at + 19 < n {
                    let reclen = u16::from_ne_bytes([d[at + 16], d[at + 17]]) as usize;
                    let name = &d[at + 19..at + reclen];
                    let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
                    if let Some(pid) = crate::cgroup::parse_u64(name) {
                        ns.clear();
                        ns.push(b"/proc/").push(name).push(b"/ns/pid");
                        if sys::stat_at(AT_FDCWD, ns.c(), 0).is_ok_and(|s| (s.dev, s.ino) == (want.dev, want.ino)) {
                            put(pid as i32);
                        }
                    }
                    at += reclen.max(1);
                }
            }
            sys::close(proc_dir);
        }
    }
    out.push(if json { b"]\n" } else { b"" });
    let _ = sys::write_all(Fd(1), out.bytes());
    Ok(0)
}

pub fn freeze(g: &Global, o: &mut Opts, on: bool) -> Done<'static> {
    if let Arg::Opt(name, _) = o.next() {
        return Err(unknown(name));
    }
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
    let Ok(dir) = sys::openat(AT_FDCWD, g.root, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0) else {
        out.push(if json { b"]\n" } else { b"" });
        let _ = sys::write_all(Fd(1), out.bytes());
        return Ok(0);
    };
    let mut d = [0u8; 8192];
    let mut first = true;
    let mut space = record::Space::new();
    while let Ok(n) = sys::getdents(dir, &mut d) {
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at + 19 < n {
            let reclen = u16::from_ne_bytes([d[at + 16], d[at + 17]]) as usize;
            let name = &d[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
            at += reclen.max(1);
            if name.first() == Some(&b'.') {
                continue;
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
        }
    }
    sys::close(dir);
    out.push(if json { b"]\n" } else { b"" });
    let _ = sys::write_all(Fd(1), out.bytes());
    Ok(0)
}

/// What this runtime supports, in runc 1.1's form.
const FEATURES: &[u8] = br#"{"ociVersionMin":"1.0.0","ociVersionMax":"1.0.2","hooks":[],"mountOptions":["async","atime","bind","defaults","dev","diratime","dirsync","exec","mand","noatime","nodev","nodiratime","noexec","nomand","norelatime","nostrictatime","nosuid","private","rbind","relatime","remount","ro","rprivate","rshared","rslave","runbindable","rw","shared","slave","strictatime","suid","sync","unbindable","tmpcopyup"],"linux":{"namespaces":["cgroup","ipc","mount","network","pid","user","uts","time"],"capabilities":["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST","CAP_NET_ADMIN","CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER","CAP_SYS_MODULE","CAP_SYS_RAWIO","CAP_SYS_CHROOT","CAP_SYS_PTRACE","CAP_SYS_PACCT","CAP_SYS_ADMIN","CAP_SYS_BOOT","CAP_SYS_NICE","CAP_SYS_RESOURCE","CAP_SYS_TIME","CAP_SYS_TTY_CONFIG","CAP_MKNOD","CAP_LEASE","CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL","CAP_SETFCAP","CAP_MAC_OVERRIDE","CAP_MAC_ADMIN","CAP_SYSLOG","CAP_WAKE_ALARM","CAP_BLOCK_SUSPEND","CAP_AUDIT_READ","CAP_PERFMON","CAP_BPF","CAP_CHECKPOINT_RESTORE"],"cgroup":{"v1":false,"v2":true,"systemd":false,"systemdUser":false},"seccomp":{"enabled":true,"actions":["SCMP_ACT_ALLOW","SCMP_ACT_ERRNO","SCMP_ACT_KILL","SCMP_ACT_KILL_PROCESS","SCMP_ACT_KILL_THREAD","SCMP_ACT_LOG","SCMP_ACT_TRACE","SCMP_ACT_TRAP"],"operators":["SCMP_CMP_EQ","SCMP_CMP_GE","SCMP_CMP_GT","SCMP_CMP_LE","SCMP_CMP_LT","SCMP_CMP_MASKED_EQ","SCMP_CMP_NE"],"archs":["SCMP_ARCH_X86_64"]},"apparmor":{"enabled":true},"selinux":{"enabled":false}},"annotations":{"org.opencontainers.runc.checkpoint.enabled":"false","io.github.sandbox.runtime":"sandbox-oci"}}
"#;

pub fn features() -> Done<'static> {
    let _ = sys::write_all(Fd(1), FEATURES);
    Ok(0)
}

/// runc's default config.json: busybox's sh on a terminal, rootfs beside it.
const SPEC: &[u8] = br#"{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": true,
		"user": {"uid": 0, "gid": 0},
		"args": ["sh"],
		"env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
		"cwd": "/",
		"capabilities": {
			"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
		},
		"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
		"noNewPrivileges": true
	},
	"root": {"path": "rootfs", "readonly": true},
	"hostname": "sandbox",
	"mounts": [
		{"destination": "/proc", "type": "proc", "source": "proc"},
		{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
		{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
		{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
		{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
		{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
		{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
	],
	"linux": {
		"resources": {"devices": [{"allow": false, "access": "rwm"}]},
		"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
		"maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
		"readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
	}
}
"#;

/// Write a default config.json into the bundle (the working directory, or --bundle).
pub fn spec(o: &mut Opts) -> Done<'static> {
    let mut bundle = c".";
    loop {
        match o.next() {
            Arg::Opt(b"bundle" | b"b", given) => bundle = o.value(b"--bundle", given)?,
            Arg::Opt(b"rootless", _) => {}
            Arg::Opt(name, _) => return Err(unknown(name)),
            _ => break,
        }
    }
    let e = |errno| Fail::new(Step::Config, bundle.to_bytes(), errno);
    let dir = sys::openat(AT_FDCWD, bundle, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).map_err(e)?;
    let f = sys::openat(dir, c"config.json", libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, 0o644);
    sys::close(dir);
    let f = f.map_err(e)?;
    let r = sys::write_all(f, SPEC);
    sys::close(f);
    r.map_err(e)?;
    Ok(0)
}
