//! JSON request bodies: size, media type, syntax, then shape — each with its own error.

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::{ApiError, FieldError};

/// Bodies above this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A PATCH field: absent (leave it), `null` (clear it) or a value (set it).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Null,
            Some(v) => Self::Value(v),
        })
    }
}

/// An optional integer as JSON (and JSON Schema) counts one: `900` or `900.0`, not `900.5`.
pub fn json_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    number
        .as_i64()
        .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15).map(|f| f as i64))
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid value: {number}, expected an integer in range")))
}

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
    let raw = bytes(req.body());
    if raw.len() > MAX_BODY_BYTES {
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
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::MalformedJson(format!("line {} column {}", e.line(), e.column())))?;
    if !value.is_object() {
        return Err(ApiError::InvalidRequest(vec![FieldError::new("", "the body must be a JSON object")]));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        ApiError::InvalidRequest(vec![field_error(&path, &message)])
    })
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
    fn unknown_and_missing_fields_name_the_field() {
        assert_eq!(field_error(".", "unknown field `colour`, expected one of `name`").field, "colour");
        assert_eq!(field_error("colour", "unknown field `colour`, expected one of `name`").field, "colour");
        assert_eq!(field_error(".", "missing field `name`").field, "name");
        assert_eq!(field_error("expiresAt", "must be an RFC 3339 timestamp").field, "expiresAt");
    }
}
