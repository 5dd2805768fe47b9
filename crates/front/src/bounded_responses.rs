//! A map of OCSP responses held to a byte budget, so what a flood of distinct requests can
//! make the front hold is fixed whatever the responses weigh.
//!
//! In: responses with their key and its size. Out: lookups; on an insert past the budget,
//! the expired entries go first, then everything.

use crate::ocsp_memory::CachedOcsp;
use std::collections::HashMap;

/// Responses in memory, held to a byte budget. Each entry is charged its DER, its key and
/// a fixed overhead for the map and the `CachedOcsp` around them. When an insert would pass
/// the budget, expired entries go first, then everything: crude, but what a flood of
/// distinct requests can make the front hold is fixed.
#[derive(Debug)]
pub(crate) struct BoundedResponses<K> {
    map: HashMap<K, (usize, CachedOcsp)>,
    bytes: usize,
    budget: usize,
}

/// What one entry costs beyond its DER and key bytes (hash slot, `CachedOcsp`, `Bytes`
/// header, allocator rounding), rounded up.
const ENTRY_OVERHEAD: usize = 160;

impl<K: std::hash::Hash + Eq> BoundedResponses<K> {
    pub(crate) fn new(budget: usize) -> Self {
        BoundedResponses {
            map: HashMap::new(),
            bytes: 0,
            budget,
        }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&CachedOcsp>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.map.get(key).map(|(_, c)| c)
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        if let Some((cost, _)) = self.map.remove(key) {
            self.bytes -= cost;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }

    /// Keeps `c`; when over budget, first drops what expired by `now`.
    pub(crate) fn insert(&mut self, key: K, key_bytes: usize, c: CachedOcsp, now: i64) {
        let cost = key_bytes + c.der.len() + ENTRY_OVERHEAD;
        if cost > self.budget {
            return;
        }
        if let Some((old, _)) = self.map.remove(&key) {
            self.bytes -= old;
        }
        if self.bytes + cost > self.budget {
            self.map.retain(|_, (_, v)| v.next_update > now);
            self.bytes = self.map.values().map(|(n, _)| n).sum();
            if self.bytes + cost > self.budget {
                self.map.clear();
                self.bytes = 0;
            }
        }
        self.map.insert(key, (cost, c));
        self.bytes += cost;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use std::time::Instant;

    fn response(len: usize, next_update: i64) -> CachedOcsp {
        CachedOcsp {
            der: Bytes::from(vec![0u8; len]),
            this_update: 0,
            next_update,
            fetched: Instant::now(),
            generation: 0,
        }
    }

    #[test]
    fn responses_in_memory_stay_within_their_byte_budget() {
        let budget = 100 * (1000 + 8 + ENTRY_OVERHEAD);
        let mut cache = BoundedResponses::new(budget);
        let now = 1_795_900_000;
        let later = now + 3600;
        for i in 0u64..10_000 {
            cache.insert(i, 8, response(1000, later), now);
            assert!(
                cache.bytes <= budget,
                "{} > {budget} after {i}",
                cache.bytes
            );
            assert_eq!(
                cache.bytes,
                cache.map.len() * (1000 + 8 + ENTRY_OVERHEAD),
                "the charge drifts from what is held"
            );
        }
        assert!(cache.get(&9_999).is_some(), "the newest entry is kept");
        // Replacing an entry charges it once.
        let before = cache.bytes;
        cache.insert(9_999, 8, response(1000, later), now);
        assert_eq!(cache.bytes, before);
        // Expired entries go before fresh ones.
        let mut cache = BoundedResponses::new(3 * (100 + ENTRY_OVERHEAD));
        cache.insert(1u8, 0, response(100, 0), now);
        cache.insert(2u8, 0, response(100, later), now);
        cache.insert(3u8, 0, response(100, later), now);
        cache.insert(4u8, 0, response(100, later), now);
        assert!(cache.get(&1).is_none() && cache.get(&2).is_some() && cache.get(&4).is_some());
        // Forgetting one (a revocation took effect) gives its bytes back; clearing, all.
        let before = cache.bytes;
        cache.remove(&2);
        assert!(cache.get(&2).is_none());
        assert_eq!(cache.bytes, before - (100 + ENTRY_OVERHEAD));
        cache.remove(&2);
        assert_eq!(cache.bytes, before - (100 + ENTRY_OVERHEAD));
        cache.clear();
        assert!(cache.get(&4).is_none());
        assert_eq!(cache.bytes, 0);
    }
}
