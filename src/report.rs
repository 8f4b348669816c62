//! The one message a child may send its parent: a failure (step, errno, path), or, with
//! --timings, the moment the root was ready; and the sandbox's terminal, when it has one. It travels over a CLOEXEC socketpair of
//! SOCK_SEQPACKET (one message per read): when the command's execve succeeds the last write end
//! closes, so end-of-file means "the command is running".

use crate::error::{Error, Step};
use crate::sys::{self, Errno, Fd};

const FAILED: u8 = 1;
const ROOT_READY: u8 = 2;
const PTY: u8 = 3;
const HEAD: usize = 16;
pub const MAX: usize = HEAD + 1024;

pub enum Msg<'a> {
    Failed(Error<'a>),
    RootReady(u64),
    /// The master side of the sandbox's terminal, passed with the message.
    Pty(Fd),
}

pub fn channel() -> Result<(Fd, Fd), Errno> {
    sys::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC)
}

fn send(fd: Fd, kind: u8, step: u8, errno: i32, value: u64, path: &[u8]) {
    let mut m = [0u8; MAX];
    m[0] = kind;
    m[1] = step;
    m[4..8].copy_from_slice(&errno.to_ne_bytes());
    m[8..16].copy_from_slice(&value.to_ne_bytes());
    let n = path.len().min(MAX - HEAD);
    m[HEAD..HEAD + n].copy_from_slice(&path[..n]);
    let _ = sys::write(fd, &m[..HEAD + n]);
}

pub fn send_error(fd: Fd, e: &Error) {
    send(fd, FAILED, e.step as u8, e.errno, 0, e.path);
}

pub fn send_root_ready(fd: Fd, ns: u64) {
    send(fd, ROOT_READY, 0, 0, ns, b"");
}

pub fn send_pty(fd: Fd, master: Fd) -> Result<(), Errno> {
    sys::send_fd(fd, PTY, master)
}

/// The next message, or None at end-of-file.
pub fn recv(fd: Fd, buf: &mut [u8; MAX]) -> Option<Msg<'_>> {
    let (n, passed) = loop {
        match sys::recv_fd(fd, buf) {
            Err(Errno::EINTR) => continue,
            Ok((n, passed)) if n > 0 && buf[0] == PTY => return Some(Msg::Pty(passed)),
            Ok((n, passed)) if n >= HEAD => break (n, passed),
            _ => return None,
        }
    };
    sys::close(passed);
    let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let mut v = [0u8; 8];
    v.copy_from_slice(&buf[8..16]);
    let value = u64::from_ne_bytes(v);
    Some(match buf[0] {
        ROOT_READY => Msg::RootReady(value),
        _ => Msg::Failed(Error { step: Step::from_u8(buf[1]), path: &buf[HEAD..n], errno }),
    })
}
