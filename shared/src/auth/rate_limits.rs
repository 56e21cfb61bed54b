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
    leasing: tokio::sync::Mutex<()>,
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
    fn a_share_leased_meanwhile_is_spent_before_refusing() {
        let shares = RateShares::default();
        let key = key();
        shares.record(key.clone(), LIMIT, 60, Lease::Granted { granted: 2, leased: 100 }, 0).unwrap();
        assert!(shares.record(key.clone(), LIMIT, 60, Lease::Exhausted, 0).is_ok(), "the one left here is used");
        assert!(shares.record(key, LIMIT, 60, Lease::Exhausted, 0).is_err());
    }
}
