//! The cold-start baseline: the smallest `lambda_http` function (no SDK, no configuration), built
//! with the same profile and the same `lambda_http` features as the real functions.
//! Used by `benches/cold_start.rs`. It runs on tokio's multi-threaded runtime, as `#[tokio::main]`
//! gives a hello-world, or, with `HELLO_CURRENT_THREAD` set, on the current-thread runtime the
//! functions use.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

fn main() -> Result<(), Error> {
    let mut runtime = match std::env::var_os("HELLO_CURRENT_THREAD") {
        Some(_) => tokio::runtime::Builder::new_current_thread(),
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().build()?.block_on(run(service_fn(|_req: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"hello":"world"}"#))
            .map_err(Error::from)
    })))
}
