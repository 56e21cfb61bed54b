//! Builds the API Gateway HTTP API (payload 2.0) event a Lambda would receive; the server parses it
//! with `lambda_http` itself, so handlers see exactly what they see on AWS.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::template::Route;

/// An HTTP request as the local stack or a test received it.
#[derive(Clone, Debug, Default)]
pub struct IncomingRequest {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    /// Header names as sent; API Gateway lower-cases them and joins repeats with commas.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
}

/// The v2 event for `incoming` on `route`, as JSON.
pub fn event_json(route: &Route, params: &[(String, String)], incoming: &IncomingRequest) -> Value {
    let mut headers = Map::new();
    for (name, value) in &incoming.headers {
        let name = name.to_ascii_lowercase();
        let joined = match headers.get(&name).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.clone(),
        };
        headers.insert(name, Value::String(joined));
    }
    let mut query = Map::new();
    for (name, value) in form_urlencoded::parse(incoming.query.as_bytes()) {
        let joined = match query.get(name.as_ref()).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.into_owned(),
        };
        query.insert(name.into_owned(), Value::String(joined));
    }
    let path_params: Map<String, Value> = params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let (body, is_base64) = match std::str::from_utf8(&incoming.body) {
        _ if incoming.body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (Value::String(base64::engine::general_purpose::STANDARD.encode(&incoming.body)), true),
    };
    let now = time::OffsetDateTime::now_utc();
    let request_id = ulid::Ulid::new().to_string();
    json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": incoming.path,
        "rawQueryString": incoming.query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "pathParameters": if path_params.is_empty() { Value::Null } else { Value::Object(path_params) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": incoming.method.to_ascii_uppercase(),
                "path": incoming.path,
                "protocol": "HTTP/1.1",
                "sourceIp": incoming.source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
            },
            "requestId": request_id,
            "routeKey": route.key(),
            "stage": "$default",
            "time": now.format(time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000")).unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}
