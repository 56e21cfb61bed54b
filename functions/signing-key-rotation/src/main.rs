//! Lambda entry point: Secrets Manager invokes it for each rotation step of the signing keys.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main(flavor = "current_thread")] // one invocation at a time: no worker threads to start or wake
async fn main() -> Result<(), Error> {
    // SAFETY: first thing in main, on a current-thread runtime: the process has one thread.
    unsafe { shared::store::tls::prefer_bundle_file() };
    shared::telemetry::init();
    let sdk = shared::store::sdk::config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let secrets = &secrets;
    let verification = std::env::var("VERIFICATION_KEYS_SECRET_ID")?;
    let verification = verification.as_str();
    run(service_fn(move |event: LambdaEvent<signing_key_rotation::RotationEvent>| async move {
        let now = shared::domain::Timestamp::now();
        signing_key_rotation::handle(secrets, &event.payload, verification, now)
            .await
            .map_err(|e| Error::from(format!("{e:#}")))
    }))
    .await
}
