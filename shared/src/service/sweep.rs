//! The expiry sweep: marks credentials past their expiry `Expired` (audited, retention clock
//! started), reading only the expiry index's hours since the last sweep, so what it reads is
//! proportional to what has expired, never to the table. Authentication never depends on it.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::credentials;
use crate::App;
use crate::domain::Timestamp;
use crate::http::ApiError;

/// The first sweep of a table looks back this many hours (later ones continue where the last stopped).
pub const FIRST_LOOKBACK_HOURS: i64 = 48;
/// The sweep stops this long before its deadline, so it never outlives its invocation.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

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
    /// `false` when the run stopped at its deadline; the next one continues.
    pub finished: bool,
}

/// Sweeps every expiry hour from the one after the last finished (or `FIRST_LOOKBACK_HOURS` ago)
/// to the current one, stopping before `deadline`. The current hour is swept up to now but not
/// recorded as finished; a stopped run leaves its hour to be read again (already expired
/// credentials have left the index, so nothing is read twice).
pub async fn run(app: &App, deadline: SystemTime, request_id: &str) -> Result<SweepReport, ApiError> {
    let now = app.clock.now();
    let current = now.unix().div_euclid(3600);
    let first = match app.store.sweep_cursor().await? {
        Some(done) => done + 1,
        None => current - FIRST_LOOKBACK_HOURS,
    };
    let mut report = SweepReport::default();
    let out_of_time = || SystemTime::now() + DEADLINE_MARGIN >= deadline;
    for hour in first..=current {
        let bucket = Timestamp::from_unix(hour * 3600).hour_bucket();
        let mut start = None;
        loop {
            if out_of_time() {
                return Ok(report);
            }
            let page = app.store.expired_in_hour(&bucket, now, 100, start).await?;
            report.items_read += page.items.len();
            for record in &page.items {
                if credentials::expire(app, record, now, request_id).await? {
                    report.expired += 1;
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        if hour < current {
            app.store.set_sweep_cursor(hour).await?;
            report.hours_swept += 1;
        }
    }
    report.finished = true;
    tracing::info!(request_id, ?report, "expiry sweep");
    Ok(report)
}
