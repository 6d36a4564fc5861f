//! 128-bit identities for request IDs and units (what de-duplication and per-unit state key on).
//!
//! The router's own formats map losslessly: a canonical lower-case UUID (`request_id`) is its
//! 128 bits, and a 64-digit lower-case hex SHA-256 (`unit`) is its first 128 bits (a truncated
//! cryptographic hash). Any other string is hashed to 128 bits (two keyed SipHash-1-3 passes).
//! Two distinct IDs then share a value with probability about n²/2¹²⁹: for a billion records,
//! about 1.5·10⁻²¹, far below the odds of a disk error, so de-duplication is exact in practice.

use std::hash::{DefaultHasher, Hasher};

/// The 128-bit identity of an ID string's bytes.
#[inline]
pub(crate) fn id128(b: &[u8]) -> u128 {
    if b.len() == 36 {
        if let Some(v) = uuid_bits(b) {
            return v;
        }
    } else if b.len() == 64
        && let Some(v) = hex_prefix(b)
    {
        return v;
    }
    let mut h1 = DefaultHasher::new();
    h1.write_u8(0x5a);
    h1.write(b);
    let mut h2 = DefaultHasher::new();
    h2.write_u8(0xa5);
    h2.write(b);
    h2.write_usize(b.len());
    (u128::from(h1.finish()) << 64) | u128::from(h2.finish())
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight lower-case hex digits (as one little-endian word: the first digit in the low byte)
/// to their 32-bit value, all bytes at once; None when a byte is not `0-9` or `a-f`.
fn hex8(x: u64) -> Option<u32> {
    if x & HIGH != 0 {
        return None;
    }
    // Bytes are below 0x80 now, so adding up to 0x7f never carries into the next byte, and
    // subtracting from a byte with its high bit set never borrows from it.
    let at_least = |lo: u8| (x | HIGH).wrapping_sub(ONES * u64::from(lo)) & HIGH;
    let at_most = |hi: u8| !(x + ONES * u64::from(0x7f - hi)) & HIGH;
    let digit = at_least(b'0') & at_most(b'9');
    let letter = at_least(b'a') & at_most(b'f');
    if digit | letter != HIGH {
        return None;
    }
    // '0'..'9' are 0x30..0x39 and 'a'..'f' 0x61..0x66: the low nibble, plus 9 for letters.
    let nibbles = (x & (ONES * 0x0f)) + ((x >> 6) & ONES) * 9;
    // Pairs of nibbles into bytes, bytes into 16-bit halves, halves into the value, each step
    // putting the earlier (more significant) digits on top.
    let v = ((nibbles & 0x000f_000f_000f_000f) << 4) | ((nibbles & 0x0f00_0f00_0f00_0f00) >> 8);
    let v = ((v & 0x0000_00ff_0000_00ff) << 8) | ((v & 0x00ff_0000_00ff_0000) >> 16);
    Some((((v & 0xffff) << 16) | ((v >> 32) & 0xffff)) as u32)
}

/// Sixteen hex digits to bits; None on a non-digit.
fn hex64(digits: &[u8; 16]) -> Option<u64> {
    let word = |b: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_le_bytes(a)
    };
    let hi = hex8(word(&digits[..8]))?;
    let lo = hex8(word(&digits[8..]))?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower-case hex, as 128 bits.
fn uuid_bits(b: &[u8]) -> Option<u128> {
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut hi = [0u8; 16];
    hi[..8].copy_from_slice(&b[..8]);
    hi[8..12].copy_from_slice(&b[9..13]);
    hi[12..].copy_from_slice(&b[14..18]);
    let mut lo = [0u8; 16];
    lo[..4].copy_from_slice(&b[19..23]);
    lo[4..].copy_from_slice(&b[24..36]);
    Some((u128::from(hex64(&hi)?) << 64) | u128::from(hex64(&lo)?))
}

/// The first 32 digits of a 64-digit lower-case hex string, as 128 bits.
fn hex_prefix(b: &[u8]) -> Option<u128> {
    let part = |i: usize| -> Option<u64> { hex64(b.get(i..i + 16)?.try_into().ok()?) };
    let v = (u128::from(part(0)?) << 64) | u128::from(part(16)?);
    // The rest must be hex too, or the string is not a digest and gets hashed whole.
    part(32)?;
    part(48)?;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: each byte's digit value, or None.
    fn hex64_by_bytes(digits: &[u8; 16]) -> Option<u64> {
        digits.iter().try_fold(0u64, |v, &c| {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                _ => return None,
            };
            Some((v << 4) | u64::from(d))
        })
    }

    #[test]
    fn hex_words_decode_like_byte_by_byte() {
        let base = *b"0123456789abcdef";
        assert_eq!(hex64(&base), Some(0x0123_4567_89ab_cdef));
        // Every byte value at every position, around a valid word.
        for pos in 0..16 {
            for c in 0..=255u8 {
                let mut d = base;
                d[pos] = c;
                assert_eq!(hex64(&d), hex64_by_bytes(&d), "{d:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn hex_words_decode_any_input(d in proptest::array::uniform16(proptest::sample::select(
            b"0123456789abcdefABCDEFgG/:`@ \x7f\x80\xff".to_vec()))) {
            proptest::prop_assert_eq!(hex64(&d), hex64_by_bytes(&d));
        }
    }

    #[test]
    fn uuids_map_losslessly() {
        let a = id128(b"0123abcd-4567-4890-abcd-ef0123456789");
        assert_eq!(a, 0x0123abcd_4567_4890_abcd_ef0123456789);
        // Upper case is a different string: it is hashed, not folded onto the lower-case one.
        assert_ne!(id128(b"0123ABCD-4567-4890-ABCD-EF0123456789"), a);
    }

    #[test]
    fn digests_use_their_first_128_bits() {
        let hex = "ff".repeat(16) + &"00".repeat(16);
        assert_eq!(id128(hex.as_bytes()), u128::MAX);
        let not_hex = "g".repeat(64);
        assert_ne!(id128(not_hex.as_bytes()), 0);
    }

    #[test]
    fn other_strings_hash_apart() {
        use std::collections::HashSet;
        let ids = ["", "a", "b", "ab", "req-1", "req-2", "req-10"];
        let set: HashSet<u128> = ids.iter().map(|s| id128(s.as_bytes())).collect();
        assert_eq!(set.len(), ids.len());
        assert_eq!(id128(b"req-1"), id128(b"req-1"));
    }
}
