//! Successful JSON responses.

use lambda_http::{Body, Response};
use serde::Serialize;

/// `status` with `value` as JSON.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    json_with(status, value, &[])
}

/// `status` with `value` as JSON and extra headers.
pub fn json_with<T: Serialize>(status: u16, value: &T, headers: &[(&str, String)]) -> Response<Body> {
    let mut builder = Response::builder().status(status).header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let body = serde_json::to_string(value).expect("response bodies serialise");
    builder.body(Body::Text(body)).expect("valid response parts")
}

/// Headers for a response that carries a secret: no cache may keep it.
pub fn no_store() -> [(&'static str, String); 2] {
    [("cache-control", "no-store".into()), ("pragma", "no-cache".into())]
}

/// `ETag: "<version>"`.
pub fn etag(version: u64) -> (&'static str, String) {
    ("etag", format!("\"{version}\""))
}

/// 204 No Content.
pub fn no_content() -> Response<Body> {
    Response::builder().status(204).body(Body::Empty).expect("valid response parts")
}
