//! The cold-start baseline: the smallest `lambda_http` function (no SDK, no configuration), built
//! with the same profile and the same `lambda_http` features as the real functions.
//! Used by `benches/cold_start.rs`.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"hello":"world"}"#))
            .map_err(Error::from)
    }))
    .await
}
