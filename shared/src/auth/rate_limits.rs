//! Rate limits per API-key principal, one limit across every container: each container leases a
//! share of a window's calls from the table ([`crate::store::Lease`]) and answers from that share
//! in memory until it is spent. The table's count of a window never exceeds its limit, so the calls
//! allowed never do either; calls a container leased but did not use are the only ones lost
//! (docs/operations.md, Rate limits).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::App;
use crate::domain::{ApiError, OrgId, PrincipalId, RateLimit, Timestamp};
use crate::store::Lease;

/// A container leases a tenth of the limit at a time (at least one call): with few containers, a
/// principal well under its limit spends from memory, and the share other containers hold unused
/// is at most that much each.
pub const LEASE_FRACTION: u32 = 10;

/// The calls one lease asks for.
pub fn lease_size(limit: RateLimit) -> u32 {
    (limit.limit / LEASE_FRACTION).max(1)
}

/// The most windows a container remembers; past it, the windows that have ended are forgotten.
pub const MAX_WINDOWS: usize = 10_000;

/// A call's standing against its principal's limit: what the IETF `RateLimit` fields carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateState {
    pub limit: RateLimit,
    /// Calls left in the window, at most (other containers may have used some of them).
    pub remaining: u32,
    /// When the window ends (unix seconds).
    pub resets_at: i64,
}

impl RateState {
    /// Seconds until the window ends, at least 1.
    pub fn seconds_left(&self, now: Timestamp) -> u64 {
        u64::try_from(self.resets_at - now.unix()).unwrap_or(0).max(1)
    }
}

/// A principal's window of one limit: a new limit (raised or lowered mid-window) is a new share of
/// the same count in the table.
type WindowKey = (OrgId, PrincipalId, RateLimit, i64);

/// What this container holds of one window.
#[derive(Clone, Copy, Debug, Default)]
struct Share {
    /// Leased and not yet used here.
    left: u32,
    /// The window's count in the table after this container's last lease.
    leased: u32,
    /// The table had nothing left to lease: every call here is refused until the window ends.
    exhausted: bool,
    resets_at: i64,
}

/// The container's shares of the windows of principals it has seen.
#[derive(Debug, Default)]
pub struct RateShares {
    shares: Mutex<HashMap<WindowKey, Share>>,
    /// One lease at a time in a container: a request that finds the share spent while another
    /// leases waits for that lease instead of taking one of its own, so a container never holds
    /// more than one lease's unused calls. (Lambda gives a container one request at a time; the
    /// local stack and the tests give it many.)
    leasing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl RateShares {
    /// Spends one call of the share, if it has one: `Some(Ok)` allowed, `Some(Err)` refused (the
    /// window is exhausted), `None`: a lease is needed.
    fn spend(&self, key: &WindowKey, limit: RateLimit) -> Option<Result<RateState, RateState>> {
        let mut shares = self.shares.lock().expect("rate shares lock");
        let share = shares.get_mut(key)?;
        let state = |s: &Share| RateState {
            limit,
            remaining: s.left + limit.limit.saturating_sub(s.leased),
            resets_at: s.resets_at,
        };
        if share.left > 0 {
            share.left -= 1;
            return Some(Ok(state(share)));
        }
        share.exhausted.then(|| Err(state(share)))
    }

    /// Whether the last window the container saw before `key`'s, for the same limit, was at
    /// under half of it and not used up: a principal well under its limit here, calling every window
    /// or now and then. (Looked for at a window's first call only.)
    fn well_under_before(&self, key: &WindowKey) -> bool {
        let (org, principal, limit, index) = key;
        let shares = self.shares.lock().expect("rate shares lock");
        let before = (org.clone(), principal.clone(), *limit, index - 1);
        let last = shares.get(&before).or_else(|| {
            shares
                .iter()
                .filter(|((o, p, l, i), _)| o == org && p == principal && l == limit && i < index)
                .max_by_key(|((_, _, _, i), _)| *i)
                .map(|(_, share)| share)
        });
        last.is_some_and(|s| !s.exhausted && 2 * u64::from(s.leased) < u64::from(limit.limit))
    }

    /// Opens `key`'s window with a call allowed on credit (no share yet): false if it is open.
    fn open_on_credit(&self, key: &WindowKey, resets_at: i64) -> bool {
        let mut shares = self.shares.lock().expect("rate shares lock");
        if shares.contains_key(key) {
            return false;
        }
        shares.insert(key.clone(), Share { resets_at, ..Share::default() });
        true
    }

    /// Settles the lease taken for a call allowed on credit: that call is one of the calls granted.
    /// A window found used up means the call was one too many (logged).
    fn settle_credit(&self, key: &WindowKey, limit: RateLimit, lease: Lease) {
        let mut shares = self.shares.lock().expect("rate shares lock");
        let Some(share) = shares.get_mut(key) else { return };
        match lease {
            Lease::Granted { granted, leased } => {
                share.left += granted - 1;
                share.leased = share.leased.max(leased);
            }
            Lease::Exhausted => {
                share.exhausted = true;
                share.leased = limit.limit;
                tracing::warn!(principal = %key.1, "rate limit: a call allowed on credit found its window used up");
            }
        }
    }

    /// Whether a lease is being taken now (tests).
    pub fn leasing_now(&self) -> bool {
        self.leasing.try_lock().is_err()
    }

    /// Records a lease's outcome and spends one call of it (a granted lease is at least one call).
    fn record(
        &self,
        key: WindowKey,
        limit: RateLimit,
        resets_at: i64,
        lease: Lease,
        now: i64,
    ) -> Result<RateState, RateState> {
        let mut shares = self.shares.lock().expect("rate shares lock");
        if shares.len() >= MAX_WINDOWS && !shares.contains_key(&key) {
            shares.retain(|_, s| s.resets_at > now);
            if shares.len() >= MAX_WINDOWS {
                shares.clear();
            }
        }
        let share = shares.entry(key).or_insert(Share { resets_at, ..Share::default() });
        match lease {
            Lease::Granted { granted, leased } => {
                share.left += granted - 1;
                share.leased = share.leased.max(leased);
                Ok(RateState { limit, remaining: share.left + limit.limit.saturating_sub(share.leased), resets_at })
            }
            Lease::Exhausted => {
                // Calls leased here meanwhile by concurrent requests are still this container's.
                if share.left > 0 {
                    share.left -= 1;
                    return Ok(RateState { limit, remaining: share.left, resets_at });
                }
                share.exhausted = true;
                share.leased = limit.limit;
                Err(RateState { limit, remaining: 0, resets_at })
            }
        }
    }
}

impl App {
    /// Counts one call of `principal` against `limit` (none: unlimited). From this container's
    /// share of the window while it has one; otherwise one conditional UpdateItem leases another
    /// share. 429 `rate_limited` once the window's calls are all leased and this container's share
    /// is spent. Should the table fail, the call is allowed (a limit is not worth an outage) and
    /// the failure logged.
    pub(crate) async fn admit_call(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        limit: Option<RateLimit>,
        request_id: &str,
    ) -> Result<Option<RateState>, ApiError> {
        let Some(limit) = limit else { return Ok(None) };
        let now = self.clock.now();
        let window = limit.window(now);
        let key = (org.clone(), principal.clone(), limit, window.index);
        let decided = match self.rate_shares.spend(&key, limit) {
            Some(decided) => decided,
            None if self.rate_shares.well_under_before(&key) && self.on_credit(&key, limit, window).await => {
                return Ok(Some(RateState { limit, remaining: limit.limit - 1, resets_at: window.resets_at }));
            }
            None => {
                let _leasing = self.rate_shares.leasing.lock().await;
                // Another request may have leased while this one waited.
                match self.rate_shares.spend(&key, limit) {
                    Some(decided) => decided,
                    None => match self.store.lease_calls(org, principal, limit, window, lease_size(limit)).await {
                        Ok(lease) => self.rate_shares.record(key, limit, window.resets_at, lease, now.unix()),
                        Err(err) => {
                            tracing::warn!(request_id, %principal, error = %err, "rate limit not enforced: no lease");
                            return Ok(None);
                        }
                    },
                }
            }
        };
        match decided {
            Ok(state) => Ok(Some(state)),
            Err(state) => {
                tracing::info!(request_id, %principal, code = "rate_limited", "refused");
                Err(ApiError::RateLimited { limit, retry_after_seconds: state.seconds_left(now) })
            }
        }
    }

    /// The first call of a window in a container that saw the window before at under half the
    /// limit is allowed at once, on credit: the window's first lease (which counts it) is taken in
    /// the background, holding the container's lease lock, so a call that comes meanwhile waits for
    /// it. False when the window is already open here (the caller leases as usual).
    async fn on_credit(&self, key: &WindowKey, limit: RateLimit, window: crate::domain::Window) -> bool {
        let guard = std::sync::Arc::clone(&self.rate_shares.leasing).lock_owned().await;
        if !self.rate_shares.open_on_credit(key, window.resets_at) {
            return false;
        }
        let (shares, store, key) = (std::sync::Arc::clone(&self.rate_shares), self.store.clone(), key.clone());
        tokio::spawn(async move {
            let _leasing = guard;
            match store.lease_calls(&key.0, &key.1, limit, window, lease_size(limit)).await {
                Ok(lease) => shares.settle_credit(&key, limit, lease),
                Err(err) => {
                    tracing::warn!(principal = %key.1, error = %err, "rate limit: no lease for a call on credit")
                }
            }
        });
        true
    }

    /// Whether a rate-limit lease is being taken now, in the background or not (tests).
    pub fn rate_lease_in_flight(&self) -> bool {
        self.rate_shares.leasing_now()
    }

    /// Waits for the lease being taken now, if any (tests).
    pub async fn rate_leases_settled(&self) {
        drop(self.rate_shares.leasing.lock().await);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> WindowKey {
        (OrgId::generate(), PrincipalId::generate(), LIMIT, 1)
    }

    const LIMIT: RateLimit = RateLimit { limit: 100, period_seconds: 60 };

    #[test]
    fn a_lease_is_a_tenth_of_the_limit_and_at_least_one_call() {
        assert_eq!(lease_size(LIMIT), 10);
        assert_eq!(lease_size(RateLimit { limit: 5, period_seconds: 60 }), 1);
        assert_eq!(LEASE_FRACTION, 10);
    }

    #[test]
    fn a_share_is_spent_call_by_call_then_a_lease_is_needed() {
        let shares = RateShares::default();
        let key = key();
        assert!(shares.spend(&key, LIMIT).is_none(), "nothing leased yet");
        let first = shares.record(key.clone(), LIMIT, 60, Lease::Granted { granted: 3, leased: 3 }, 0).unwrap();
        assert_eq!(first.remaining, 99);
        assert_eq!(shares.spend(&key, LIMIT).unwrap().unwrap().remaining, 98);
        assert_eq!(shares.spend(&key, LIMIT).unwrap().unwrap().remaining, 97);
        assert!(shares.spend(&key, LIMIT).is_none(), "the share is spent");
    }

    #[test]
    fn an_exhausted_window_refuses_here_without_asking_again() {
        let shares = RateShares::default();
        let key = key();
        let refused = shares.record(key.clone(), LIMIT, 60, Lease::Exhausted, 0).unwrap_err();
        assert_eq!(refused.remaining, 0);
        assert!(shares.spend(&key, LIMIT).unwrap().is_err());
        assert_eq!(refused.seconds_left(Timestamp::from_unix(59)), 1);
        assert_eq!(refused.seconds_left(Timestamp::from_unix(0)), 60);
    }

    #[test]
    fn a_window_opens_on_credit_only_after_one_seen_at_under_half_the_limit() {
        let shares = RateShares::default();
        let (org, principal) = (OrgId::generate(), PrincipalId::generate());
        let first = (org.clone(), principal.clone(), LIMIT, 1);
        let second = (org, principal, LIMIT, 2);
        assert!(!shares.well_under_before(&first), "nothing seen before");
        shares.record(first.clone(), LIMIT, 60, Lease::Granted { granted: 10, leased: 49 }, 0).unwrap();
        assert!(shares.well_under_before(&second), "49 of 100");
        assert!(shares.open_on_credit(&second, 120));
        assert!(!shares.open_on_credit(&second, 120), "once per window");
        shares.settle_credit(&second, LIMIT, Lease::Granted { granted: 10, leased: 10 });
        assert_eq!(shares.spend(&second, LIMIT).unwrap().unwrap().remaining, 98, "the credit was one of the ten");
        let tenth = (second.0.clone(), second.1.clone(), LIMIT, 10);
        assert!(shares.well_under_before(&tenth), "the last window seen, however long ago");
        let third = (second.0.clone(), second.1.clone(), LIMIT, 3);
        shares.record(second.clone(), LIMIT, 120, Lease::Granted { granted: 50, leased: 60 }, 0).unwrap();
        assert!(!shares.well_under_before(&third), "60 of 100 is not under half");
    }

    #[test]
    fn a_share_leased_meanwhile_is_spent_before_refusing() {
        let shares = RateShares::default();
        let key = key();
        shares.record(key.clone(), LIMIT, 60, Lease::Granted { granted: 2, leased: 100 }, 0).unwrap();
        assert!(shares.record(key.clone(), LIMIT, 60, Lease::Exhausted, 0).is_ok(), "the one left here is used");
        assert!(shares.record(key, LIMIT, 60, Lease::Exhausted, 0).is_err());
    }
}
