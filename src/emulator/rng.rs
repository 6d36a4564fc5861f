//! A tiny, lock-free, seedable PRNG (SplitMix64) for variant picks and fault injection. Each
//! stream is a counter that every draw advances atomically, so a stream shared by concurrent
//! requests never locks and, for a given order of requests, gives the same draws on every run.

use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective mix of a 64-bit state.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a stable (across runs and platforms) way to derive a stream from a name.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One random stream.
#[derive(Debug)]
pub struct SplitMix {
    state: AtomicU64,
}

impl SplitMix {
    /// A stream for `seed` and a name (endpoint, variant...), independent of other names.
    pub fn new(seed: u64, name: &str) -> Self {
        SplitMix {
            state: AtomicU64::new(mix64(seed ^ mix64(fnv1a(name.as_bytes())))),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let s = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        mix64(s)
    }

    /// A uniform draw in `[0, 1)` with 53 bits of precision.
    pub fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_same_stream() {
        let a = SplitMix::new(7, "iris-a/AllTraffic");
        let b = SplitMix::new(7, "iris-a/AllTraffic");
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn different_seed_or_name_different_stream() {
        let a = SplitMix::new(7, "x").next_u64();
        assert_ne!(a, SplitMix::new(8, "x").next_u64());
        assert_ne!(a, SplitMix::new(7, "y").next_u64());
    }

    #[test]
    fn reference_value_of_splitmix64() {
        // SplitMix64 seeded with 0 (state 0, first output), the published reference value.
        assert_eq!(mix64(GOLDEN_GAMMA), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn f64_draws_are_in_range_and_spread() {
        let r = SplitMix::new(1, "spread");
        let draws: Vec<f64> = (0..10_000).map(|_| r.next_f64()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
