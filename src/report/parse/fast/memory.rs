//! What the scanner remembers from one line to the next: the keys in order, and the strings
//! and containers it skipped, by position.

use super::field::Field;

/// What the previous lines taught the scanner, by position in the line: the keys, as the
/// exact bytes `"key":` with their field, and the strings and containers skipped. Lines of one
/// writer repeat both, so a key is usually recognised with one comparison, and a skipped block
/// (the EMF metadata is half of each line) with one `memcmp` instead of a walk through it.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub(super) tokens: Vec<Token>,
    pub(super) memos: Vec<Memo>,
}

/// Most positions (keys of a line, members of a skipped object) remembered.
pub(super) const MAX_REMEMBERED: usize = 64;
/// Longest string or container remembered, in bytes.
const MAX_MEMO: usize = 4096;

/// The strings and containers last skipped at one key position: the whole value, and the
/// strings and containers inside it when it is an object (the EMF block differs from line to
/// line only in its `Timestamp`, so the whole rarely repeats, but its members do).
#[derive(Debug, Default)]
pub(super) struct Memo {
    pub(super) whole: Vec<u8>,
    pub(super) members: Vec<Vec<u8>>,
}

/// The memory for position `i`, made on first use; None past [`MAX_REMEMBERED`].
#[inline]
pub(super) fn memo_at<T: Default>(memos: &mut Vec<T>, i: usize) -> Option<&mut T> {
    if memos.len() <= i && i < MAX_REMEMBERED {
        memos.resize_with(i + 1, T::default);
    }
    memos.get_mut(i)
}

/// Keeps `value` (a string or container that was just skipped, so checked) for the next line.
#[inline]
pub(super) fn remember(memo: &mut Vec<u8>, value: &[u8]) {
    if value.len() <= MAX_MEMO {
        memo.clear();
        memo.extend_from_slice(value);
    }
}

/// One remembered key; tokens of up to 16 bytes are also kept as a number and a mask, to
/// compare with one 16-byte load instead of a call to `memcmp`.
#[derive(Debug)]
pub(super) struct Token {
    pub(super) bytes: Vec<u8>,
    pub(super) field: Field,
    word: u128,
    mask: u128,
}

impl Token {
    pub(super) fn new(bytes: Vec<u8>, field: Field) -> Token {
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
    #[inline]
    pub(super) fn matches(&self, rest: &[u8]) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
