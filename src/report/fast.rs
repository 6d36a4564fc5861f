//! A fast path for the router's own lines: one pass over a flat JSON object that picks the
//! fields the report reads and skips the rest (the EMF block is most of each line) without
//! building anything. It gives up (None) on anything unusual — escapes in a string it keeps,
//! a Lambda `message` wrapper, duplicate or mistyped fields, broken structure — and the caller
//! then parses the line with serde_json, which decides. On well-formed input both agree (see
//! the tests); skipped values are checked for structure, not for full JSON validity.

use super::parse::View;

/// Most arms a fast-path `weights` may hold.
const MAX_ARMS: usize = 16;

// SWAR ("SIMD within a register"): eight bytes per step. `zeros` flags the bytes of a word
// that are 0 and `below` those under a bound (at most 0x80); bytes above the first flagged one
// may be flagged wrongly (borrows), so only the lowest flag is used, which is always right.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

fn splat(b: u8) -> u64 {
    ONES * u64::from(b)
}

fn zeros(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGH
}

fn below(v: u64, n: u8) -> u64 {
    v.wrapping_sub(splat(n)) & !v & HIGH
}

/// The index of the first byte where `flags` (per eight-byte word) or `hit` (per byte, for
/// the tail) fires.
fn find(b: &[u8], flags: impl Fn(u64) -> u64, hit: impl Fn(u8) -> bool) -> Option<usize> {
    let mut words = b.chunks_exact(8);
    for (k, w) in words.by_ref().enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let m = flags(u64::from_le_bytes(a));
        if m != 0 {
            return Some(k * 8 + (m.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    let at = b.len() - tail.len();
    tail.iter().position(|&c| hit(c)).map(|i| at + i)
}

/// The high bit of exactly the bytes of `v` that are 0 (no borrows, unlike [`zeros`]).
fn zeros_exact(v: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((v & LOW7).wrapping_add(LOW7)) | v | LOW7)
}

/// Eight high bits (one per byte) gathered into one byte: bit i for byte i.
fn byte_mask(m: u64) -> u32 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// Skips the object or array that `b` starts with, eight bytes at a time: quotes, brackets
/// and the in-string state as bit masks (as simdjson does with wider registers). Returns the
/// length up to and including the matching close; None on a backslash (the byte-wise path
/// handles escapes) or when the input ends first.
fn skip_container(b: &[u8]) -> Option<usize> {
    let mut depth = 0u32;
    let mut in_str = 0u32;
    let mut words = b.chunks_exact(8);
    for (k, w) in words.by_ref().enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a);
        if zeros_exact(x ^ splat(b'\\')) != 0 {
            return None;
        }
        let quotes = byte_mask(zeros_exact(x ^ splat(b'"')));
        let y = x | splat(0x20);
        // Inside a string: an odd number of quotes up to here (prefix XOR), or carried in.
        let mut inside = quotes;
        inside ^= inside << 1;
        inside ^= inside << 2;
        inside ^= inside << 4;
        inside = (inside ^ in_str) & 0xff;
        in_str = if inside & 0x80 != 0 { 0xff } else { 0 };
        let open = byte_mask(zeros_exact(y ^ splat(b'{'))) & !inside;
        let close = byte_mask(zeros_exact(y ^ splat(b'}'))) & !inside;
        if close == 0 {
            depth += open.count_ones();
            continue;
        }
        for bit in 0..8 {
            if open & (1 << bit) != 0 {
                depth += 1;
            } else if close & (1 << bit) != 0 {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(k * 8 + bit + 1);
                }
            }
        }
    }
    let at = b.len() - words.remainder().len();
    let mut in_str = in_str != 0;
    for (i, &c) in words.remainder().iter().enumerate() {
        match c {
            b'\\' => return None,
            b'"' => in_str = !in_str,
            b'{' | b'[' if !in_str => depth += 1,
            b'}' | b']' if !in_str => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The first `"` or `\\`.
fn quote_or_escape(b: &[u8]) -> Option<usize> {
    find(
        b,
        |x| zeros(x ^ splat(b'"')) | zeros(x ^ splat(b'\\')),
        |c| c == b'"' || c == b'\\',
    )
}

/// The first `"`, `\\` or control character (which ends a plain string).
fn string_end(b: &[u8]) -> Option<usize> {
    find(
        b,
        |x| zeros(x ^ splat(b'"')) | zeros(x ^ splat(b'\\')) | below(x, 0x20),
        |c| c == b'"' || c == b'\\' || c < 0x20,
    )
}

/// The first `"` or bracket: `[` and `{` differ only in bit 0x20, as do `]` and `}`.
fn structural(b: &[u8]) -> Option<usize> {
    find(
        b,
        |x| {
            let y = x | splat(0x20);
            zeros(x ^ splat(b'"')) | zeros(y ^ splat(b'{')) | zeros(y ^ splat(b'}'))
        },
        |c| matches!(c, b'"' | b'{' | b'}' | b'[' | b']'),
    )
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
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

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The bytes of a string without escapes or control characters; None otherwise.
    fn plain_bytes(&mut self) -> Option<&'a [u8]> {
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
    fn plain_id(&mut self) -> Option<&'a [u8]> {
        let b = self.plain_bytes()?;
        (b.is_ascii() || std::str::from_utf8(b).is_ok()).then_some(b)
    }

    /// Skips a string (escapes allowed, checked).
    fn skip_str(&mut self) -> Option<()> {
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
    fn number(&mut self) -> Option<&'a [u8]> {
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

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        (self.b.get(self.i..self.i + word.len())? == word).then(|| self.i += word.len())
    }

    fn is_null(&mut self) -> bool {
        self.ws();
        self.literal(b"null").is_some()
    }

    /// Skips any value, checking brackets and strings.
    fn skip_value(&mut self) -> Option<()> {
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
    fn skip_known(&mut self, known: &[u8]) -> bool {
        let hit = !known.is_empty() && self.b[self.i..].starts_with(known);
        if hit {
            self.i += known.len();
        }
        hit
    }

    /// Skips a value, remembering it in `memo` when it is a string or a container.
    fn skip_remembered(&mut self, memo: &mut Vec<u8>) -> Option<()> {
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
    fn skip_member(&mut self, memo: &mut Memo) -> Option<()> {
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
    fn skip_object_members(&mut self, memos: &mut Vec<Vec<u8>>) -> Option<()> {
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

    fn opt_str(&mut self) -> Option<Option<&'a [u8]>> {
        if self.is_null() {
            Some(None)
        } else {
            self.plain_bytes().map(Some)
        }
    }

    fn opt_id(&mut self) -> Option<Option<&'a [u8]>> {
        if self.is_null() {
            Some(None)
        } else {
            self.plain_id().map(Some)
        }
    }

    fn opt_f64(&mut self) -> Option<Option<f64>> {
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
    fn plain_decimal(&mut self) -> Option<f64> {
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
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
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
fn to_f64(b: &[u8]) -> Option<f64> {
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
fn to_u16(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = b.iter().fold(0u32, |v, &c| v * 10 + u32::from(c - b'0'));
    u16::try_from(v).ok()
}

/// Sets a field once; a second occurrence makes the fast path give up (serde refuses
/// duplicate fields, and the fallback must decide).
fn once<T>(slot: &mut Option<T>, seen: &mut u32, bit: u32, v: Option<T>) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    *slot = v;
    Some(())
}

/// The fields the fast path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Kind,
    Ts,
    RequestId,
    Experiment,
    ConfigVersion,
    Unit,
    AssignedBy,
    Arm,
    ServedArm,
    Event,
    Status,
    LatencyMs,
    Value,
    Weights,
    Message,
    Other,
}

fn field(key: &[u8]) -> Field {
    match key {
        b"kind" => Field::Kind,
        b"ts" => Field::Ts,
        b"request_id" => Field::RequestId,
        b"experiment" => Field::Experiment,
        b"config_version" => Field::ConfigVersion,
        b"unit" => Field::Unit,
        b"assigned_by" => Field::AssignedBy,
        b"arm" => Field::Arm,
        b"served_arm" => Field::ServedArm,
        b"event" => Field::Event,
        b"status" => Field::Status,
        b"latency_ms" => Field::LatencyMs,
        b"value" => Field::Value,
        b"weights" => Field::Weights,
        b"message" => Field::Message,
        _ => Field::Other,
    }
}

/// What the previous lines taught the scanner, by position in the line: the keys, as the
/// exact bytes `"key":` with their field, and the strings and containers skipped. Lines of one
/// writer repeat both, so a key is usually recognised with one comparison, and a skipped block
/// (the EMF metadata is half of each line) with one `memcmp` instead of a walk through it.
#[derive(Debug, Default)]
pub struct Keys {
    tokens: Vec<Token>,
    memos: Vec<Memo>,
}

/// Most positions (keys of a line, members of a skipped object) remembered.
const MAX_REMEMBERED: usize = 64;
/// Longest string or container remembered, in bytes.
const MAX_MEMO: usize = 4096;

/// The strings and containers last skipped at one key position: the whole value, and the
/// strings and containers inside it when it is an object (the EMF block differs from line to
/// line only in its `Timestamp`, so the whole rarely repeats, but its members do).
#[derive(Debug, Default)]
struct Memo {
    whole: Vec<u8>,
    members: Vec<Vec<u8>>,
}

/// The memory for position `i`, made on first use; None past [`MAX_REMEMBERED`].
fn memo_at<T: Default>(memos: &mut Vec<T>, i: usize) -> Option<&mut T> {
    if memos.len() <= i && i < MAX_REMEMBERED {
        memos.resize_with(i + 1, T::default);
    }
    memos.get_mut(i)
}

/// Keeps `value` (a string or container that was just skipped, so checked) for the next line.
fn remember(memo: &mut Vec<u8>, value: &[u8]) {
    if value.len() <= MAX_MEMO {
        memo.clear();
        memo.extend_from_slice(value);
    }
}

/// One remembered key; tokens of up to 16 bytes are also kept as a number and a mask, to
/// compare with one 16-byte load instead of a call to `memcmp`.
#[derive(Debug)]
struct Token {
    bytes: Vec<u8>,
    field: Field,
    word: u128,
    mask: u128,
}

impl Token {
    fn new(bytes: Vec<u8>, field: Field) -> Token {
        let n = bytes.len().min(16);
        let mut padded = [0u8; 16];
        padded[..n].copy_from_slice(&bytes[..n]);
        let mask = if n == 16 {
            u128::MAX
        } else {
            (1u128 << (8 * n)) - 1
        };
        Token {
            word: u128::from_le_bytes(padded),
            mask,
            bytes,
            field,
        }
    }

    /// Whether `rest` starts with this key.
    fn matches(&self, rest: &[u8]) -> bool {
        if self.bytes.len() <= 16
            && let Some(head) = rest.get(..16)
        {
            let mut a = [0u8; 16];
            a.copy_from_slice(head);
            return (u128::from_le_bytes(a) ^ self.word) & self.mask == 0;
        }
        rest.starts_with(&self.bytes)
    }
}

/// Scans one JSON object and hands its fields to `f`; None means "parse it the slow way".
pub fn scan<R>(json: &[u8], keys: &mut Keys, f: impl FnOnce(&View<'_, '_>) -> R) -> Option<R> {
    let mut c = Cursor { b: json, i: 0 };
    let mut v = View::default();
    let mut weights: [(&[u8], f64); MAX_ARMS] = [(b"", 0.0); MAX_ARMS];
    let mut n_weights: Option<usize> = None;
    let mut seen = 0u32;
    c.eat(b'{')?;
    c.ws();
    // Whatever follows the object is not looked at (the serde path tolerates it too).
    if c.peek()? != b'}' {
        let mut k = 0;
        loop {
            c.ws();
            let rest = &c.b[c.i..];
            let known = keys.tokens.get(k).filter(|t| t.matches(rest));
            let fld = match known {
                Some(t) => {
                    c.i += t.bytes.len();
                    t.field
                }
                None => {
                    let start = c.i;
                    let key = c.plain_bytes()?;
                    let compact = c.peek() == Some(b':');
                    c.eat(b':')?;
                    let fld = field(key);
                    if compact {
                        let token = Token::new(c.b[start..c.i].to_vec(), fld);
                        match keys.tokens.get_mut(k) {
                            Some(slot) => *slot = token,
                            None if k < MAX_REMEMBERED => keys.tokens.push(token),
                            None => {}
                        }
                    }
                    fld
                }
            };
            k += 1;
            match fld {
                Field::Kind => once(&mut v.kind, &mut seen, 1, c.opt_str()?)?,
                Field::Ts => once(&mut v.ts, &mut seen, 1 << 1, c.opt_id()?)?,
                Field::RequestId => once(&mut v.request_id, &mut seen, 1 << 2, c.opt_id()?)?,
                Field::Experiment => once(&mut v.experiment, &mut seen, 1 << 3, c.opt_str()?)?,
                Field::ConfigVersion => {
                    once(&mut v.config_version, &mut seen, 1 << 4, c.opt_str()?)?
                }
                Field::Unit => once(&mut v.unit, &mut seen, 1 << 5, c.opt_id()?)?,
                Field::AssignedBy => once(&mut v.assigned_by, &mut seen, 1 << 6, c.opt_str()?)?,
                Field::Arm => once(&mut v.arm, &mut seen, 1 << 7, c.opt_str()?)?,
                Field::ServedArm => once(&mut v.served_arm, &mut seen, 1 << 8, c.opt_str()?)?,
                Field::Event => once(&mut v.event, &mut seen, 1 << 9, c.opt_str()?)?,
                Field::Status => {
                    let s = if c.is_null() {
                        None
                    } else {
                        Some(to_u16(c.number()?)?)
                    };
                    once(&mut v.status, &mut seen, 1 << 10, s)?
                }
                Field::LatencyMs => once(&mut v.latency_ms, &mut seen, 1 << 11, c.opt_f64()?)?,
                Field::Value => once(&mut v.value, &mut seen, 1 << 12, c.opt_f64()?)?,
                Field::Weights => {
                    let n = if c.is_null() {
                        None
                    } else {
                        Some(scan_weights(&mut c, &mut weights)?)
                    };
                    once(&mut n_weights, &mut seen, 1 << 13, n)?
                }
                // Lambda's wrapper: the serde path unwraps it.
                Field::Message => return None,
                Field::Other => match memo_at(&mut keys.memos, k - 1) {
                    Some(memo) => c.skip_member(memo)?,
                    None => c.skip_value()?,
                },
            }
            c.ws();
            match c.peek()? {
                b',' => c.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
    }
    if let Some(n) = n_weights {
        v.weights = Some(&weights[..n]);
    }
    Some(f(&v))
}

/// `[["control", 9000], ["canary", 1000]]` into `out`; the number of arms.
fn scan_weights<'a>(c: &mut Cursor<'a>, out: &mut [(&'a [u8], f64); MAX_ARMS]) -> Option<usize> {
    c.eat(b'[')?;
    c.ws();
    if c.peek()? == b']' {
        c.i += 1;
        return Some(0);
    }
    let mut n = 0;
    loop {
        if n == MAX_ARMS {
            return None;
        }
        c.eat(b'[')?;
        c.ws();
        let name = c.plain_bytes()?;
        c.eat(b',')?;
        c.ws();
        let w = to_f64(c.number()?)?;
        c.eat(b']')?;
        out[n] = (name, w);
        n += 1;
        c.ws();
        match c.peek()? {
            b',' => c.i += 1,
            b']' => {
                c.i += 1;
                return Some(n);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse::{Line, Names, SLOW_ONLY, parse_line};

    const DECISION: &str = r#"{"kind":"decision","ts":"2026-11-26T10:00:00.250Z","request_id":"0123abcd-4567-4890-abcd-ef0123456789","experiment":"exp","config_version":"v1","unit":"15070d2d3099ea0a2b32d298a830fd94563964a04e01b4da330cb50c0cb3a4e2","id_source":"header","assigned_by":"bucket","bucket":42,"arm":"canary","weights":[["control",9000],["canary",1000]],"served_arm":"control","endpoint":"e","invoked_variant":"AllTraffic","status":200,"error":null,"latency_ms":12.5,"model_latency_ms":10.0,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["experiment","arm"]],"Metrics":[{"Name":"latency_ms","Unit":"Milliseconds"}]}]},"invocations":1,"errors":0,"fallbacks":1}"#;
    const OUTCOME: &str = r#"{"kind":"outcome","ts":"2026-11-26T10:00:01Z","request_id":"r2","experiment":"exp","config_version":"v1","unit":"u1","assigned_by":"forced","arm":"control","weights":[["control",9000],["canary",1000]],"served_arm":null,"status":202,"error":null,"latency_ms":0.1,"event":"correct","value":0.0,"prediction_id":"r1"}"#;

    /// Classifies with the fast path (and its fallback), then with serde_json alone.
    fn both(
        line: &str,
    ) -> (
        Line,
        Line,
        Vec<crate::report::parse::Def>,
        Vec<crate::report::parse::Def>,
    ) {
        let mut a = Names::default();
        let fast = parse_line(line.as_bytes(), &mut a);
        let mut b = Names::default();
        SLOW_ONLY.with(|s| s.set(true));
        let slow = parse_line(line.as_bytes(), &mut b);
        SLOW_ONLY.with(|s| s.set(false));
        (fast, slow, a.defs, b.defs)
    }

    fn agree(line: &str) {
        let (fast, slow, da, db) = both(line);
        assert_eq!(fast, slow, "{line}");
        assert_eq!(da, db, "{line}");
    }

    #[test]
    fn swar_search_finds_the_first_hit() {
        let specials = [
            b'"', b'\\', b'{', b'}', b'[', b']', 0x1f, 0x00, 0x7f, 0xff, b'a', b' ',
        ];
        // Every special byte at every position of strings of every length up to 40, with
        // other specials after it (where SWAR may flag wrongly).
        for len in 0..40 {
            for pos in 0..=len {
                for &c in &specials {
                    for &after in &specials {
                        let mut b = vec![b'x'; len];
                        if pos < len {
                            b[pos] = c;
                            for x in b.iter_mut().skip(pos + 1) {
                                *x = after;
                            }
                        }
                        let scalar = |hit: &dyn Fn(u8) -> bool| b.iter().position(|&c| hit(c));
                        assert_eq!(quote_or_escape(&b), scalar(&|c| c == b'"' || c == b'\\'));
                        assert_eq!(
                            string_end(&b),
                            scalar(&|c| c == b'"' || c == b'\\' || c < 0x20)
                        );
                        assert_eq!(
                            structural(&b),
                            scalar(&|c| matches!(c, b'"' | b'{' | b'}' | b'[' | b']'))
                        );
                    }
                }
            }
        }
    }

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
        let aws = &DECISION[DECISION.find("{\"Timestamp").unwrap()..];
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

    #[test]
    fn invalid_utf8_in_a_kept_field_goes_to_serde() {
        let mut names = Names::default();
        let mut line = DECISION.as_bytes().to_vec();
        let at = DECISION.find("\"canary\"").unwrap() + 2;
        line[at] = 0xff;
        SLOW_ONLY.with(|s| s.set(true));
        let slow = parse_line(&line, &mut Names::default());
        SLOW_ONLY.with(|s| s.set(false));
        assert_eq!(slow, Line::Corrupt);
        assert_eq!(parse_line(&line, &mut names), Line::Corrupt);
        assert!(
            names.defs.is_empty()
                || !names
                    .defs
                    .iter()
                    .any(|d| matches!(d, crate::report::parse::Def::Arm { .. }))
        );
    }

    #[test]
    fn the_fast_path_takes_the_routers_lines() {
        for line in [DECISION, OUTCOME] {
            let mut seen = false;
            let r = scan(line.as_bytes(), &mut Keys::default(), |v| {
                seen = v.kind.is_some() && v.weights.is_some_and(|w| w.len() == 2);
            });
            assert!(r.is_some() && seen, "{line}");
            agree(line);
        }
    }

    #[test]
    fn fast_and_serde_agree_on_variants() {
        let spaced = DECISION
            .replace(",\"", " ,\n\t\"")
            .replace("\":", "\" : ")
            .replace("[[", "[ [ ")
            .replace("]]", " ] ]");
        let variants = vec![
            spaced,
            DECISION.replace("\"arm\":\"canary\"", "\"arm\":\"can\\u0061ry\""),
            DECISION.replace("\"Namespace\":\"N\"", "\"Namespace\":\"a}]\\\"{[b\""),
            DECISION.replace("12.5", "1.25e1"),
            DECISION.replace("12.5", "-0.0"),
            DECISION.replace("\"status\":200", "\"status\":200.0"),
            DECISION.replace("\"status\":200", "\"status\":\"200\""),
            DECISION.replace("\"status\":200", "\"status\":70000"),
            DECISION.replace("\"unit\":\"1507", "\"unit\":null,\"x\":\"1507"),
            DECISION.replace(
                "\"kind\":\"decision\",",
                "\"kind\":\"decision\",\"kind\":\"outcome\",",
            ),
            DECISION.replace(
                "\"weights\":[[\"control\",9000],[\"canary\",1000]]",
                "\"weights\":[]",
            ),
            DECISION.replace(
                "\"weights\":[[\"control\",9000],[\"canary\",1000]]",
                "\"weights\":null",
            ),
            DECISION.replace("[\"canary\",1000]", "[\"canary\",1000,1]"),
            DECISION.replace("\"invocations\":1", "\"invocations\":[true,false,null,{}]"),
            DECISION.replace("{\"kind\"", "{\"k\\u0069nd\":\"x\",\"kind\""),
            format!("{DECISION} trailing"),
            format!("{{\"message\":{DECISION}}}"),
            OUTCOME.replace("\"value\":0.0", "\"value\":null"),
            OUTCOME.replace(
                "\"event\":\"correct\"",
                "\"event\":\"\\u00e9v\\u00e9nement\"",
            ),
            OUTCOME.replace("\"event\":\"correct\"", "\"event\":\"événement\""),
            "{}".to_owned(),
            "{\"kind\":\"decision\"}".to_owned(),
        ];
        for v in &variants {
            agree(v);
        }
    }

    #[test]
    fn tokens_match_exactly_their_prefix() {
        for key in [
            "ts",
            "kind",
            "request_id",
            "config_version",
            "a_very_long_key_name_indeed",
        ] {
            let t = Token::new(format!("\"{key}\":").into_bytes(), Field::Other);
            let hit = format!("\"{key}\":\"value that is long enough\"");
            assert!(t.matches(hit.as_bytes()), "{key}");
            assert!(
                t.matches(&hit.as_bytes()[..t.bytes.len()]),
                "{key}: exactly the token"
            );
            let miss = format!("\"{key}x\":\"value that is long enough\"");
            assert!(!t.matches(miss.as_bytes()), "{key}");
            assert!(
                !t.matches(&hit.as_bytes()[..t.bytes.len() - 1]),
                "{key}: too short"
            );
        }
    }

    #[test]
    fn remembered_keys_do_not_change_answers() {
        // One table of names (and remembered keys) across many different lines, fast path
        // against serde_json alone.
        let mut lines: Vec<String> = vec![DECISION.into(), OUTCOME.into(), DECISION.into()];
        for cut in (10..DECISION.len()).step_by(37) {
            lines.push(DECISION[..cut].to_owned());
            lines.push(DECISION.into());
        }
        lines.push(DECISION.replace("\"kind\":", "\"kinds\":"));
        lines.push(DECISION.replace("\"kind\":\"decision\"", "\"ki\":1,\"kind\":\"decision\""));
        lines.push(DECISION.replace("\"ts\":", "\"ts\" :"));
        lines.push(DECISION.replace("\"unit\":", "\"unit_\":"));
        lines.push(OUTCOME.replace("\"event\":", "\"message\":1,\"event\":"));
        lines.push(DECISION.into());
        let mut fast_names = Names::default();
        let mut slow_names = Names::default();
        for line in &lines {
            let fast = parse_line(line.as_bytes(), &mut fast_names);
            SLOW_ONLY.with(|s| s.set(true));
            let slow = parse_line(line.as_bytes(), &mut slow_names);
            SLOW_ONLY.with(|s| s.set(false));
            assert_eq!(fast, slow, "{line}");
        }
    }

    #[test]
    fn remembered_values_do_not_change_answers() {
        // The memory of skipped values is filled by a whole line; then every one-byte change
        // of the same line must get the answer serde_json gives (or, as in the test below,
        // the original record where serde refuses a value the fast path checks for structure
        // only). A remembered value is reused only when the bytes are the same.
        let mut fast_names = Names::default();
        let mut slow_names = Names::default();
        let fast_line = |line: &str, names: &mut Names| parse_line(line.as_bytes(), names);
        let slow_line = |line: &str, names: &mut Names| {
            SLOW_ONLY.with(|s| s.set(true));
            let l = parse_line(line.as_bytes(), names);
            SLOW_ONLY.with(|s| s.set(false));
            l
        };
        let original = fast_line(DECISION, &mut fast_names);
        assert_eq!(slow_line(DECISION, &mut slow_names), original);
        assert!(matches!(original, Line::Record(_)));
        for i in 0..DECISION.len() {
            for c in [b'{', b'}', b'"', b',', b']', b'x', b'1', b'\\'] {
                let mut bytes = DECISION.as_bytes().to_vec();
                bytes[i] = c;
                let Ok(line) = String::from_utf8(bytes) else {
                    continue;
                };
                assert_eq!(fast_line(DECISION, &mut fast_names), original);
                let fast = fast_line(&line, &mut fast_names);
                let slow = slow_line(&line, &mut slow_names);
                assert!(
                    fast == slow || (fast == original && slow == Line::Corrupt),
                    "byte {i} -> {}: fast {fast:?}, serde {slow:?}",
                    c as char
                );
            }
        }
        // A block that differs from the remembered one only after a common start.
        let other = DECISION.replace("\"Unit\":\"Milliseconds\"", "\"Unit\":\"Seconds\"");
        assert_eq!(fast_line(&other, &mut fast_names), original);
        let broken = DECISION.replace("\"Unit\":\"Milliseconds\"}", "\"Unit\":\"Milliseconds\"");
        assert_eq!(fast_line(&broken, &mut fast_names), Line::Corrupt);
        assert_eq!(fast_line(DECISION, &mut fast_names), original);
    }

    #[test]
    fn truncated_lines_never_become_records() {
        for line in [DECISION, OUTCOME] {
            for cut in 1..line.len() - 1 {
                let Some(prefix) = line.get(..cut) else {
                    continue;
                };
                let (fast, slow, ..) = both(prefix);
                assert_eq!(fast, slow, "{prefix}");
                assert!(!matches!(fast, Line::Record(_)), "{prefix}");
            }
        }
    }

    #[test]
    fn every_single_byte_change_agrees_or_is_at_least_structural() {
        // Replacing one byte either gives the same answer on both paths, or serde refuses a
        // value the fast path skipped (checked for structure only) and the fast path read
        // the very same record.
        let (original, ..) = both(DECISION);
        for i in 0..DECISION.len() {
            for c in [b'{', b'"', b',', b']', b'x', b'\\'] {
                let mut bytes = DECISION.as_bytes().to_vec();
                bytes[i] = c;
                let Ok(line) = String::from_utf8(bytes) else {
                    continue;
                };
                let (fast, slow, ..) = both(&line);
                if fast != slow {
                    assert!(
                        fast == original && matches!(slow, Line::Corrupt),
                        "byte {i} -> {}: fast {fast:?}, serde {slow:?}",
                        c as char
                    );
                }
            }
        }
    }
}
