//! The expiry sweep: marks credentials past their expiry `Expired` (audited, retention clock
//! started), reading only the expiry index's hours since the last sweep, so what it reads is
//! proportional to what has expired, never to the table. Authentication never depends on it.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;

use super::credentials;
use crate::App;
use crate::domain::ApiError;
use crate::domain::{PrincipalId, Timestamp};
use crate::store::{CredentialRecord, keys};

/// The first sweep of a table looks back this many hours, by default (later ones continue where the
/// last stopped): `Config::sweep_first_lookback_hours`.
pub const FIRST_LOOKBACK_HOURS: i64 = 48;
/// The first warnings of a table cover the expiries that entered their window in the last hour: a
/// table that predates the warnings gets none for what was already inside a window.
pub const FIRST_WARNING_LOOKBACK_SECONDS: i64 = 3600;
/// The sweep stops this long before its deadline, so it never outlives its invocation.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// The warnings (`credential.expiring`) given before a credential's expiry, in days.
pub const WARNING_DAYS: [u32; 2] = [7, 1];
/// Expiries in flight at once (each one `TransactWriteItems`): a fixed bound, never one task per item.
pub const CONCURRENCY: usize = 8;

/// When a run must stop starting work. The scheduled function passes its invocation's deadline;
/// tests pass rules of their own, so that no test depends on how fast the machine runs it.
pub trait Deadline: Send + Sync {
    /// `true` once no new page or expiry may start.
    fn reached(&self) -> bool;
}

/// The Lambda invocation's deadline, less [`DEADLINE_MARGIN`], on the wall clock (the clock
/// Lambda itself enforces).
#[derive(Clone, Copy, Debug)]
pub struct InvocationDeadline(pub SystemTime);

impl Deadline for InvocationDeadline {
    fn reached(&self) -> bool {
        SystemTime::now() + DEADLINE_MARGIN >= self.0
    }
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Expiry-index hours fully swept.
    pub hours_swept: usize,
    /// Credentials the index returned.
    pub items_read: usize,
    /// Credentials marked Expired by this run.
    pub expired: usize,
    /// Credentials the index returned for the warnings before expiry.
    pub warning_items_read: usize,
    /// Warnings given (`credential.expiring` events).
    pub warned: usize,
    /// `false` when the run stopped at its deadline; the next one continues.
    pub finished: bool,
}

/// Sweeps every expiry hour (each of its shards) from the one after the last finished (or
/// `sweep_first_lookback_hours` ago)
/// to the current one, [`CONCURRENCY`] expiries at a time, starting nothing once `deadline` is
/// reached. The current hour is swept up to now but not recorded as finished; a stopped run leaves
/// its hour to be read again (already expired credentials have left the index, so nothing is read
/// twice).
pub async fn run(app: &App, deadline: &dyn Deadline, request_id: &str) -> Result<SweepReport, ApiError> {
    let now = app.clock.now();
    let current = now.unix().div_euclid(3600);
    let first = match app.store.sweep_cursor().await? {
        Some(done) => done + 1,
        None => current - app.config.sweep_first_lookback_hours,
    };
    let mut report = SweepReport::default();
    for hour in first..=current {
        let bucket = Timestamp::from_unix(hour * 3600).hour_bucket();
        for shard in 0..keys::EXPIRY_SHARDS {
            let mut start = None;
            loop {
                if deadline.reached() {
                    return Ok(report);
                }
                let page = app.store.expired_in_hour(&bucket, shard, now, 100, start).await?;
                report.items_read += page.items.len();
                let (started, marked) = expire_all(app, &page.items, now, deadline, request_id).await?;
                report.expired += marked;
                if started < page.items.len() {
                    return Ok(report);
                }
                match page.next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        if hour < current {
            app.store.set_sweep_cursor(hour).await?;
            report.hours_swept += 1;
        }
    }
    if !warn_expiring(app, now, deadline, request_id, &mut report).await? {
        return Ok(report);
    }
    report.finished = true;
    tracing::info!(request_id, ?report, "expiry sweep");
    Ok(report)
}

/// Gives each credential expiring within [`WARNING_DAYS`] its warnings, reading for each kind only
/// the expiries since the last run's (recorded as `warnedThrough`): each credential is read about
/// once per kind. A credential created or moved inside a window already passed gets only the
/// closer warning (or none, if it expires within a day). `false` when it stopped at the deadline
/// (the next run reads the rest again; a given warning is never given twice).
async fn warn_expiring(
    app: &App,
    now: Timestamp,
    deadline: &dyn Deadline,
    request_id: &str,
    report: &mut SweepReport,
) -> Result<bool, ApiError> {
    for days in WARNING_DAYS {
        let upto = now.plus_seconds(i64::from(days) * 86_400);
        let after = match app.store.warned_through(days).await? {
            Some(through) => through,
            None => upto.plus_seconds(-FIRST_WARNING_LOOKBACK_SECONDS),
        };
        if after >= upto {
            continue;
        }
        let hours = after.unix().div_euclid(3600)..=upto.unix().div_euclid(3600);
        for (hour, shard) in hours.flat_map(|h| (0..keys::EXPIRY_SHARDS).map(move |s| (h, s))) {
            let bucket = Timestamp::from_unix(hour * 3600).hour_bucket();
            let mut start = None;
            loop {
                if deadline.reached() {
                    return Ok(false);
                }
                let page = app.store.expiring_in_hour(&bucket, shard, after, upto, 100, start).await?;
                report.warning_items_read += page.items.len();
                for chunk in page.items.chunks(CONCURRENCY) {
                    let given = futures::future::join_all(
                        chunk.iter().map(|record| credentials::warn_expiring(app, record, days, now, request_id)),
                    )
                    .await;
                    for outcome in given {
                        report.warned += usize::from(outcome?);
                    }
                }
                match page.next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        app.store.set_warned_through(days, upto).await?;
    }
    Ok(true)
}

/// Expires `records`, at most [`CONCURRENCY`] at a time and never two of one principal at once
/// (each expiry updates its principal's item: two would conflict), checking `deadline` before
/// starting each; what has started always finishes. Returns how many started and were marked.
async fn expire_all(
    app: &App,
    records: &[CredentialRecord],
    now: Timestamp,
    deadline: &dyn Deadline,
    request_id: &str,
) -> Result<(usize, usize), ApiError> {
    let mut waiting: VecDeque<&CredentialRecord> = records.iter().collect();
    let mut busy: HashSet<&PrincipalId> = HashSet::new();
    let mut in_flight = FuturesUnordered::new();
    let (mut started, mut marked, mut stopped) = (0, 0, false);
    // The first failure stops new starts; what is in flight still finishes, then it is returned.
    let mut failure = None;
    loop {
        while !stopped && in_flight.len() < CONCURRENCY {
            let Some(next) = waiting.iter().position(|r| !busy.contains(&r.credential.principal_id)) else { break };
            if deadline.reached() {
                stopped = true;
                break;
            }
            let record = waiting.remove(next).expect("a position of waiting");
            busy.insert(&record.credential.principal_id);
            let principal = &record.credential.principal_id;
            in_flight.push(async move { (principal, credentials::expire(app, record, now, request_id).await) });
            started += 1;
        }
        match in_flight.next().await {
            Some((principal, outcome)) => {
                busy.remove(principal);
                match outcome {
                    Ok(expired) => marked += usize::from(expired),
                    Err(err) => {
                        stopped = true;
                        failure.get_or_insert(err);
                    }
                }
            }
            None => return failure.map_or(Ok((started, marked)), Err),
        }
    }
}
