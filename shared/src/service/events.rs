//! Draining the outbox: every lifecycle event is written with its change (on the change's audit
//! event, in the same transaction) and published here afterwards, so a failure to publish loses
//! nothing: the event stays in the outbox and the next drain publishes it. Delivery is at least
//! once (a drain that published but failed to take the event out publishes it again); consumers
//! de-duplicate by the event's `id`.

use std::collections::HashSet;

use serde::Serialize;

use super::sweep::Deadline;
use crate::App;
use crate::domain::{ApiError, LifecycleEvent};
use crate::store::{EventSink, keys};

/// Outbox entries read per shard per query.
const PAGE: usize = 100;

/// What one drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainReport {
    /// Events the sink accepted (and taken out of the outbox).
    pub published: usize,
    /// Events the sink refused one by one; they stay in the outbox.
    pub refused: usize,
    /// `false` when the drain stopped at its deadline or on a failure; the next one continues.
    pub finished: bool,
}

/// Publishes every event in the outbox, shard by shard, oldest first, ten to a call, starting
/// nothing once `deadline` is reached. A sink that fails stops the drain with an error; what it
/// had not accepted stays in the outbox.
pub async fn drain(app: &App, sink: &EventSink, deadline: &dyn Deadline) -> Result<DrainReport, ApiError> {
    let mut report = DrainReport::default();
    // The outbox index is eventually consistent: an entry just taken out may be read again by this
    // run's next query. It is not published twice by one run.
    let mut done: HashSet<String> = HashSet::new();
    for shard in 0..keys::OUTBOX_SHARDS {
        // Continued from the last page's key, so entries refused or left behind never block the
        // rest of the shard.
        let mut start = None;
        loop {
            if deadline.reached() {
                return Ok(report);
            }
            let page = app.store.pending_events(shard, PAGE, start).await?;
            let fresh: Vec<_> = page
                .items
                .into_iter()
                .filter(|a| !done.contains(&a.id))
                .filter_map(|a| LifecycleEvent::of(&a).map(|e| (a, e)))
                .collect();
            for batch in fresh.chunks(crate::store::EVENT_BATCH) {
                if deadline.reached() {
                    return Ok(report);
                }
                let events: Vec<LifecycleEvent> = batch.iter().map(|(_, e)| e.clone()).collect();
                let accepted = sink.publish(&events).await.map_err(ApiError::ServiceUnavailable)?;
                for ((audit, _), ok) in batch.iter().zip(accepted) {
                    done.insert(audit.id.clone());
                    if ok {
                        app.store.mark_published(audit).await?;
                        report.published += 1;
                    } else {
                        report.refused += 1;
                    }
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
    }
    report.finished = true;
    if report.published + report.refused > 0 {
        tracing::info!(?report, "lifecycle events drained");
    }
    Ok(report)
}
