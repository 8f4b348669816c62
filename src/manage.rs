//! The sandboxes of a state directory by name: --list, --remove, --stop. Only the caller's own
//! state directory (checked as a run checks it, state.rs) and only layer directories of the
//! caller's in it: names of other users' sandboxes are not shown, and nothing of theirs is
//! touched. Whether a sandbox runs is told by its record (record.rs): its PID 1 is alive and
//! is the very process recorded.

use crate::cli::{valid_name, Named};
use crate::error::{Error, Step, EXIT_SANDBOX};
use crate::out::{Buf, Bytes};
use crate::record::{self, Record, Writer};
use crate::state::{self, PATH_MAX};
use crate::sys::{self, Env, Errno, Fd};

/// The state directory and the caller's layer directory `n.name` in it.
fn find<'a>(n: &Named, env: &Env, uid: u32, path: &'a mut Buf<PATH_MAX>) -> Result<(Fd, Fd), Error<'a>> {
    let name = n.name.to_bytes();
    let Some(state) = state::open_state(n.state_dir, env, uid, path)? else {
        return Err(Error::new(Step::NoSuch, name, Errno::ENOENT));
    };
    match state::open_layer(state, n.name, uid) {
        Ok(dir) => Ok((state, dir)),
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => Err(Error::new(Step::NoSuch, name, Errno::ENOENT)),
        Err(Errno::EPERM) => Err(Error::new(Step::NotOwner, name, Errno::EPERM)),
        Err(e) => Err(Error::new(Step::Layer, name, e)),
    }
}

/// The record of the running sandbox `n.name` with a pidfd of its PID 1; or, said on stderr,
/// why there is none (Err).
pub fn find_running<'b>(n: &Named, env: &Env, buf: &'b mut [u8]) -> Result<(Record<'b>, Fd), ()> {
    let uid = sys::geteuid();
    let mut path = Buf::<PATH_MAX>::new();
    let name = n.name.to_bytes();
    let (state, dir) = find(n, env, uid, &mut path).map_err(|e| e.print())?;
    let holder = sys::lock_holder(dir);
    // Of the file only `recordfd`: what the rest says is read from the outer process.
    let r = record::read(dir, uid, buf).map(|f| f.num(b"recordfd="));
    sys::close(dir);
    sys::close(state);
    let r = r.and_then(|n| record::held(holder, n, buf));
    let found = match r {
        Ok(r) => record::pid1(&r).map(|fd| (r, fd)).ok_or(Error::usage(Step::NotRunning, name)),
        Err(Errno::ESRCH) => Err(Error::usage(Step::NotRunning, name)),
        Err(Errno::ENOENT) => Err(Error::usage(Step::NotRunning, name)),
        Err(e) => Err(Error::new(Step::Record, name, e)),
    };
    found.map_err(|e| e.print())
}

/// --stop NAME [--signal SIG]: the signal to the outer process, which passes it on to PID 1
/// and so to the command, as when it is sent to the outer process by hand.
#[inline(never)]
pub fn stop(n: &Named, env: &Env) -> i32 {
    let mut buf = [0u8; 4096 * 4];
    let Ok((r, pid1)) = find_running(n, env, &mut buf) else { return EXIT_SANDBOX };
    sys::close(pid1);
    let Some(outer) = record::pidfd_if(r.outer, r.outer_start) else {
        Error::usage(Step::NotRunning, n.name.to_bytes()).print();
        return EXIT_SANDBOX;
    };
    let sent = sys::pidfd_send_signal(outer, n.signal);
    sys::close(outer);
    match sent {
        Ok(()) => 0,
        Err(Errno::ESRCH) => {
            Error::usage(Step::NotRunning, n.name.to_bytes()).print();
            EXIT_SANDBOX
        }
        Err(e) => {
            Error::new(Step::Join, n.name.to_bytes(), e).print();
            EXIT_SANDBOX
        }
    }
}

/// --remove NAME: discard a layer that no run holds (kept, or left by a killed run), however
/// overlayfs left its modes. The name's lock is taken first, so no run can start on it
/// meanwhile; a running sandbox holds it, and is refused.
#[inline(never)]
pub fn remove(n: &Named, env: &Env) -> i32 {
    let uid = sys::geteuid();
    let mut path = Buf::<PATH_MAX>::new();
    let name = n.name.to_bytes();
    let (state, dir) = match find(n, env, uid, &mut path) {
        Ok(f) => f,
        Err(e) => {
            e.print();
            return EXIT_SANDBOX;
        }
    };
    // Removed by a run that just ended, between our open and our lock: no such sandbox.
    let e = match state::lock_layer(dir) {
        Ok(_) => None,
        Err(Errno::ENOENT) => Some(Error::new(Step::NoSuch, name, Errno::ENOENT)),
        Err(Errno::EWOULDBLOCK) => Some(Error::usage(Step::Running, name)),
        Err(e) => Some(Error::new(Step::Layer, name, e)),
    };
    if let Some(e) = e {
        e.print();
        return EXIT_SANDBOX;
    }
    let r = state::discard_contents(dir).and_then(|()| sys::unlinkat(state, n.name, libc::AT_REMOVEDIR));
    if let Err(e) = r {
        Error::new(Step::Cleanup, name, e).print();
        return EXIT_SANDBOX;
    }
    0
}

/// Standard output in pieces of a few KiB.
struct Out(Writer);

impl Out {
    fn put(&mut self, s: &[u8]) -> &mut Self {
        self.0.put(s);
        self
    }
    fn flush(&mut self) {
        self.0.flush();
    }
    fn num(&mut self, v: u64) -> &mut Self {
        let mut n = Buf::<24>::new();
        n.push_u64(v);
        self.put(n.bytes())
    }
    /// Text for a line: control characters shown as `?`, so that a line stays one line.
    fn text(&mut self, s: &[u8]) -> &mut Self {
        for c in s {
            self.put(if *c < 0x20 || *c == 0x7f { b"?" } else { core::slice::from_ref(c) });
        }
        self
    }
    /// A value: a JSON string, or text.
    fn val(&mut self, json: bool, s: &[u8]) -> &mut Self {
        if json {
            self.json(s)
        } else {
            self.text(s)
        }
    }
    /// A JSON string. A name or path that is not UTF-8 has its bytes from 0x80 written as the
    /// characters U+0080..U+00FF: valid JSON, the ASCII parts exact.
    fn json(&mut self, s: &[u8]) -> &mut Self {
        let utf8 = is_utf8(s);
        self.put(b"\"");
        for &c in s {
            match c {
                b'"' => self.put(b"\\\""),
                b'\\' => self.put(b"\\\\"),
                b'\n' => self.put(b"\\n"),
                b'\t' => self.put(b"\\t"),
                c if c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8) => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.put(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]])
                }
                c => self.put(&[c]),
            };
        }
        self.put(b"\"")
    }
}

/// Whether `s` is UTF-8, as `core::str::from_utf8` tells (no overlong forms, no surrogates,
/// nothing above U+10FFFF), in a fraction of its code.
fn is_utf8(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        // The length of the sequence, and the range of its second byte.
        let (n, lo, hi) = match c {
            0..=0x7f => (1, 0, 0),
            0xc2..=0xdf => (2, 0x80, 0xbf),
            0xe0 => (3, 0xa0, 0xbf),
            0xed => (3, 0x80, 0x9f),
            0xe1..=0xef => (3, 0x80, 0xbf),
            0xf0 => (4, 0x90, 0xbf),
            0xf1..=0xf3 => (4, 0x80, 0xbf),
            0xf4 => (4, 0x80, 0x8f),
            _ => return false,
        };
        for k in 1..n {
            let (lo, hi) = if k == 1 { (lo, hi) } else { (0x80, 0xbf) };
            if !s.get(i + k).is_some_and(|b| (lo..=hi).contains(b)) {
                return false;
            }
        }
        i += n;
    }
    true
}

/// `2026-12-03T20:26:26Z` for seconds since the epoch (UTC, proleptic Gregorian).
fn iso_time(secs: u64, out: &mut Buf<32>) {
    date_time(secs, out);
    out.push(b"Z");
}

/// `2026-12-03T20:26:26` for seconds since the epoch (UTC): --list's times and sandbox-oci's.
#[inline(never)]
pub fn date_time(secs: u64, out: &mut Bytes<[u8]>) {
    let days = secs / 86400;
    let rem = secs % 86400;
    // Days to a civil date (Howard Hinnant's algorithm; no date before the epoch, so unsigned).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as u64;
    out.push_u64(y);
    // Two digits each, after its separator.
    for (sep, v) in b"--T::".iter().zip([m, d, rem / 3600, rem / 60 % 60, rem % 60]) {
        out.push(&[*sep, b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
    }
}

/// --list [--json]: one line per sandbox of the caller's in the state directory.
#[inline(never)]
pub fn list(n: &Named, env: &Env) -> i32 {
    let uid = sys::geteuid();
    let mut path = Buf::<PATH_MAX>::new();
    let mut o = Out(Writer::new(sys::Fd(1)));
    let state = match state::open_state(n.state_dir, env, uid, &mut path) {
        Ok(Some(s)) => s,
        Ok(None) => {
            if n.json {
                o.put(b"[]\n").flush();
            }
            return 0;
        }
        Err(e) => {
            e.print();
            return EXIT_SANDBOX;
        }
    };
    if n.json {
        o.put(b"[");
    }
    let mut first = true;
    let mut ents = [0u8; 4096];
    let mut rec = [0u8; 16 * 1024];
    loop {
        let got = match sys::getdents(state, &mut ents) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) => {
                o.flush();
                Error::new(Step::StateDir, path.bytes(), e).print();
                return EXIT_SANDBOX;
            }
        };
        for (name, _) in sys::dirents(&ents[..got]) {
            if !valid_name(name.to_bytes()) {
                continue;
            }
            // Another user's (in a shared state directory), or not a directory: not shown.
            let Ok(dir) = state::open_layer(state, name, uid) else { continue };
            let kept = sys::openat(dir, c"keep", libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0).map(sys::close).is_ok();
            let r = record::read(dir, uid, &mut rec).ok();
            sys::close(dir);
            let running = r.as_ref().is_some_and(record::running);
            let word: &[u8] = if running {
                b"running"
            } else if kept {
                b"kept"
            } else {
                // What a killed run left: discarded at the next start of the name, or by --remove.
                b"stale"
            };
            let mut when = Buf::<32>::new();
            if let Some(r) = r.as_ref().filter(|r| r.time > 0) {
                iso_time(r.time, &mut when);
            }
            let name = name.to_bytes();
            // The same fields either way: tab-separated text with `-` for none, or JSON.
            let j = n.json;
            let (none, sep): (&[u8], &[u8]) = if j { (b"null", b", ") } else { (b"-", b" ") };
            o.put(match (j, first) {
                (true, true) => b"\n  {\"name\": ",
                (true, false) => b",\n  {\"name\": ",
                _ => b"",
            })
            .val(j, name);
            o.put(if j { b", \"state\": " } else { b"\t" }).val(j, word);
            o.put(if j { b", \"pid\": " } else { b"\t" });
            match &r {
                Some(r) if running => o.num(r.pid as u64),
                _ => o.put(none),
            };
            o.put(if j { b", \"started\": " } else { b"\t" });
            if when.len() > 0 {
                o.val(j, when.bytes());
            } else {
                o.put(none);
            }
            o.put(if j { b", \"lowers\": [" } else { b"\t" });
            let mut any = false;
            if let Some(r) = &r {
                for l in r.values(b"lower=") {
                    o.put(if any { sep } else { b"" }).val(j, l.to_bytes());
                    any = true;
                }
            }
            o.put(if j {
                b"]}"
            } else if any {
                b"\n"
            } else {
                b"-\n"
            });
            first = false;
        }
    }
    sys::close(state);
    if n.json {
        o.put(if first { b"]\n" } else { b"\n]\n" });
    }
    o.flush();
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_as_core_tells() {
        // Every sequence of up to three bytes from a set around each boundary, and random ones.
        let edges = [0x00u8, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
        let mut v = std::vec::Vec::new();
        for &a in &edges {
            for &b in &edges {
                for &c in &edges {
                    for s in [&[a][..], &[a, b], &[a, b, c], &[0xf0, a, b, c], &[0xf4, a, b, c], &[a, b, c, 0x80]] {
                        v.clear();
                        v.extend_from_slice(s);
                        assert_eq!(is_utf8(&v), core::str::from_utf8(&v).is_ok(), "{v:x?}");
                    }
                }
            }
        }
        let mut seed = 7u64;
        for _ in 0..200_000 {
            v.clear();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            for k in 0..(seed >> 60) {
                v.push((seed >> (k * 4 % 56)) as u8 | 0x80);
            }
            assert_eq!(is_utf8(&v), core::str::from_utf8(&v).is_ok(), "{v:x?}");
        }
        assert!(is_utf8("año ✓ 𝄞".as_bytes()));
    }

    #[test]
    fn times_are_iso_8601_utc() {
        let t = |s| {
            let mut b = Buf::<32>::new();
            iso_time(s, &mut b);
            std::string::String::from_utf8(b.bytes().to_vec()).unwrap()
        };
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
        assert_eq!(t(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(t(1_796_329_586), "2026-12-03T20:26:26Z");
        assert_eq!(t(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
