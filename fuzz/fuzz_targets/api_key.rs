//! The API-key parser and the Authorization header reader, on any bytes a client can send.
//! Properties: nothing panics; a key that parses is exactly `ik_<20 × [0-9a-z]>.<38 × base62>`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::auth::{ApiKey, Presented, presented};

fn check(text: &str) {
    if let Ok(key) = ApiKey::parse(text) {
        let id = key.key_id().to_string();
        assert!(id.len() == 20 && id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()), "{id:?}");
        assert_eq!(text.len(), 3 + 20 + 1 + 38, "{text:?}");
        assert_eq!(&text[3..23], id);
        assert!(text[24..].bytes().all(|b| b.is_ascii_alphanumeric()), "{text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value);
        match presented(&headers) {
            Ok(Presented::ApiKey(key)) => check(&key),
            Ok(Presented::Bearer(token)) => {
                let _ = shared::auth::unverified_issuer(&token);
            }
            Err(failure) => assert_eq!(failure.code(), "missing_credentials"),
        }
    }
});
