//! ps, pause, resume, list, features, spec.

use super::why;
use super::create::{self, each_name, freeze_file};
use super::record::{self, Status};
use super::{each_option, take_id, Done, Fail, Global, Opts, Step, IGNORED, VALUE};
use crate::error::push_text;
use crate::out::Buf;
use crate::sys::{self, Errno, Fd, AT_FDCWD};

fn format(o: &mut Opts) -> Result<bool, Fail<'static>> {
    let mut json = false;
    each_option(o, &(b"format f quiet q", &[VALUE, VALUE, IGNORED, IGNORED]), &mut |_, v| {
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
    let mut out = Buf::<4096>::new();
    out.push(if json { b"[" } else { b"PID\n" });
    let mut first = true;
    let mut put = |pid: i32| {
        out.spill(Fd(1), 24);
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
    each_option(o, &(b"", &[]), &mut |_, _| Ok(()))?;
    let id = take_id(g, o)?;
    let r = create::open(g, id)?;
    if matches!(r.status, Status::Stopped | Status::Created) {
        return Err(Fail::usage(Step::Status, r.status.name(), why::ONLY_RUNNING_CAN_PAUSE));
    }
    freeze_file(r.cgroup, on).map_err(|e| {
        let f = if e == Errno::ENOENT { Fail::usage(Step::Freeze, b"", why::NO_CGROUP_V2) } else { Fail::new(Step::Freeze, r.cgroup, e) };
        f
    })?;
    Ok(0)
}

pub fn list(g: &Global, o: &mut Opts) -> Done<'static> {
    let json = format(o)?;
    let mut out = Buf::<65536>::new();
    out.push(if json { b"[" } else { b"ID\tPID\tSTATUS\tBUNDLE\n" });
    let mut first = true;
    let root = match g.state_root(false) {
        Ok(r) => r,
        // No root yet, so no container either: each_name finds nothing under fd -1.
        Err(f) if f.step == Step::NotFound => Fd(-1),
        Err(f) => return Err(f),
    };
    each_name(root, c".", &mut |id, _| {
        let name = id.to_bytes();
        if name.first() == Some(&b'.') {
            return;
        }
        let mut space = record::Space::new();
        if let Ok(r) = record::read(root, id, &mut space) {
            if json {
                if !first {
                    out.push(b",");
                }
                create::print_state(&mut out, name, &r);
            } else {
                out.push(name).push(b"\t").push_u64(if r.status == Status::Stopped { 0 } else { r.pid as u64 }).push(b"\t").push(r.status.name()).push(b"\t").push(r.bundle.to_bytes()).push(b"\n");
            }
            first = false;
            out.spill(Fd(1), usize::MAX);
        }
    });
    out.push(if json { b"]\n" } else { b"" });
    let _ = sys::write_all(Fd(1), out.bytes());
    Ok(0)
}

/// What this runtime supports, in runc 1.1's form (src/texts.rs).
pub fn features() -> Done<'static> {
    let mut b = Buf::<4096>::new();
    push_text(&mut b, super::FEATURES);
    for (i, n) in crate::out::words(crate::caps::NAMES).enumerate() {
        b.push(if i > 0 { b",\"CAP_" } else { b"\"CAP_" }).push(n).push(b"\"");
    }
    push_text(&mut b, super::FEATURES_END);
    let _ = sys::write_all(Fd(1), b.bytes());
    Ok(0)
}

/// Write a default config.json into the bundle (the working directory, or --bundle); with
/// --rootless, runc's form for a user without privileges: a user namespace mapping root to
/// the caller, the host's network, /sys bound from the host, devpts without gid=5.
pub fn spec(o: &mut Opts) -> Done<'static> {
    let (mut bundle, mut rootless) = (c".", false);
    each_option(o, &(b"bundle b rootless", &[VALUE, VALUE, 2]), &mut |i, v| {
        match i {
            2 => rootless = true,
            _ => bundle = v,
        }
        Ok(())
    })?;
    // runc's default config.json (src/texts.rs): busybox's sh on a terminal, rootfs beside it.
    let mut full = Buf::<4096>::new();
    push_text(&mut full, super::SPEC);
    let mut text = Buf::<4096>::new();
    let mut rest = full.bytes();
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
