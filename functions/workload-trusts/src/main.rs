//! Lambda entry point: build the App once, then serve requests with it.

use lambda_http::{Error, run, service_fn};

#[tokio::main(flavor = "current_thread")] // one invocation at a time: no worker threads to start or wake
async fn main() -> Result<(), Error> {
    // SAFETY: first thing in main, on a current-thread runtime: the process has one thread.
    unsafe { shared::store::tls::prefer_bundle_file() };
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    let app = &app;
    run(service_fn(move |req| async move { Ok::<_, Error>(workload_trusts::handle(app, req).await) })).await
}
