//! Successful JSON responses, and the builder every API answer starts from.

use lambda_http::{Body, Response};
use serde::Serialize;

/// The headers every API answer carries, whatever its status or body. `nosniff`: a browser must
/// take a JSON or problem+json body for what its `Content-Type` says, never sniff it into
/// something it would render or run (a field echoed back could otherwise become markup).
pub const SECURITY_HEADERS: [(&str, &str); 1] = [("x-content-type-options", "nosniff")];

/// A response builder with `status` and the [`SECURITY_HEADERS`]: every response the functions
/// answer (JSON, problem+json, CSV, empty) is built from it, so none can leave them out.
pub fn builder(status: u16) -> http::response::Builder {
    SECURITY_HEADERS
        .iter()
        .fold(Response::builder().status(status), |builder, (name, value)| builder.header(*name, *value))
}

/// `status` with `value` as JSON.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    json_with(status, value, &[])
}

/// `status` with `value` as JSON and extra headers.
pub fn json_with<T: Serialize>(status: u16, value: &T, headers: &[(&str, String)]) -> Response<Body> {
    let mut builder = builder(status).header("content-type", "application/json");
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
    builder(204).body(Body::Empty).expect("valid response parts")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nosniff(response: &Response<Body>) -> Option<&str> {
        response.headers().get("x-content-type-options").and_then(|v| v.to_str().ok())
    }

    #[test]
    fn every_kind_of_answer_carries_nosniff() {
        let value = serde_json::json!({"a": 1});
        assert_eq!(nosniff(&json(200, &value)), Some("nosniff"));
        assert_eq!(nosniff(&json_with(201, &value, &no_store())), Some("nosniff"));
        assert_eq!(nosniff(&no_content()), Some("nosniff"));
        assert_eq!(nosniff(&builder(200).body(Body::Empty).unwrap()), Some("nosniff"));
    }
}
