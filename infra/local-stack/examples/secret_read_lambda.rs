//! The cold-start cost of the one Secrets Manager read a function must make, as a function pays
//! it: the hello-world of `hello_lambda.rs` on the current-thread runtime the functions use, which
//! on its invocation reads one secret (`SECRET_ID`, stage `AWSCURRENT`) through the functions' own
//! SDK configuration and HTTPS client (`shared::store::sdk`) and secret store, then answers.
//! Used by `benches/cold_start.rs`: its cold start less the current-thread hello-world's is what
//! that read adds to a cold function (the SDK's code loaded, its client built, the CA bundle
//! parsed, the connection opened, the request made and its answer parsed), where the bench's other
//! allowance, a read from an already-connected client, leaves all of that to the function.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

fn main() -> Result<(), Error> {
    // SAFETY: first thing in main, before any thread starts (as every function does).
    unsafe { shared::store::tls::prefer_bundle_file() };
    let secret_id = std::env::var("SECRET_ID")?;
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let sdk = shared::store::sdk::config().await;
        let secrets = shared::store::SecretStore::new(aws_sdk_secretsmanager::Client::new(&sdk));
        let (secrets, secret_id) = (&secrets, secret_id.as_str());
        run(service_fn(move |_req: Request| async move {
            let secret = secrets.read(secret_id, Some("AWSCURRENT")).await?;
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(format!(r#"{{"length":{}}}"#, secret.len())))
                .map_err(Error::from)
        }))
        .await
    })
}
