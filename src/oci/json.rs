//! A small JSON reader in the jsmn way: one pass over a caller's buffer fills a caller's fixed
//! array of tokens (kind, text, how many tokens the subtree has); typed lookups then walk the
//! tokens and copy nothing. Strings are unescaped in place and NUL-terminated where their closing
//! quote was, so a value is handed out as a `&CStr` into the buffer itself. A value is its
//! tokens (`&[Tok]`): two words, passed and returned in registers.

use super::why;
use core::ffi::CStr;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    // First: an all-zero token array is all Null, and lives in .bss.
    Null,
    Obj,
    Arr,
    Str,
    Num,
    True,
    False,
}

#[derive(Clone, Copy)]
pub struct Tok<'a> {
    /// Strings: the (unescaped) content and the NUL after it; numbers: the digits. None for
    /// the others (and while parsing), so that an array of empty tokens is all zeros.
    text: Option<&'a [u8]>,
    /// How many tokens the subtree has, this one included (while parsing a string or a
    /// number: where it starts).
    size: u32,
    kind: Kind,
}

impl Tok<'_> {
    pub const EMPTY: Tok<'static> = Tok { text: None, size: 0, kind: Kind::Null };
}

/// Why a document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bad {
    /// The reason's number (why::n).
    pub what: u8,
}

impl Bad {
    /// The reason, as error lines take it.
    pub fn why(self) -> &'static [u8] {
        why::text(self.what)
    }
}

const MAX_DEPTH: usize = 64;

fn bad(what: u8) -> Bad {
    Bad { what }
}

fn hex(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u32),
        b'a'..=b'f' => Some((c - b'a' + 10) as u32),
        b'A'..=b'F' => Some((c - b'A' + 10) as u32),
        _ => None,
    }
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    s.iter().try_fold(0u32, |v, &c| Some(v << 4 | hex(c)?))
}

/// Unescape the string whose content starts at `at` (after the quote), in place, and end it with
/// a NUL. Returns the index after the closing quote.
fn string(b: &mut [u8], at: usize) -> Result<usize, Bad> {
    let (mut r, mut w) = (at, at);
    loop {
        let c = *b.get(r).ok_or(bad(why::n::UNTERMINATED_STRING))?;
        r += 1;
        // (Writes are never past the read: get_mut never fails.)
        let one = match c {
            b'"' => 0,
            0..=0x1f => return Err(bad(why::n::CONTROL_CHARACTER_IN_STRING)),
            b'\\' => {
                let e = *b.get(r).ok_or(bad(why::n::UNTERMINATED_STRING))?;
                r += 1;
                match e {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let mut cp = hex4(b, r).ok_or(bad(why::n::BAD_U_ESCAPE))?;
                        r += 4;
                        if (0xd800..0xdc00).contains(&cp) && b.get(r) == Some(&b'\\') && b.get(r + 1) == Some(&b'u') {
                            let lo = hex4(b, r + 2).ok_or(bad(why::n::BAD_U_ESCAPE))?;
                            if (0xdc00..0xe000).contains(&lo) {
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                r += 6;
                            }
                        }
                        if cp == 0 || (0xd800..0xe000).contains(&cp) {
                            return Err(bad(why::n::NUL_OR_LONE_SURROGATE));
                        }
                        // UTF-8 (cp is a scalar value: no surrogate, at most 0x10FFFF): a lead
                        // byte, then 6 bits a byte; never longer than the escape it replaces.
                        let n = match cp {
                            0..=0x7f => 0,
                            0x80..=0x7ff => 1,
                            0x800..=0xffff => 2,
                            _ => 3,
                        };
                        let mut lead = [0u8, 0xc0, 0xe0, 0xf0][n];
                        for k in (0..=n).rev() {
                            if let Some(o) = b.get_mut(w) {
                                *o = lead | (cp >> (6 * k)) as u8 & if k == n { 0x7f } else { 0x3f };
                            }
                            lead = 0x80;
                            w += 1;
                        }
                        continue;
                    }
                    _ => return Err(bad(why::n::BAD_ESCAPE_IN_STRING)),
                }
            }
            _ => c,
        };
        if let Some(o) = b.get_mut(w) {
            *o = one;
        }
        w += 1;
        if c == b'"' {
            return Ok(r);
        }
    }
}

fn number_end(b: &[u8], mut i: usize) -> Result<usize, Bad> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return Err(bad(why::n::BAD_NUMBER));
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return Err(bad(why::n::BAD_NUMBER));
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(bad(why::n::BAD_NUMBER));
        }
    }
    Ok(i)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// A parsed document: its tokens (the strings are in the buffer, unescaped).
pub struct Doc<'a> {
    toks: &'a [Tok<'a>],
}

/// Parse `b` (the whole of it is the document), filling `toks`.
pub fn parse<'a>(b: &'a mut [u8], toks: &'a mut [Tok<'a>]) -> Result<Doc<'a>, Bad> {
    let mut n = 0usize;
    // Open containers: token index; and whether a key is expected next in an object.
    let mut stack = [0u32; MAX_DEPTH];
    let mut depth = 0usize;
    let mut i = skip_ws(b, 0);
    // What may come: a value (after `[`, `:`, `,` in an array, at the start), a key, or the
    // end of a container / a comma.
    #[derive(PartialEq)]
    enum Want {
        Value,
        ValueOrClose,
        Key,
        KeyOrClose,
        CommaOrClose,
    }
    let mut want = Want::Value;
    loop {
        if depth == 0 && n > 0 && want == Want::CommaOrClose {
            i = skip_ws(b, i);
            if i != b.len() {
                return Err(bad(why::n::TEXT_AFTER_THE_DOCUMENT));
            }
            break;
        }
        let c = *b.get(i).ok_or(bad(why::n::UNEXPECTED_END))?;
        // The open container, if any (its token's place is always in `toks`).
        let open = stack.get(depth.wrapping_sub(1)).map_or(usize::MAX, |&o| o as usize);
        let in_obj = toks.get(open).is_some_and(|t| t.kind == Kind::Obj);
        match want {
            Want::CommaOrClose | Want::ValueOrClose | Want::KeyOrClose if c == b']' || c == b'}' => {
                let t = toks.get_mut(open).ok_or(bad(why::n::UNBALANCED))?;
                if (c == b']') != (t.kind == Kind::Arr) {
                    return Err(bad(why::n::MISMATCHED_BRACKET));
                }
                t.size = (n - open) as u32;
                depth -= 1;
                i = skip_ws(b, i + 1);
                want = Want::CommaOrClose;
                continue;
            }
            Want::CommaOrClose => {
                if c != b',' {
                    return Err(bad(why::n::EXPECTED_COMMA_OR_CLOSE));
                }
                i = skip_ws(b, i + 1);
                want = if in_obj { Want::Key } else { Want::Value };
                continue;
            }
            Want::Key | Want::KeyOrClose if c != b'"' => return Err(bad(why::n::EXPECTED_A_KEY)),
            _ => {}
        }
        let slot = toks.get_mut(n).ok_or(bad(why::n::TOO_MANY_VALUES))?;
        let is_key = matches!(want, Want::Key | Want::KeyOrClose);
        let mut t = Tok { text: None, size: 1, kind: Kind::Null };
        let next;
        match c {
            b'{' | b'[' => {
                t.kind = if c == b'{' { Kind::Obj } else { Kind::Arr };
                if depth == MAX_DEPTH {
                    return Err(bad(why::n::NESTED_TOO_DEEP));
                }
                stack[depth] = n as u32;
                depth += 1;
                *slot = t;
                n += 1;
                i = skip_ws(b, i + 1);
                want = if c == b'{' { Want::KeyOrClose } else { Want::ValueOrClose };
                continue;
            }
            b'"' => {
                let after = string(b, i + 1)?;
                t.kind = Kind::Str;
                t.size = i as u32 + 1;
                next = after;
            }
            b't' | b'f' | b'n' => {
                let (word, kind): (&[u8], Kind) = match c {
                    b't' => (b"true", Kind::True),
                    b'f' => (b"false", Kind::False),
                    _ => (b"null", Kind::Null),
                };
                if b.get(i..i + word.len()) != Some(word) {
                    return Err(bad(why::n::UNKNOWN_WORD));
                }
                t.kind = kind;
                next = i + word.len();
            }
            b'-' | b'0'..=b'9' => {
                let e = number_end(b, i)?;
                t.kind = Kind::Num;
                t.size = i as u32;
                next = e;
            }
            _ => return Err(bad(why::n::UNEXPECTED_CHARACTER)),
        }
        *slot = t;
        n += 1;
        i = skip_ws(b, next);
        if is_key {
            if b.get(i) != Some(&b':') {
                return Err(bad(why::n::EXPECTED_COLON));
            }
            i = skip_ws(b, i + 1);
            want = Want::Value;
        } else {
            want = Want::CommaOrClose;
        }
    }
    // The texts of strings and numbers, now that the buffer is done with.
    let b: &'a [u8] = b;
    let toks = toks.get_mut(..n).unwrap_or_default();
    for t in toks.iter_mut() {
        let s = t.size as usize;
        t.text = match t.kind {
            Kind::Str => b.get(s..).and_then(|r| CStr::from_bytes_until_nul(r).ok()).map(CStr::to_bytes_with_nul),
            Kind::Num => b.get(s..number_end(b, s).unwrap_or(s)),
            _ => continue,
        };
        t.size = 1;
    }
    Ok(Doc { toks })
}

impl<'a> Doc<'a> {
    pub fn root(&self) -> Val<'a> {
        Val { t: self.toks }
    }
}

/// One value of a document: its token, then those of what it holds (and maybe more after);
/// its strings live as long as the document's buffer.
#[derive(Clone, Copy)]
pub struct Val<'a> {
    t: &'a [Tok<'a>],
}

impl<'a> Val<'a> {
    /// No value: what an absent one reads as (no string, number or items).
    pub const NONE: Val<'static> = Val { t: &[] };
    fn tok(&self) -> &'a Tok<'a> {
        self.t.first().unwrap_or(&Tok::EMPTY)
    }
    /// The tokens within (none for a string, number, true, false or null).
    fn inside(&self) -> &'a [Tok<'a>] {
        self.t.get(1..self.tok().size as usize).unwrap_or(&[])
    }
    pub fn kind(&self) -> Kind {
        self.tok().kind
    }
    #[inline(never)]
    pub fn str(&self) -> Option<&'a CStr> {
        let t = self.tok();
        if t.kind != Kind::Str {
            return None;
        }
        // The parser ended the string with a NUL, and refused \u0000 in it.
        CStr::from_bytes_until_nul(t.text?).ok()
    }
    #[inline(never)]
    pub fn bytes(&self) -> Option<&'a [u8]> {
        self.str().map(CStr::to_bytes)
    }
    fn num_text(&self) -> Option<&'a [u8]> {
        let t = self.tok();
        (t.kind == Kind::Num).then_some(t.text?)
    }
    /// A non-negative integer (no fraction or exponent) that fits in u64.
    #[inline(never)]
    pub fn u64(&self) -> Option<u64> {
        Val::parse_digits(self.num_text()?)
    }
    #[inline(never)]
    pub fn i64(&self) -> Option<i64> {
        let s = self.num_text()?;
        match s.strip_prefix(b"-") {
            Some(rest) => {
                let v = Val::parse_digits(rest)?;
                if v <= i64::MAX as u64 + 1 {
                    Some((v as i64).wrapping_neg())
                } else {
                    None
                }
            }
            None => Val::parse_digits(s).and_then(|v| i64::try_from(v).ok()),
        }
    }
    #[inline(never)]
    fn parse_digits(s: &[u8]) -> Option<u64> {
        if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        s.iter().try_fold(0u64, |v, d| v.checked_mul(10)?.checked_add((d - b'0') as u64))
    }
    #[inline(never)]
    pub fn bool(&self) -> Option<bool> {
        match self.kind() {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        self.kind() == Kind::Null
    }
    /// The number of elements of an array, or keys of an object.
    pub fn len(&self) -> usize {
        // The values within, one after the other: an object's are its keys and their values.
        let n = Items { t: self.inside() }.count();
        if self.kind() == Kind::Obj {
            n / 2
        } else {
            n
        }
    }
    /// The value of `key` in an object (the last one if repeated).
    #[inline(never)]
    pub fn get(&self, key: &[u8]) -> Option<Val<'a>> {
        let mut found = None;
        for (k, v) in self.entries() {
            if k.to_bytes() == key {
                found = Some(v);
            }
        }
        found
    }
    /// The key/value pairs of an object (none for other kinds).
    #[inline(never)]
    pub fn entries(&self) -> Entries<'a> {
        Entries { t: if self.kind() == Kind::Obj { self.inside() } else { &[] } }
    }
    /// The string at `key` of an object.
    #[inline(never)]
    pub fn str_at(&self, key: &[u8]) -> Option<&'a CStr> {
        self.get(key)?.str()
    }
    #[inline(never)]
    pub fn bytes_at(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.get(key)?.bytes()
    }
    /// The number at `key` of an object (as `u64` and `i64` read it).
    #[inline(never)]
    pub fn u64_at(&self, key: &[u8]) -> Option<u64> {
        self.get(key)?.u64()
    }
    #[inline(never)]
    pub fn i64_at(&self, key: &[u8]) -> Option<i64> {
        self.get(key)?.i64()
    }
    /// The elements of the array at `key` of an object (none if it has none).
    #[inline(never)]
    pub fn items_at(&self, key: &[u8]) -> Items<'a> {
        match self.get(key) {
            Some(v) => v.items(),
            None => Items { t: &[] },
        }
    }
    /// The key/value pairs of the object at `key` of an object (none if it has none).
    #[inline(never)]
    pub fn entries_at(&self, key: &[u8]) -> Entries<'a> {
        match self.get(key) {
            Some(v) => v.entries(),
            None => Entries { t: &[] },
        }
    }
    /// The elements of an array (none for other kinds).
    #[inline(never)]
    pub fn items(&self) -> Items<'a> {
        Items { t: if self.kind() == Kind::Arr { self.inside() } else { &[] } }
    }
}

/// The rest of an object's tokens: key, value, key, value...
pub struct Entries<'a> {
    t: &'a [Tok<'a>],
}

impl Entries<'_> {
    pub const NONE: Entries<'static> = Entries { t: &[] };
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a CStr, Val<'a>);
    #[inline(never)]
    fn next(&mut self) -> Option<Self::Item> {
        let key = Val { t: self.t }.str()?;
        let v = Val { t: self.t.get(1..)? };
        self.t = v.t.get(v.tok().size as usize..).unwrap_or(&[]);
        Some((key, v))
    }
}

/// The rest of an array's tokens.
pub struct Items<'a> {
    t: &'a [Tok<'a>],
}

impl<'a> Iterator for Items<'a> {
    type Item = Val<'a>;
    #[inline(never)]
    fn next(&mut self) -> Option<Val<'a>> {
        if self.t.is_empty() {
            return None;
        }
        let v = Val { t: self.t };
        self.t = self.t.get(v.tok().size.max(1) as usize..).unwrap_or(&[]);
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<R>(text: &str, f: impl FnOnce(Result<Val, Bad>) -> R) -> R {
        let mut b = text.as_bytes().to_vec();
        let mut t = vec![Tok::EMPTY; 256];
        match parse(&mut b, &mut t) {
            Ok(d) => f(Ok(d.root())),
            Err(e) => f(Err(e)),
        }
    }

    #[test]
    fn objects_arrays_and_scalars() {
        with(r#" {"a": [1, -2, 3.5e1, true, false, null], "b": {"c": "d"}, "e": {}, "f": []} "#, |v| {
            let v = v.unwrap();
            assert_eq!(v.kind(), Kind::Obj);
            assert_eq!(v.len(), 4);
            let a = v.get(b"a").unwrap();
            assert_eq!(a.len(), 6);
            let items: Vec<Val> = a.items().collect();
            assert_eq!(items[0].u64(), Some(1));
            assert_eq!(items[1].i64(), Some(-2));
            assert_eq!(items[1].u64(), None);
            assert_eq!(items[2].kind(), Kind::Num);
            assert_eq!(items[2].u64(), None);
            assert_eq!(items[3].bool(), Some(true));
            assert_eq!(items[4].bool(), Some(false));
            assert!(items[5].is_null());
            assert_eq!(v.get(b"b").unwrap().get(b"c").unwrap().bytes(), Some(&b"d"[..]));
            assert_eq!(v.get(b"e").unwrap().len(), 0);
            assert_eq!(v.get(b"f").unwrap().items().count(), 0);
            let keys: Vec<&[u8]> = v.entries().map(|(k, _)| k.to_bytes()).collect();
            assert_eq!(keys, [&b"a"[..], b"b", b"e", b"f"]);
            assert!(v.get(b"zz").is_none());
        });
    }

    #[test]
    fn strings_are_unescaped_in_place() {
        with(r#"["a\"b\\c\/d\n\t", "\u00e9\u20ac\ud83d\ude00", "", "\u0041\u07ff\u0800\uffff\udbff\udfff"]"#, |v| {
            let v = v.unwrap();
            let s: Vec<&CStr> = v.items().map(|x| x.str().unwrap()).collect();
            assert_eq!(s[0].to_bytes(), b"a\"b\\c/d\n\t");
            assert_eq!(s[1].to_bytes(), "é€😀".as_bytes());
            assert_eq!(s[2].to_bytes(), b"");
            assert_eq!(s[3].to_bytes(), "A\u{7ff}\u{800}\u{ffff}\u{10ffff}".as_bytes());
        });
    }

    #[test]
    fn large_numbers() {
        with("[18446744073709551615, 18446744073709551616, -9223372036854775808, 0]", |v| {
            let v: Vec<Val> = v.unwrap().items().collect();
            assert_eq!(v[0].u64(), Some(u64::MAX));
            assert_eq!(v[1].u64(), None);
            assert_eq!(v[2].i64(), Some(i64::MIN));
            assert_eq!(v[3].u64(), Some(0));
        });
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            "", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "[1 2]", "{1:2}", "\"abc", "[tru]", "[1]]", "[1] x", "[\"\\x\"]",
            "[\"\\u0000\"]", "[\"a\nb\"]", "[01a]", "{\"a\":]", "[-]", "[1.]",
        ] {
            with(bad, |v| assert!(v.is_err(), "accepted {bad:?}"));
        }
    }

    #[test]
    fn too_many_tokens_and_depth() {
        let mut b = b"[1,2,3,4]".to_vec();
        let mut t = vec![Tok::EMPTY; 3];
        assert!(parse(&mut b, &mut t).is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        with(&deep, |v| assert!(v.is_err()));
    }
}
