//! Lambda entry point: build the App once, then sweep on every scheduled event.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use shared::service::sweep::InvocationDeadline;

#[tokio::main(flavor = "current_thread")] // one invocation at a time: no worker threads to start or wake
async fn main() -> Result<(), Error> {
    // SAFETY: first thing in main, on a current-thread runtime: the process has one thread.
    unsafe { shared::store::tls::prefer_bundle_file() };
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = InvocationDeadline(event.context.deadline());
        let report = expiry_sweep::handle(app, &deadline, &event.context.request_id).await.map_err(|err| {
            // Logged once, with its cause (`internal error: …: the SDK's reason`), not just its title.
            let text = format!("{:#}", shared::anyhow::Error::new(err));
            tracing::error!(request_id = event.context.request_id, error = text, "expiry sweep failed");
            Error::from(text)
        })?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
