//! The cold-start cost of the one Secrets Manager read a function must make, as a function pays
//! it: the hello-world of `hello_lambda.rs` on the current-thread runtime the functions use, with
//! the functions' own SDK configuration, HTTPS client (`shared::store::sdk`) and secret store built
//! before its first invocation, which then reads one secret (`SECRET_ID`, stage `AWSCURRENT`) and
//! answers. Without `SECRET_ID` it builds all the same and answers without reading.
//!
//! Used by `benches/cold_start.rs`, which subtracts cold starts run side by side:
//! - with the read less without it: the first read of a cold process whose SDK is loaded and built
//!   (the CA bundle parsed, the connection opened, the request made and its answer parsed);
//! - with the read less the current-thread hello-world: all the read adds to a cold function,
//!   the SDK's code loaded and its client built as well.
//!
//! As an example of `local-stack` it is built with that crate's dev-dependencies, so with
//! `shared`'s `test-util` feature (a manual clock and test fixtures, nothing on the read's path);
//! the functions are built without it.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

fn main() -> Result<(), Error> {
    // SAFETY: first thing in main, before any thread starts (as every function does).
    unsafe { shared::store::tls::prefer_bundle_file() };
    let secret_id = std::env::var("SECRET_ID").ok().filter(|id| !id.is_empty());
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let sdk = shared::store::sdk::config().await;
        let secrets = shared::store::SecretStore::new(aws_sdk_secretsmanager::Client::new(&sdk));
        let (secrets, secret_id) = (&secrets, secret_id.as_deref());
        run(service_fn(move |_req: Request| async move {
            let length = match secret_id {
                Some(id) => secrets.read(id, Some("AWSCURRENT")).await?.len(),
                None => 0,
            };
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(format!(r#"{{"length":{length}}}"#)))
                .map_err(Error::from)
        }))
        .await
    })
}
