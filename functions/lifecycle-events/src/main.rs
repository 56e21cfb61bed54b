//! Lambda entry point: build the App and the event sink once, then drain on every scheduled event.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use shared::service::sweep::InvocationDeadline;
use shared::store::EventSink;

#[tokio::main(flavor = "current_thread")] // one invocation at a time: no worker threads to start or wake
async fn main() -> Result<(), Error> {
    // SAFETY: first thing in main, on a current-thread runtime: the process has one thread.
    unsafe { shared::store::tls::prefer_bundle_file() };
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    let sink = EventSink::from_env().await?;
    let (app, sink) = (&app, &sink);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = InvocationDeadline(event.context.deadline());
        let report = lifecycle_events::handle(app, sink, &deadline).await.map_err(|err| {
            let text = format!("{:#}", shared::anyhow::Error::new(err));
            tracing::error!(request_id = event.context.request_id, error = text, "lifecycle events not drained");
            Error::from(text)
        })?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
