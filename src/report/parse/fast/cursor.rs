//! A cursor over one line's JSON: whitespace, strings, numbers and literals, and values
//! skipped (checked for structure only) with the help of what earlier lines left in memory.

use super::memory::{Memo, memo_at, remember};
use super::swar::{quote_or_escape, skip_container, string_end, structural};

pub(super) struct Cursor<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(super) fn ws(&mut self) {
        // Compact JSON, as the router writes it, has none: one comparison.
        if self.b.get(self.i).is_none_or(|&c| c > b' ') {
            return;
        }
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(super) fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The bytes of a string without escapes or control characters; None otherwise.
    #[inline]
    pub(super) fn plain_bytes(&mut self) -> Option<&'a [u8]> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let rest = self.b.get(start..)?;
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        Some(&rest[..len])
    }

    /// A plain string that must be UTF-8 (IDs and times, only hashed or parsed): checked
    /// cheaply when it is ASCII, as it almost always is.
    #[inline]
    pub(super) fn plain_id(&mut self) -> Option<&'a [u8]> {
        let b = self.plain_bytes()?;
        (b.is_ascii() || std::str::from_utf8(b).is_ok()).then_some(b)
    }

    /// Skips a string (escapes allowed, checked).
    #[inline]
    pub(super) fn skip_str(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        let mut i = self.i + 1;
        loop {
            i += quote_or_escape(self.b.get(i..)?)?;
            match *self.b.get(i)? {
                b'"' => break,
                b'\\' => match *self.b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        let hex = self.b.get(i + 2..i + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
        self.i = i + 1;
        Some(())
    }

    /// The text of a number, checked against JSON's grammar.
    #[inline]
    pub(super) fn number(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        let b = self.b;
        let mut i = start;
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
        if b.get(i) == Some(&b'0') {
            i += 1;
        } else if !digits(&mut i) {
            return None;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.i = i;
        Some(&b[start..i])
    }

    #[inline]
    pub(super) fn literal(&mut self, word: &[u8]) -> Option<()> {
        (self.b.get(self.i..self.i + word.len())? == word).then(|| self.i += word.len())
    }

    #[inline]
    pub(super) fn is_null(&mut self) -> bool {
        self.ws();
        self.literal(b"null").is_some()
    }

    /// Skips any value, checking brackets and strings.
    #[inline]
    pub(super) fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' | b'[' => {
                if let Some(n) = skip_container(&self.b[self.i..]) {
                    self.i += n;
                    return Some(());
                }
                let mut depth = 0usize;
                loop {
                    self.i += structural(self.b.get(self.i..)?)?;
                    match self.peek()? {
                        b'"' => {
                            self.skip_str()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => return None,
                    }
                    self.i += 1;
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    /// Skips `known` when the input continues with it. `known` is a string or container
    /// already checked, and the extent of either follows from its bytes, so input that starts
    /// with the same bytes holds the same value (not so for numbers: `1` starts `12`).
    #[inline]
    pub(super) fn skip_known(&mut self, known: &[u8]) -> bool {
        let hit = !known.is_empty() && self.b[self.i..].starts_with(known);
        if hit {
            self.i += known.len();
        }
        hit
    }

    /// Skips a value, remembering it in `memo` when it is a string or a container.
    #[inline]
    pub(super) fn skip_remembered(&mut self, memo: &mut Vec<u8>) -> Option<()> {
        if self.skip_known(memo) {
            return Some(());
        }
        let start = self.i;
        self.skip_value()?;
        if matches!(self.b[start], b'{' | b'[' | b'"') {
            remember(memo, &self.b[start..self.i]);
        }
        Some(())
    }

    /// Skips the value of a top-level key the report does not read (see [`Memo`]).
    #[inline]
    pub(super) fn skip_member(&mut self, memo: &mut Memo) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'{' => {
                if self.skip_known(&memo.whole) {
                    return Some(());
                }
                let start = self.i;
                self.skip_object_members(&mut memo.members)?;
                remember(&mut memo.whole, &self.b[start..self.i]);
                Some(())
            }
            b'[' | b'"' => self.skip_remembered(&mut memo.whole),
            _ => self.skip_value(),
        }
    }

    /// Skips an object member by member, its string and container members through `memos`.
    #[inline]
    pub(super) fn skip_object_members(&mut self, memos: &mut Vec<Vec<u8>>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        for j in 0.. {
            self.ws();
            self.skip_str()?;
            self.eat(b':')?;
            self.ws();
            match memo_at(memos, j) {
                Some(memo) => self.skip_remembered(memo)?,
                None => self.skip_value()?,
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.i += 1;
        Some(())
    }

    #[inline]
    pub(super) fn opt_str(&mut self) -> Option<Option<&'a [u8]>> {
        if self.is_null() {
            Some(None)
        } else {
            self.plain_bytes().map(Some)
        }
    }

    #[inline]
    pub(super) fn opt_id(&mut self) -> Option<Option<&'a [u8]>> {
        if self.is_null() {
            Some(None)
        } else {
            self.plain_id().map(Some)
        }
    }

    #[inline]
    pub(super) fn opt_f64(&mut self) -> Option<Option<f64>> {
        if self.is_null() {
            return Some(None);
        }
        if let Some(v) = self.plain_decimal() {
            return Some(Some(v));
        }
        to_f64(self.number()?).map(Some)
    }

    /// A number like `-12.345` (at most 15 digits, no exponent) read and converted in one
    /// pass, by Clinger's fast path (see [`to_f64`]); None (cursor unmoved) for anything else.
    #[inline]
    pub(super) fn plain_decimal(&mut self) -> Option<f64> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        let b = self.b;
        let mut i = self.i;
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let int_start = i;
        let mut mantissa = 0u64;
        // More than 15 digits is not this path's (the mantissa would overflow past 19).
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - int_start == 15 {
                return None;
            }
            mantissa = mantissa * 10 + u64::from(c - b'0');
            i += 1;
        }
        let int_len = i - int_start;
        // JSON: at least one digit, and no leading zero before another digit.
        if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
            return None;
        }
        let mut frac = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                if int_len + frac == 15 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(c - b'0');
                frac += 1;
                i += 1;
            }
            if frac == 0 {
                return None;
            }
        }
        if int_len + frac > 15 || matches!(b.get(i), Some(b'e' | b'E')) {
            return None;
        }
        self.i = i;
        let v = mantissa as f64 / POW10[frac];
        Some(if neg { -v } else { v })
    }
}

/// A JSON number (already checked against the grammar) as f64. Plain decimals with at most
/// 15 significant digits take Clinger's fast path — an exact integer divided by an exact power
/// of ten, one correctly rounded operation, so the same value as a full parse; anything else
/// goes to the standard library's parser.
#[inline]
pub(super) fn to_f64(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    // Digits, signs, dots and exponents: ASCII, so UTF-8.
    let slow = || std::str::from_utf8(b).ok()?.parse().ok();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa = 0u64;
    let mut count = 0usize;
    let mut frac: Option<usize> = None;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                count += 1;
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            b'.' => frac = Some(0),
            _ => return slow(),
        }
        if count > 15 {
            return slow();
        }
    }
    let v = mantissa as f64 / POW10[frac.unwrap_or(0)];
    Some(if neg { -v } else { v })
}

/// A JSON number as u16 (serde refuses fractions, exponents and out-of-range values too).
#[inline]
pub(super) fn to_u16(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = b.iter().fold(0u32, |v, &c| v * 10 + u32::from(c - b'0'));
    u16::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The EMF block of a router decision line.
    const AWS: &str = r#"{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["experiment","arm"]],"Metrics":[{"Name":"latency_ms","Unit":"Milliseconds"}]}]},"invocations":1,"errors":0,"fallbacks":1}"#;

    /// The byte-wise container skip, for comparison.
    fn skip_bytewise(b: &[u8]) -> Option<usize> {
        let mut c = Cursor { b, i: 0 };
        let mut depth = 0usize;
        loop {
            c.i += structural(c.b.get(c.i..)?)?;
            match c.peek()? {
                b'"' => {
                    c.skip_str()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                _ => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(c.i + 1);
                    }
                }
            }
            c.i += 1;
        }
    }

    #[test]
    fn word_wise_container_skip_matches_byte_wise() {
        let aws = AWS;
        let cases = [
            aws.to_owned(),
            r#"{"a":"}]\"","b":[1,{"c":"{"}]} tail"#.to_owned(),
            r#"[[[[[[[[[["x"]]]]]]]]]],"#.to_owned(),
            r#"{"k":"v}"}"#.to_owned(),
            r#"{}"#.to_owned(),
            r#"{"a":[1,2,3],"b":{"c":{"d":"e"}},"f":"]]]]]]]]]]]]"}}"#.to_owned(),
        ];
        for case in &cases {
            for cut in 1..=case.len() {
                let Some(b) = case.get(..cut) else { continue };
                let fast = skip_container(b.as_bytes());
                if let Some(n) = fast {
                    assert_eq!(Some(n), skip_bytewise(b.as_bytes()), "{b}");
                }
                if !b.contains('\\') {
                    assert_eq!(fast, skip_bytewise(b.as_bytes()), "{b}");
                }
            }
        }
    }

    #[test]
    fn fast_floats_equal_full_parses() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 16) as usize + 1;
            let int: u64 = x >> 20;
            let text = format!("{}", int % 10u64.pow(digits as u32));
            let point = (x >> 8) as usize % (text.len() + 1);
            let mut t = text.clone();
            if point < text.len() {
                t.insert(point.max(1), '.');
            }
            if x & 1 == 1 {
                t.insert(0, '-');
            }
            let want: f64 = t.parse().unwrap();
            assert_eq!(
                to_f64(t.as_bytes()).map(f64::to_bits),
                Some(want.to_bits()),
                "{t}"
            );
        }
        for t in [
            "0",
            "-0",
            "0.5",
            "12.345",
            "8.898",
            "1e5",
            "1.5E-3",
            "123456789012345678",
            "0.1",
        ] {
            assert_eq!(to_f64(t.as_bytes()), t.parse().ok(), "{t}");
        }
        assert_eq!(to_u16(b"200"), Some(200));
        assert_eq!(to_u16(b"65535"), Some(65535));
        assert_eq!(to_u16(b"70000"), None);
        assert_eq!(to_u16(b"200.0"), None);
        assert_eq!(to_u16(b"-1"), None);
    }

    #[test]
    fn plain_decimals_read_in_one_pass_equal_full_parses() {
        let cases = [
            "0",
            "-0",
            "7",
            "12.5",
            "8.898",
            "0.051",
            "-3.25",
            "123456789012345",
            "1234567.12345678",
            "1e5",
            "01",
            "1.",
            "-",
            "1.5e3",
            "0.000000000000001",
        ];
        for t in cases {
            let mut c = Cursor {
                b: t.as_bytes(),
                i: 0,
            };
            let fast = c.plain_decimal();
            let full: Option<f64> = Cursor {
                b: t.as_bytes(),
                i: 0,
            }
            .number()
            .and_then(to_f64)
            .filter(|_| !t.contains(['e', 'E']));
            if let Some(v) = fast {
                assert_eq!(Some(v.to_bits()), full.map(f64::to_bits), "{t}");
                assert_eq!(c.i, t.len(), "{t}");
            } else {
                assert_eq!(c.i, 0, "{t}: the cursor does not move");
            }
        }
    }
}
