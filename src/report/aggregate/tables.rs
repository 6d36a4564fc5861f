//! Open-addressing tables keyed by 128-bit identities: the set that de-duplicates records by
//! `request_id`, and the map of per-unit state. Both keep the key beside the value and probe
//! linearly, so a lookup usually costs one memory access.

/// The request IDs seen so far: an open-addressing table of 128-bit identities with linear
/// probing, 16 bytes per slot and no other per-entry cost; the table doubles at 3/4 full, so
/// it holds between 21 and 43 bytes per ID. One cache line holds four slots, so a lookup
/// usually costs one memory access.
#[derive(Debug)]
pub(crate) struct Seen {
    slots: Vec<u128>,
    len: usize,
    /// The identity 0 marks an empty slot; whether it was seen is kept here.
    zero: bool,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            slots: vec![0; 1 << 8],
            len: 0,
            zero: false,
        }
    }
}

impl Seen {
    /// Records `request_id`'s identity; false when it was already there (a duplicate).
    pub(crate) fn first_time(&mut self, id: u128) -> bool {
        if id == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::home(id) & mask;
        loop {
            let s = self.slots[i];
            if s == id {
                return false;
            }
            if s == 0 {
                self.slots[i] = id;
                self.len += 1;
                return true;
            }
            i = (i + 1) & mask;
        }
    }

    /// Number of distinct IDs.
    pub(crate) fn len(&self) -> usize {
        self.len + usize::from(self.zero)
    }

    /// Reads the slot where `id` would start probing, so that a later
    /// [`Seen::first_time`] finds it in cache: a batch of such independent reads overlaps
    /// its cache misses, where probing one ID after another waits for each.
    pub(crate) fn touch(&self, id: u128) -> u64 {
        self.slots[Self::home(id) & (self.slots.len() - 1)] as u64
    }

    fn home(id: u128) -> usize {
        ((id as u64) ^ ((id >> 64) as u64).rotate_left(29)) as usize
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        let mask = self.slots.len() - 1;
        for id in old.into_iter().filter(|&id| id != 0) {
            let mut i = Self::home(id) & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = id;
        }
    }
}

/// A map from 128-bit identities (units) to small values, open addressing with linear
/// probing: the key sits beside its value, so a lookup usually costs one memory access
/// (a general-purpose map costs two: its control bytes, then the entry).
#[derive(Debug)]
pub(crate) struct IdMap<V> {
    slots: Vec<(u128, V)>,
    len: usize,
    /// The identity 0 marks an empty slot; its value, if any, is kept here.
    zero: Option<V>,
}

impl<V: Default> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            slots: (0..1 << 6).map(|_| (0, V::default())).collect(),
            len: 0,
            zero: None,
        }
    }
}

impl<V: Default> IdMap<V> {
    /// The value of `id`, inserted by `new` when absent.
    pub(crate) fn get_or_insert_with(&mut self, id: u128, new: impl FnOnce() -> V) -> &mut V {
        if id == 0 {
            return self.zero.get_or_insert_with(new);
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = Seen::home(id) & mask;
        loop {
            let k = self.slots[i].0;
            if k == id {
                break;
            }
            if k == 0 {
                self.slots[i] = (id, new());
                self.len += 1;
                break;
            }
            i = (i + 1) & mask;
        }
        &mut self.slots[i].1
    }

    /// Reads the slot where `id` would start probing (see [`Seen::touch`]).
    pub(crate) fn touch(&self, id: u128) -> u64 {
        self.slots[Seen::home(id) & (self.slots.len() - 1)].0 as u64
    }

    /// Every entry, in no particular order.
    pub(crate) fn into_entries(self) -> Vec<(u128, V)> {
        let mut out: Vec<(u128, V)> = self.slots.into_iter().filter(|e| e.0 != 0).collect();
        if let Some(v) = self.zero {
            out.push((0, v));
        }
        out
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let fresh: Vec<(u128, V)> = (0..size).map(|_| (0, V::default())).collect();
        let old = std::mem::replace(&mut self.slots, fresh);
        let mask = size - 1;
        for (id, v) in old.into_iter().filter(|e| e.0 != 0) {
            let mut i = Seen::home(id) & mask;
            while self.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (id, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse::id128;

    #[test]
    fn seen_grows_and_keeps_everything() {
        let mut s = Seen::default();
        for i in 0..100_000u128 {
            // Clustered values stress linear probing.
            assert!(s.first_time(i * 4096 + 1));
        }
        assert!(s.first_time(0));
        assert!(!s.first_time(0));
        for i in 0..100_000u128 {
            assert!(!s.first_time(i * 4096 + 1));
        }
        assert_eq!(s.len(), 100_001);
    }

    #[test]
    fn id_map_keeps_values() {
        let mut m: IdMap<u32> = IdMap::default();
        for i in 0..50_000u128 {
            *m.get_or_insert_with(i * 7919, || 0) += 1;
        }
        for i in 0..50_000u128 {
            *m.get_or_insert_with(i * 7919, || 100) += 1;
        }
        let mut e = m.into_entries();
        e.sort_unstable();
        assert_eq!(e.len(), 50_000);
        assert!(e.iter().all(|(_, v)| *v == 2));
        assert_eq!(e[0], (0, 2), "the zero identity has its own slot");
    }

    #[test]
    fn seen_flags_duplicates() {
        let mut s = Seen::default();
        assert!(s.first_time(id128(b"x")));
        assert!(!s.first_time(id128(b"x")));
        assert!(s.first_time(id128(b"y")));
        assert_eq!(s.len(), 2);
    }
}
