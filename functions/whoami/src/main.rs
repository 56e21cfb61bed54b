//! Lambda entry point: build the App once (without the keys: it verifies nothing), then serve.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = shared::App::from_env_without_keys().await?;
    let app = &app;
    run(service_fn(move |req| async move { Ok::<_, Error>(whoami::handle(app, req).await) })).await
}
