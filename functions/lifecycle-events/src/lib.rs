//! Publishes lifecycle events, run on a schedule (every minute): drains the outbox that every
//! change writes its event into (see `shared::service::events`).

use shared::App;
use shared::service::events::{self, DrainReport};
use shared::service::sweep::Deadline;
use shared::store::EventSink;

/// One scheduled run, starting nothing once `deadline` (the invocation's, in Lambda) is reached.
pub async fn handle(app: &App, sink: &EventSink, deadline: &dyn Deadline) -> Result<DrainReport, shared::ApiError> {
    events::drain(app, sink, deadline).await
}
