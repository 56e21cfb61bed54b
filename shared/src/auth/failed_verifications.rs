//! Failed API-key verifications, counted per key id in this container: after a few, the key id's
//! secrets that the container has not verified are refused without argon2 (docs/security.md, Abuse limits).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::FailureLimit;
use crate::domain::{KeyId, Timestamp};

/// What the container remembers of one key id's failures (unix seconds).
#[derive(Clone, Copy, Debug)]
struct Failures {
    /// Failures in the window that began at `window_start`.
    count: u32,
    window_start: i64,
    /// The current or last block: when it ends and how long it was (0: never blocked).
    blocked_until: i64,
    block_seconds: i64,
    /// The latest failure: the record failed longest ago is forgotten first.
    last: i64,
}

impl Failures {
    fn fresh(now: i64) -> Self {
        Self { count: 0, window_start: now, blocked_until: 0, block_seconds: 0, last: now }
    }

    /// Whether forgetting the record at `now` would change an answer: a block stands, or a failure
    /// would still lengthen the last one, or the window still counts.
    fn matters(&self, now: i64, window_seconds: i64) -> bool {
        now < self.blocked_until + self.block_seconds || now - self.window_start < window_seconds
    }
}

/// The failures of at most `limit.key_ids` key ids, on the service clock. Unknown key ids count
/// like known ones, so the limit answers the same for both.
#[derive(Debug)]
pub struct FailedVerifications {
    limit: FailureLimit,
    records: Mutex<HashMap<KeyId, Failures>>,
}

impl FailedVerifications {
    /// No failures yet.
    pub fn new(limit: FailureLimit) -> Self {
        Self { limit, records: Mutex::new(HashMap::new()) }
    }

    /// The seconds until `key_id`'s block ends (at least 1), while one stands at `now`.
    pub fn blocked(&self, key_id: &KeyId, now: Timestamp) -> Option<u64> {
        let records = self.records.lock().expect("failures lock");
        let left = records.get(key_id)?.blocked_until - now.unix();
        u64::try_from(left).ok().filter(|&s| s > 0)
    }

    /// Counts a failed verification of `key_id` at `now`. The `limit.failures`-th failure of a
    /// window starts a block; the first failure after a block, within as long again as it lasted,
    /// starts one twice as long (up to the cap). Returns the length of the block it started, if any.
    pub fn record_failure(&self, key_id: &KeyId, now: Timestamp) -> Option<i64> {
        let now = now.unix();
        let mut records = self.records.lock().expect("failures lock");
        if !records.contains_key(key_id) {
            self.make_room(&mut records, now);
        }
        let record = records.entry(key_id.clone()).or_insert_with(|| Failures::fresh(now));
        record.last = now;
        if record.block_seconds > 0 {
            if now < record.blocked_until {
                // Verified while the block began (a concurrent request): the block stands as it is.
                return None;
            }
            if now < record.blocked_until + record.block_seconds {
                record.block_seconds = (record.block_seconds * 2).min(self.limit.max_block_seconds);
                record.blocked_until = now + record.block_seconds;
                return Some(record.block_seconds);
            }
            *record = Failures::fresh(now);
        }
        if now - record.window_start >= self.limit.window_seconds {
            record.count = 0;
            record.window_start = now;
        }
        record.count = record.count.saturating_add(1);
        if record.count < self.limit.failures {
            return None;
        }
        record.block_seconds = self.limit.first_block_seconds.min(self.limit.max_block_seconds);
        record.blocked_until = now + record.block_seconds;
        Some(record.block_seconds)
    }

    /// Keeps the map within `limit.key_ids`: first forgets the records that no longer matter, then,
    /// if none could go, the one whose latest failure is oldest, unblocked ones before blocked ones.
    fn make_room(&self, records: &mut HashMap<KeyId, Failures>, now: i64) {
        if records.len() < self.limit.key_ids {
            return;
        }
        records.retain(|_, r| r.matters(now, self.limit.window_seconds));
        if records.len() >= self.limit.key_ids
            && let Some(oldest) =
                records.iter().min_by_key(|(_, r)| (now < r.blocked_until, r.last)).map(|(k, _)| k.clone())
        {
            records.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.records.lock().expect("failures lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> KeyId {
        KeyId::parse(&format!("{n:020}")).unwrap()
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix(1_000_000 + s)
    }

    #[test]
    fn the_fifth_failure_in_a_minute_blocks_the_key_id_for_a_minute() {
        let limits = FailedVerifications::new(FailureLimit::default());
        for s in 0..4 {
            assert_eq!(limits.record_failure(&id(1), at(s)), None);
            assert_eq!(limits.blocked(&id(1), at(s)), None);
        }
        assert_eq!(limits.record_failure(&id(1), at(10)), Some(60));
        assert_eq!(limits.blocked(&id(1), at(10)), Some(60));
        assert_eq!(limits.blocked(&id(1), at(69)), Some(1));
        assert_eq!(limits.blocked(&id(1), at(70)), None);
        assert_eq!(limits.blocked(&id(2), at(10)), None, "other key ids are not blocked");
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_block() {
        let limits = FailedVerifications::new(FailureLimit::default());
        for n in 0..20 {
            assert_eq!(limits.record_failure(&id(1), at(n * 15)), None, "failure {n}");
        }
    }

    #[test]
    fn a_failure_soon_after_a_block_doubles_it_up_to_fifteen_minutes() {
        let limits = FailedVerifications::new(FailureLimit::default());
        for _ in 0..5 {
            limits.record_failure(&id(1), at(0));
        }
        let mut now = 60;
        for expected in [120, 240, 480, 900, 900] {
            assert_eq!(limits.blocked(&id(1), at(now)), None, "the block has ended: one verification runs");
            assert_eq!(limits.record_failure(&id(1), at(now)), Some(expected));
            assert_eq!(limits.blocked(&id(1), at(now)), Some(expected as u64));
            now += expected;
        }
    }

    #[test]
    fn quiet_for_as_long_as_the_block_lasted_starts_afresh() {
        let limits = FailedVerifications::new(FailureLimit::default());
        for _ in 0..5 {
            limits.record_failure(&id(1), at(0));
        }
        // Blocked 0..60; quiet until 120: the next failure is the first of a new window.
        assert_eq!(limits.record_failure(&id(1), at(120)), None);
        assert_eq!(limits.blocked(&id(1), at(120)), None);
    }

    #[test]
    fn the_map_is_bounded_and_forgets_what_no_longer_matters_first() {
        let limits = FailedVerifications::new(FailureLimit { key_ids: 3, ..FailureLimit::default() });
        for _ in 0..5 {
            limits.record_failure(&id(1), at(0));
        }
        limits.record_failure(&id(2), at(1));
        limits.record_failure(&id(3), at(2));
        // Full, and every record still matters: the oldest unblocked one (id 2) goes, not id 1.
        limits.record_failure(&id(4), at(3));
        assert_eq!(limits.len(), 3);
        assert_eq!(limits.blocked(&id(1), at(3)), Some(57));
        for _ in 0..4 {
            limits.record_failure(&id(2), at(3));
        }
        assert_eq!(limits.blocked(&id(2), at(3)), None, "id 2 starts again from no failures");
        // Later no record matters any more (blocks and windows over): all make room at once.
        limits.record_failure(&id(5), at(200));
        assert_eq!(limits.len(), 1);
    }
}
