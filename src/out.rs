//! A fixed-size byte-string builder: paths, mount options and messages without a heap or
//! `core::fmt`. The buffer always keeps a NUL after its contents, so it is a C string too.

use core::ffi::CStr;

/// A buffer of N bytes. Its methods are those of `Bytes<[u8]>`, which every size derefs to:
/// one copy of each for every N.
pub type Buf<const N: usize> = Bytes<[u8; N]>;

pub struct Bytes<B: ?Sized> {
    len: usize,
    overflow: bool,
    b: B,
}

impl<const N: usize> Buf<N> {
    #[inline(never)]
    pub const fn new() -> Self {
        Bytes { len: 0, overflow: false, b: [0; N] }
    }
}

impl<const N: usize> core::ops::Deref for Buf<N> {
    type Target = Bytes<[u8]>;
    fn deref(&self) -> &Bytes<[u8]> {
        self
    }
}

impl<const N: usize> core::ops::DerefMut for Buf<N> {
    fn deref_mut(&mut self) -> &mut Bytes<[u8]> {
        self
    }
}

impl Bytes<[u8]> {
    pub fn push(&mut self, s: &[u8]) -> &mut Self {
        if !append(&mut self.b, &mut self.len, s) {
            self.overflow = true;
        }
        self
    }

    /// Push, with control characters shown as `?`: a message stays one line whatever a user
    /// passed in a path or name.
    pub fn push_printable(&mut self, s: &[u8]) -> &mut Self {
        for &c in s {
            self.push(if c < 0x20 || c == 0x7f { b"?" } else { core::slice::from_ref(&c) });
        }
        self
    }

    pub fn push_u64(&mut self, v: u64) -> &mut Self {
        let mut d = [0u8; 20];
        self.push(decimal(v, &mut d))
    }

    pub fn push_i64(&mut self, v: i64) -> &mut Self {
        if v < 0 {
            self.push(b"-");
        }
        self.push_u64(v.unsigned_abs())
    }

    #[inline(never)]
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
        self.b[0] = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Write what is held to `fd` and start again, when fewer than `room` bytes are left: output
    /// longer than the buffer goes out whole, never cut.
    pub fn spill(&mut self, fd: crate::sys::Fd, room: usize) {
        if self.b.len() - 1 - self.len < room {
            let _ = crate::sys::write_all(fd, self.bytes());
            self.clear();
        }
    }

    /// True when something did not fit and was cut.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    pub fn bytes(&self) -> &[u8] {
        &self.b[..self.len]
    }

    /// The contents as a C string. Embedded NULs cannot occur: every piece pushed comes from a
    /// C string or from digits; if one did, the string ends there.
    pub fn c(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.b[..=self.len]).unwrap_or(c"")
    }
}

/// The words of `list`, separated by spaces (runs of them too): a table of names as one string,
/// without a pointer and a length for each.
pub fn words(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&c| c == b' ').filter(|w| !w.is_empty())
}

/// The number of `word` among the words of `list`.
#[inline(never)]
pub fn word_at(list: &[u8], word: &[u8]) -> Option<usize> {
    words(list).position(|w| w == word)
}

/// Append `s` to `b[..*len]`, as much as fits before the final NUL; false if it was cut.
fn append(b: &mut [u8], len: &mut usize, s: &[u8]) -> bool {
    let room = b.len() - 1 - *len;
    let n = s.len().min(room);
    b[*len..*len + n].copy_from_slice(&s[..n]);
    *len += n;
    b[*len] = 0;
    n == s.len()
}

/// The decimal digits of `v`, written at the end of `d`.
#[inline(never)]
fn decimal(mut v: u64, d: &mut [u8; 20]) -> &[u8] {
    let mut i = d.len();
    loop {
        i -= 1;
        d[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &d[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_terminates() {
        let mut b = Buf::<32>::new();
        b.push(b"lowerdir=").push_u64(0).push(b":").push_u64(18446744073709551615);
        assert_eq!(b.bytes(), b"lowerdir=0:18446744073709551615");
        assert_eq!(b.c().to_bytes(), b.bytes());
        assert!(!b.overflowed());
        b.clear();
        b.push_i64(-42);
        assert_eq!(b.bytes(), b"-42");
    }

    #[test]
    fn words_of_a_list() {
        assert_eq!(word_at(b"ro nosuid  nodev", b"nodev"), Some(2));
        assert_eq!(word_at(b"ro nosuid", b""), None);
        assert_eq!(word_at(b"ro nosuid", b"ro "), None);
        assert_eq!(words(b" a b ").count(), 2);
    }

    #[test]
    fn cuts_and_says_so() {
        let mut b = Buf::<8>::new();
        b.push(b"0123456789");
        assert_eq!(b.bytes(), b"0123456");
        assert!(b.overflowed());
        assert_eq!(b.c().to_bytes(), b"0123456");
    }
}
