//! The expiry sweep, run on a schedule (EventBridge, every 15 minutes): see `shared::service::sweep`.

use std::time::SystemTime;

use shared::App;
use shared::service::sweep::{self, SweepReport};

/// One scheduled run, stopping before `deadline` (the invocation's).
pub async fn handle(app: &App, deadline: SystemTime, request_id: &str) -> Result<SweepReport, shared::ApiError> {
    sweep::run(app, deadline, request_id).await
}
