//! The expiry sweep, run on a schedule (EventBridge, every 15 minutes): see `shared::service::sweep`.

use shared::App;
use shared::service::sweep::{self, Deadline, SweepReport};

/// One scheduled run, starting nothing once `deadline` (the invocation's, in Lambda) is reached.
pub async fn handle(app: &App, deadline: &dyn Deadline, request_id: &str) -> Result<SweepReport, shared::ApiError> {
    sweep::run(app, deadline, request_id).await
}
