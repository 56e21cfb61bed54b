//! Where lifecycle events are published: an EventBridge bus (deployed), or a JSON-lines file (the
//! local stack's `.local/events.jsonl`, and the tests' own files). Either way an event is written
//! in EventBridge's envelope, `detail` being the [`LifecycleEvent`].

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::domain::LifecycleEvent;

/// EventBridge's `source` of every event.
pub const SOURCE: &str = "iam";
/// PutEvents takes at most this many entries.
pub const BATCH: usize = 10;

/// A destination for lifecycle events.
#[derive(Clone, Debug)]
pub enum EventSink {
    /// `PutEvents` on the bus.
    EventBridge { client: aws_sdk_eventbridge::Client, bus: String },
    /// Appends one JSON line per event (EventBridge's envelope) to the file.
    File(PathBuf),
}

impl EventSink {
    /// `EVENTS_FILE` (a local file) if set, else the bus `EVENT_BUS_NAME` with the container's SDK
    /// configuration ([`super::sdk::config`]).
    pub async fn from_env() -> anyhow::Result<Self> {
        if let Ok(path) = std::env::var("EVENTS_FILE") {
            return Ok(Self::File(path.into()));
        }
        let bus = std::env::var("EVENT_BUS_NAME").context("EVENT_BUS_NAME is not set")?;
        let sdk = super::sdk::config().await;
        Ok(Self::EventBridge { client: aws_sdk_eventbridge::Client::new(&sdk), bus })
    }

    /// Publishes up to [`BATCH`] events; returns, for each, whether it was accepted. An error means
    /// none is known to be accepted (they stay in the outbox and are published again).
    pub async fn publish(&self, events: &[LifecycleEvent]) -> anyhow::Result<Vec<bool>> {
        match self {
            Self::EventBridge { client, bus } => {
                let entries = events
                    .iter()
                    .map(|e| {
                        Ok(PutEventsRequestEntry::builder()
                            .event_bus_name(bus)
                            .source(SOURCE)
                            .detail_type(e.facts.event_type.as_str())
                            .detail(serde_json::to_string(e)?)
                            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(e.time.unix()))
                            .build())
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let out = client
                    .put_events()
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| anyhow!(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()))
                    .context("EventBridge PutEvents")?;
                // Entries answer in order; one with an error code was not accepted.
                let accepted: Vec<bool> = out.entries().iter().map(|r| r.error_code().is_none()).collect();
                if accepted.len() != events.len() {
                    return Err(anyhow!("PutEvents answered {} entries for {}", accepted.len(), events.len()));
                }
                Ok(accepted)
            }
            Self::File(path) => {
                use std::io::Write;
                let mut lines = String::new();
                for event in events {
                    lines.push_str(&serde_json::to_string(&envelope(event))?);
                    lines.push('\n');
                }
                // One write of whole lines, appended: concurrent drains interleave lines, never bytes of one.
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("open {}", path.display()))?;
                file.write_all(lines.as_bytes()).with_context(|| format!("append to {}", path.display()))?;
                Ok(vec![true; events.len()])
            }
        }
    }
}

/// An event as EventBridge delivers it to a rule's target.
pub fn envelope(event: &LifecycleEvent) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": event.id,
        "detail-type": event.facts.event_type.as_str(),
        "source": SOURCE,
        "time": event.time,
        "resources": [],
        "detail": event,
    })
}
