//! SWAR ("SIMD within a register") searches over JSON text, eight bytes per step: the first
//! quote, escape, control character or bracket, and the extent of a container.

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
#[inline]
pub(super) fn skip_container(b: &[u8]) -> Option<usize> {
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
#[inline]
pub(super) fn quote_or_escape(b: &[u8]) -> Option<usize> {
    find(
        b,
        |x| zeros(x ^ splat(b'"')) | zeros(x ^ splat(b'\\')),
        |c| c == b'"' || c == b'\\',
    )
}

/// The first `"`, `\\` or control character (which ends a plain string).
#[inline]
pub(super) fn string_end(b: &[u8]) -> Option<usize> {
    find(
        b,
        |x| zeros(x ^ splat(b'"')) | zeros(x ^ splat(b'\\')) | below(x, 0x20),
        |c| c == b'"' || c == b'\\' || c < 0x20,
    )
}

/// The first `"` or bracket: `[` and `{` differ only in bit 0x20, as do `]` and `}`.
#[inline]
pub(super) fn structural(b: &[u8]) -> Option<usize> {
    find(
        b,
        |x| {
            let y = x | splat(0x20);
            zeros(x ^ splat(b'"')) | zeros(y ^ splat(b'{')) | zeros(y ^ splat(b'}'))
        },
        |c| matches!(c, b'"' | b'{' | b'}' | b'[' | b']'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
