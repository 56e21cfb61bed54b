//! A per-container cache whose entries age by the service clock (so tests can move time).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::domain::Timestamp;

/// Entries younger than `ttl_seconds` are served; older ones are read again by the caller.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl_seconds: i64,
    entries: Mutex<HashMap<K, (Timestamp, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache.
    pub fn new(ttl_seconds: i64) -> Self {
        Self { ttl_seconds, entries: Mutex::new(HashMap::new()) }
    }

    /// The entry for `key` if it is fresh at `now`.
    pub fn get(&self, key: &K, now: Timestamp) -> Option<V> {
        let entries = self.entries.lock().expect("cache lock");
        entries.get(key).filter(|(at, _)| now.unix() - at.unix() < self.ttl_seconds).map(|(_, v)| v.clone())
    }

    /// Stores `value` as read at `now`.
    pub fn insert(&self, key: K, value: V, now: Timestamp) {
        self.entries.lock().expect("cache lock").insert(key, (now, value));
    }

    /// Forgets `key`: the next reader reads it afresh.
    pub fn remove(&self, key: &K) {
        self.entries.lock().expect("cache lock").remove(key);
    }

    /// Keeps only the entries whose key satisfies `keep`.
    pub fn retain(&self, keep: impl Fn(&K) -> bool) {
        self.entries.lock().expect("cache lock").retain(|k, _| keep(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_their_ttl() {
        let cache = TtlCache::new(30);
        cache.insert("k", 1, Timestamp::from_unix(100));
        assert_eq!(cache.get(&"k", Timestamp::from_unix(129)), Some(1));
        assert_eq!(cache.get(&"k", Timestamp::from_unix(130)), None);
        cache.retain(|k| *k != "k");
        assert_eq!(cache.get(&"k", Timestamp::from_unix(100)), None);
    }
}
