//! The service's clock: the system's time in production; in tests, a time the test sets and moves,
//! so that nothing a test asserts depends on how fast the machine runs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::domain::Timestamp;

/// Every time the service reads (expiry, token lifetimes, cache ages, audit times) comes from here.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system's time. `Some`: a manual time (unix seconds), shared by every clone.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's time.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, truncated to whole seconds (the resolution of every stored timestamp).
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            Some(at) => Timestamp::from_unix(at.load(Ordering::Relaxed)),
            None => Timestamp::now(),
        }
    }
}

#[cfg(feature = "test-util")]
impl Clock {
    /// A clock that stands at `start` until it is moved.
    pub fn manual(start: Timestamp) -> Self {
        Self { manual: Some(Arc::new(AtomicI64::new(start.unix()))) }
    }

    /// Moves a manual clock (and every clone of it) by `seconds`.
    ///
    /// # Panics
    /// On the system clock, which no test may move.
    pub fn advance(&self, seconds: i64) {
        self.manual.as_ref().expect("only a manual clock can be moved").fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_moved_and_its_clones_move_with_it() {
        let clock = Clock::manual(Timestamp::from_unix(1_000));
        let clone = clock.clone();
        assert_eq!(clock.now(), Timestamp::from_unix(1_000));
        clone.advance(60);
        assert_eq!(clock.now(), Timestamp::from_unix(1_060));
    }
}
