//! JSON request bodies: size, media type, syntax, then shape — each with its own error.

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::{ApiError, FieldError};
pub use crate::domain::{Patch, json_integer};

/// Bodies above this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The request body's bytes (API Gateway's base64 already decoded by lambda_http).
pub fn request_bytes(req: &Request) -> &[u8] {
    bytes(req.body())
}

fn bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Parses the body as `T` (which should `deny_unknown_fields`).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let value = json_value(req, MAX_BODY_BYTES)?;
    if !value.is_object() {
        return Err(ApiError::InvalidRequest(vec![FieldError::new("", "the body must be a JSON object")]));
    }
    shaped(value)
}

/// Parses the body, of at most `max_bytes`, as a JSON array of `T` (a leak report).
pub fn json_list<T: DeserializeOwned>(req: &Request, max_bytes: usize) -> Result<Vec<T>, ApiError> {
    let value = json_value(req, max_bytes)?;
    if !value.is_array() {
        return Err(ApiError::InvalidRequest(vec![FieldError::new("", "the body must be a JSON array")]));
    }
    shaped(value)
}

fn shaped<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        ApiError::InvalidRequest(vec![field_error(&path, &message)])
    })
}

/// The body as JSON: its size, media type and syntax checked.
fn json_value(req: &Request, max_bytes: usize) -> Result<serde_json::Value, ApiError> {
    let raw = bytes(req.body());
    if raw.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge);
    }
    if let Some(content_type) = req.headers().get("content-type") {
        let media =
            content_type.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if media != "application/json" && !media.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson("the body is empty; send a JSON object".into()));
    }
    // Syntax first, so that malformed JSON is never reported as a field error.
    let value = strict_json(raw).map_err(|e| match e.classify() {
        // A duplicate key: its message names the key.
        serde_json::error::Category::Data => ApiError::MalformedJson(e.to_string()),
        _ => ApiError::MalformedJson(format!("line {} column {}", e.line(), e.column())),
    })?;
    Ok(value)
}

/// Parses JSON refusing duplicate object keys (at any depth). serde_json keeps the last of
/// duplicates, while a proxy, a WAF or a log may read the first: the same request would then mean
/// two different things (RFC 8259 §4 leaves it open; RFC 7493 I-JSON forbids them).
pub fn strict_json(raw: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(raw).map(|s| s.0)
}

struct Strict(serde_json::Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

/// Names the offending field: serde reports unknown and missing fields in the message, and the
/// value errors at the path.
fn field_error(path: &str, message: &str) -> FieldError {
    let quoted = message.split('`').nth(1).unwrap_or_default();
    let parent = if path == "." { String::new() } else { format!("{path}.") };
    if message.starts_with("unknown field") {
        // serde_path_to_error's path already ends at the unknown field.
        let field = if path.ends_with(quoted) { path.to_string() } else { format!("{parent}{quoted}") };
        FieldError::new(field, "is not a known field")
    } else if message.starts_with("missing field") {
        FieldError::new(format!("{parent}{quoted}"), "is required")
    } else {
        let message = message.split(" at line ").next().unwrap_or(message);
        FieldError::new(path, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Numbers {
        #[serde(default, deserialize_with = "json_integer")]
        n: Option<i64>,
    }

    #[test]
    fn integers_are_what_json_schema_counts_as_integers() {
        let n = |text: &str| serde_json::from_str::<Numbers>(text).map(|v| v.n);
        assert_eq!(n(r#"{"n": 900}"#).unwrap(), Some(900));
        assert_eq!(n(r#"{"n": 900.0}"#).unwrap(), Some(900), "found by Schemathesis");
        assert_eq!(n(r#"{"n": -1e3}"#).unwrap(), Some(-1000));
        assert_eq!(n(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(n("{}").unwrap(), None);
        for refused in [r#"{"n": 900.5}"#, r#"{"n": 1e300}"#, r#"{"n": "900"}"#, r#"{"n": true}"#] {
            assert!(n(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth_and_named() {
        let err = strict_json(br#"{"status":"Suspended","status":"Active"}"#).unwrap_err();
        assert!(err.to_string().starts_with(r#"duplicate key "status""#), "{err}");
        assert!(strict_json(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
        assert!(strict_json(br#"{"a":{"b":1},"c":{"b":2}}"#).is_ok(), "the same key in two objects is fine");
        let same = br#"{"n":[1,-2,3.5,1e3,null,true,"x\u00e9"],"o":{}}"#;
        assert_eq!(strict_json(same).unwrap(), serde_json::from_slice::<serde_json::Value>(same).unwrap());
    }

    #[test]
    fn unknown_and_missing_fields_name_the_field() {
        assert_eq!(field_error(".", "unknown field `colour`, expected one of `name`").field, "colour");
        assert_eq!(field_error("colour", "unknown field `colour`, expected one of `name`").field, "colour");
        assert_eq!(field_error(".", "missing field `name`").field, "name");
        assert_eq!(field_error("expiresAt", "must be an RFC 3339 timestamp").field, "expiresAt");
    }
}
