//! Sticky assignment: hash a unit ID into one of 10,000 buckets and map buckets to arms.
//!
//! `bucket = u64_big_endian(SHA-256(utf8(salt + ":" + unit_id))[0..8]) % 10000`; arms own
//! contiguous bucket ranges in config order, so growing the last arm never moves anyone out of it.

use sha2::{Digest, Sha256};

/// Number of buckets a unit can fall into; weights are expressed in these (basis points).
pub const BUCKETS: u32 = 10_000;

/// The SHA-256 of `salt:unit_id`: its hex form is the record's pseudonymous `unit`, its first
/// eight bytes give the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitHash([u8; 32]);

impl UnitHash {
    /// Hashes `salt + ":" + unit_id` without allocating.
    pub fn new(salt: &str, unit_id: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        hasher.update(b":");
        hasher.update(unit_id.as_bytes());
        UnitHash(hasher.finalize().into())
    }

    /// The bucket in `0..BUCKETS`.
    pub fn bucket(&self) -> u32 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        (u64::from_be_bytes(first) % u64::from(BUCKETS)) as u32
    }

    /// Lower-case hex of the whole digest.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// The bucket of `unit_id` under `salt`.
pub fn bucket(salt: &str, unit_id: &str) -> u32 {
    UnitHash::new(salt, unit_id).bucket()
}

/// The shadow cohort bucket of `unit_id` for the shadow `name`:
/// `u64_big_endian(SHA-256(utf8(salt + ":shadow:" + name + ":" + unit_id))[0..8]) % 10000`.
/// Sticky, and independent of the arm bucket (a different hash input).
pub fn shadow_bucket(salt: &str, name: &str, unit_id: &str) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b":shadow:");
    hasher.update(name.as_bytes());
    hasher.update(b":");
    hasher.update(unit_id.as_bytes());
    UnitHash(hasher.finalize().into()).bucket()
}

/// Lower-case hex encoding.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Arms as contiguous bucket ranges: plain data, built from weights in config order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Exclusive upper bucket bound of each arm, ascending; the last is `BUCKETS`.
    upper: Vec<u32>,
}

impl Split {
    /// Builds the split from weights in basis points. Callers validate that they sum to
    /// `BUCKETS`; a shorter sum leaves the top buckets to the last arm rather than panicking.
    pub fn from_weights(weights: &[u32]) -> Self {
        let mut upper = Vec::with_capacity(weights.len());
        let mut acc = 0u32;
        for w in weights {
            acc = acc.saturating_add(*w);
            upper.push(acc.min(BUCKETS));
        }
        if let Some(last) = upper.last_mut() {
            *last = BUCKETS;
        }
        Split { upper }
    }

    /// The index of the arm that owns `bucket`.
    pub fn arm_for(&self, bucket: u32) -> usize {
        // Few arms: a linear scan beats a binary search and skips zero-weight arms naturally.
        self.upper
            .iter()
            .position(|&u| bucket < u)
            .unwrap_or(self.upper.len().saturating_sub(1))
    }
}

/// Which rule chose the arm, as written in records (`assigned_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignedBy {
    /// The unit's bucket (the only units sample-ratio checks and lifts use).
    Bucket,
    /// The unit is on an arm's allow-list.
    UserList,
    /// The request's country header maps to an arm.
    Country,
    /// A QA header with the secret forced the arm.
    Forced,
}

/// The outcome of assignment for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// The arm's index in config order.
    pub arm: usize,
    /// The unit's bucket, recorded under overrides too.
    pub bucket: u32,
    /// The salted hash of the unit ID (the record's `unit`).
    pub unit: UnitHash,
    /// Which rule chose the arm.
    pub assigned_by: AssignedBy,
}

/// Override decisions already resolved from the request, in order of precedence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverrideHits {
    /// A QA header with a valid secret named this arm.
    pub forced: Option<usize>,
    /// The unit is on this arm's allow-list.
    pub user_list: Option<usize>,
    /// The configured country header maps to this arm.
    pub country: Option<usize>,
}

/// Assigns a unit: overrides win (forced, then user list, then country), buckets otherwise.
pub fn assign(salt: &str, unit_id: &str, split: &Split, hits: OverrideHits) -> Assignment {
    let unit = UnitHash::new(salt, unit_id);
    let bucket = unit.bucket();
    let (arm, assigned_by) = if let Some(arm) = hits.forced {
        (arm, AssignedBy::Forced)
    } else if let Some(arm) = hits.user_list {
        (arm, AssignedBy::UserList)
    } else if let Some(arm) = hits.country {
        (arm, AssignedBy::Country)
    } else {
        (split.arm_for(bucket), AssignedBy::Bucket)
    };
    Assignment {
        arm,
        bucket,
        unit,
        assigned_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        salt: String,
        unit_id: String,
        bucket: u32,
    }

    #[test]
    fn matches_independent_vectors() {
        let text = include_str!("../tests/vectors/assignment.json");
        let vectors: Vec<Vector> = serde_json::from_str(text).unwrap();
        assert!(vectors.len() >= 30);
        for v in &vectors {
            assert_eq!(
                bucket(&v.salt, &v.unit_id),
                v.bucket,
                "{:?}/{:?}",
                v.salt,
                v.unit_id
            );
        }
    }

    #[derive(serde::Deserialize)]
    struct ShadowVector {
        salt: String,
        name: String,
        unit_id: String,
        bucket: u32,
    }

    #[test]
    fn shadow_buckets_match_independent_vectors() {
        let text = include_str!("../tests/vectors/shadow.json");
        let vectors: Vec<ShadowVector> = serde_json::from_str(text).unwrap();
        assert!(vectors.len() >= 10);
        for v in &vectors {
            assert_eq!(
                shadow_bucket(&v.salt, &v.name, &v.unit_id),
                v.bucket,
                "{:?}",
                v.unit_id
            );
        }
    }

    #[test]
    fn shadow_cohorts_are_independent_of_arm_buckets() {
        // Chi-square test of independence over 100k synthetic units: arm (10 bucket deciles)
        // by cohort (in or out of a 20% shadow). A dependence would bias shadow comparisons.
        let n = 100_000u32;
        let mut table = [[0f64; 2]; 10];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let id = format!("{state:016x}");
            let arm = (bucket("indep-1", &id) / 1000) as usize;
            let shadowed = usize::from(shadow_bucket("indep-1", "next", &id) < 2000);
            table[arm][shadowed] += 1.0;
        }
        let total = f64::from(n);
        let cols = [0, 1].map(|c| table.iter().map(|r| r[c]).sum::<f64>());
        let mut chi2 = 0.0;
        for row in &table {
            let rs: f64 = row.iter().sum();
            for (c, observed) in row.iter().enumerate() {
                let expected = rs * cols[c] / total;
                chi2 += (observed - expected).powi(2) / expected;
            }
        }
        // df = 9: the 99.9th percentile of chi-square(9) is 27.88.
        assert!(
            chi2 < 27.88,
            "chi-square {chi2}: cohorts depend on arm buckets"
        );
    }

    #[test]
    fn contract_reference_values() {
        assert_eq!(bucket("imgclf-lr-1", "alice"), 5364);
        assert_eq!(bucket("imgclf-lr-1", "bob"), 6521);
        assert_eq!(bucket("imgclf-lr-1", "üsér-名前"), 3315);
        assert_eq!(bucket("imgclf-lr-2", "alice"), 7568);
        assert_eq!(bucket("s", "42"), 2115);
    }

    #[test]
    fn unit_is_hex_sha256_of_salted_id() {
        // sha256("s:42"), computed with Python's hashlib.
        assert_eq!(
            UnitHash::new("s", "42").to_hex(),
            "842560b58f2603c3a59af0894bd87a8af3a540319116600293eee53a31ee6214"
        );
    }

    #[test]
    fn ranges_are_contiguous_in_config_order() {
        let split = Split::from_weights(&[9000, 0, 1000]);
        assert_eq!(split.arm_for(0), 0);
        assert_eq!(split.arm_for(8999), 0);
        assert_eq!(split.arm_for(9000), 2);
        assert_eq!(split.arm_for(9999), 2);
        let all_control = Split::from_weights(&[10000, 0]);
        assert!((0..BUCKETS).all(|b| all_control.arm_for(b) == 0));
        let all_canary = Split::from_weights(&[0, 10000]);
        assert!((0..BUCKETS).all(|b| all_canary.arm_for(b) == 1));
    }

    #[test]
    fn overrides_take_precedence_in_order() {
        let split = Split::from_weights(&[5000, 5000]);
        let base = assign("s", "42", &split, OverrideHits::default());
        assert_eq!(base.assigned_by, AssignedBy::Bucket);
        assert_eq!(base.arm, split.arm_for(2115));
        let hits = OverrideHits {
            forced: Some(1),
            user_list: Some(0),
            country: Some(0),
        };
        let a = assign("s", "42", &split, hits);
        assert_eq!((a.arm, a.assigned_by), (1, AssignedBy::Forced));
        let hits = OverrideHits {
            forced: None,
            user_list: Some(1),
            country: Some(0),
        };
        let a = assign("s", "42", &split, hits);
        assert_eq!((a.arm, a.assigned_by), (1, AssignedBy::UserList));
        let hits = OverrideHits {
            country: Some(1),
            ..OverrideHits::default()
        };
        let a = assign("s", "42", &split, hits);
        assert_eq!((a.arm, a.assigned_by), (1, AssignedBy::Country));
        // The bucket is still recorded under an override.
        assert_eq!(a.bucket, 2115);
    }

    #[test]
    fn shares_follow_weights_over_100k_ids() {
        // 4 standard deviations of a binomial share: a wrong range mapping or a biased hash fails.
        let weights = [7000u32, 2000, 500, 500];
        let split = Split::from_weights(&weights);
        let n = 100_000u32;
        let mut counts = [0u32; 4];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..n {
            // xorshift: random IDs without a dependency on the hash under test.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let id = format!("{state:016x}");
            counts[split.arm_for(bucket("share-test", &id))] += 1;
        }
        for (i, w) in weights.iter().enumerate() {
            let p = f64::from(*w) / f64::from(BUCKETS);
            let expected = p * f64::from(n);
            let sd = (f64::from(n) * p * (1.0 - p)).sqrt();
            let got = f64::from(counts[i]);
            assert!(
                (got - expected).abs() <= 4.0 * sd,
                "arm {i}: {got} vs {expected} ± {sd}"
            );
        }
    }

    proptest! {
        #[test]
        fn bucket_is_the_digest_prefix_mod_10000(salt in ".{0,20}", id in ".{1,64}") {
            // The record's `unit` and the bucket come from one digest: the bucket must be what
            // an analyst recomputes from the recorded hex, whatever the input.
            let unit = UnitHash::new(&salt, &id);
            let prefix = u64::from_str_radix(&unit.to_hex()[..16], 16).unwrap();
            prop_assert_eq!(u64::from(bucket(&salt, &id)), prefix % u64::from(BUCKETS));
            let a = assign(&salt, &id, &Split::from_weights(&[5000, 5000]), OverrideHits::default());
            prop_assert_eq!((a.bucket, a.unit, a.assigned_by), (unit.bucket(), unit, AssignedBy::Bucket));
        }

        #[test]
        fn growing_the_canary_never_moves_a_user_out(id in ".{1,64}", steps in proptest::collection::vec(1u32..=10000, 1..6)) {
            // A two-arm canary ramps through increasing canary weights (1% → 50% → 100% and
            // everything in between): once a user is on the canary, they stay there.
            let mut ramp = steps;
            ramp.sort_unstable();
            let b = bucket("ramp", &id);
            let mut was_canary = false;
            for canary in ramp {
                let split = Split::from_weights(&[BUCKETS - canary, canary]);
                let is_canary = split.arm_for(b) == 1;
                prop_assert!(!was_canary || is_canary, "moved out at canary weight {}", canary);
                was_canary = is_canary;
            }
        }

        #[test]
        fn every_bucket_has_exactly_one_owner(weights in proptest::collection::vec(0u32..3000, 1..6)) {
            let mut w = weights;
            let sum: u32 = w.iter().sum();
            if sum < BUCKETS && let Some(last) = w.last_mut() { *last += BUCKETS - sum; }
            prop_assume!(w.iter().sum::<u32>() == BUCKETS);
            let split = Split::from_weights(&w);
            let mut owned = vec![0u32; w.len()];
            for b in 0..BUCKETS { owned[split.arm_for(b)] += 1; }
            prop_assert_eq!(owned, w);
        }
    }
}
