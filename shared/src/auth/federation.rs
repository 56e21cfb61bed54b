//! Workload identity federation: an external OIDC token (a CI job's, a Kubernetes service
//! account's, a cloud workload's) checked against its issuer's published keys.
//!
//! Each issuer's keys are found through its OpenID Connect discovery document
//! (`<issuer>/.well-known/openid-configuration`, whose `issuer` must be the issuer exactly) and
//! cached per container: a known `kid` costs no fetch for [`KEYS_MAX_AGE_SECONDS`]; an unknown one
//! refetches at most once per [`REFETCH_SECONDS`] per issuer. Fetches are `https` only, never to a
//! private, loopback or link-local address (the resolver refuses them, and so does a literal
//! address), follow no redirect, and are bounded in time ([`FETCH_TIMEOUT_SECONDS`]) and size
//! ([`MAX_DOCUMENT_BYTES`]); at most [`MAX_ISSUERS`] issuers are cached. The one exception is the
//! local stack's own development issuer, named by configuration. docs/security.md lists the
//! attacks considered.

use base64::Engine;
use serde_json::{Map, Value};

use super::tokens::LEEWAY_SECONDS;
use crate::domain::{GrantRefusal, Timestamp};

/// A known `kid` is served from the container's copy of the issuer's keys this long, then read again.
pub const KEYS_MAX_AGE_SECONDS: i64 = 3600;
/// An unknown `kid` makes the container refetch its issuer's keys at most this often.
pub const REFETCH_SECONDS: i64 = 60;
/// After a failed fetch, the issuer is not fetched again for this long.
pub const FAILED_FETCH_RETRY_SECONDS: i64 = 10;
/// The most issuers whose keys one container holds (the least recently used goes first).
pub const MAX_ISSUERS: usize = 100;
/// The largest discovery document or key set read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The time one fetch (connect, request, body) may take.
pub const FETCH_TIMEOUT_SECONDS: u64 = 3;
/// The largest subject token read.
pub const MAX_SUBJECT_TOKEN_BYTES: usize = 16 * 1024;
/// A subject token issued longer ago than this is refused, whatever its `exp`.
pub const MAX_SUBJECT_TOKEN_AGE_SECONDS: i64 = 3600;
/// The most `aud` values of a subject token that are looked up.
pub const MAX_SUBJECT_AUDIENCES: usize = 5;

/// The signature algorithms a subject token may use: asymmetric only (never `none`, never HMAC,
/// whose key would be the issuer's public key).
pub const ALLOWED_ALGORITHMS: [&str; 9] =
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// A subject token read but not yet verified: what finding its trust needs.
#[derive(Debug, Clone)]
pub struct Peeked {
    /// The header's `alg`, as written.
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    pub issuer: String,
    pub subject: String,
    /// Its `aud`: one string or a list (the first [`MAX_SUBJECT_AUDIENCES`]).
    pub audiences: Vec<String>,
}

fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Reads a subject token without verifying it: three segments, a JSON header and claims, and the
/// claims `iss`, `sub` and `aud` present (`exp` and `iat` are checked after the signature).
pub fn peek(token: &str) -> Result<Peeked, GrantRefusal> {
    if token.len() > MAX_SUBJECT_TOKEN_BYTES {
        return Err(GrantRefusal::MalformedToken);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(GrantRefusal::MalformedToken);
    };
    let header = decode_segment(header).ok_or(GrantRefusal::MalformedToken)?;
    let claims = decode_segment(payload).ok_or(GrantRefusal::MalformedToken)?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(GrantRefusal::MalformedToken)?.to_string();
    let kid = header.get("kid").and_then(Value::as_str).map(String::from);
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
    let issuer = text("iss").ok_or(GrantRefusal::MalformedToken)?;
    let subject = text("sub").ok_or(GrantRefusal::MalformedToken)?;
    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(auds)) => {
            auds.iter().filter_map(Value::as_str).take(MAX_SUBJECT_AUDIENCES).map(String::from).collect()
        }
        _ => Vec::new(),
    };
    if audiences.is_empty() || subject.len() > 1024 {
        return Err(GrantRefusal::MalformedToken);
    }
    Ok(Peeked { alg, kid, claims, issuer, subject, audiences })
}

/// `exp` (required; 30 s leeway), `nbf` and `iat` (not in the future beyond the leeway), and `iat`
/// (required) no older than [`MAX_SUBJECT_TOKEN_AGE_SECONDS`], on the service's clock.
pub fn check_times(claims: &Map<String, Value>, now: Timestamp) -> Result<(), GrantRefusal> {
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    let (Some(exp), Some(iat)) = (time("exp"), time("iat")) else { return Err(GrantRefusal::MalformedToken) };
    let now = now.unix();
    if exp + LEEWAY_SECONDS <= now {
        return Err(GrantRefusal::TokenExpired);
    }
    if iat > now + LEEWAY_SECONDS || time("nbf").is_some_and(|nbf| nbf > now + LEEWAY_SECONDS) {
        return Err(GrantRefusal::TokenNotYetValid);
    }
    if iat < now - MAX_SUBJECT_TOKEN_AGE_SECONDS {
        return Err(GrantRefusal::TokenTooOld);
    }
    Ok(())
}

mod fetch;
#[cfg(test)]
mod tests;

pub use fetch::{FetchPolicy, Issuers, is_public};
