//! Leak reports: a secret scanner (GitHub's partner programme, or any scanner speaking its format)
//! reports strings found in public places. Each that is one of our credentials is labelled
//! `true_positive`; if it is live it is revoked at once, with the principal's access tokens issued
//! until now (audited as `system:leak-report` with the URL, published as `credential.leaked`).
//! Anything else is `false_positive`. A malformed key (its checksum wrong) is answered before any
//! read; an unknown or wrong one after one read and no write. Tokens are answered by their SHA-256,
//! never echoed.

use futures::StreamExt;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::credentials::{self, FoundAt};
use crate::App;
use crate::auth::ApiKey;
use crate::domain::{ApiError, AuthFailure, FieldError};

/// Tokens one report may carry.
pub const MAX_TOKENS: usize = 1000;
/// Largest report body accepted.
pub const MAX_REPORT_BYTES: usize = 1024 * 1024;
/// Tokens checked at once (each a read and an argon2 verification).
const CONCURRENCY: usize = 8;

/// One reported string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedToken {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: String,
    pub url: String,
    pub source: String,
}

/// A scanner's label of one reported string (GitHub's feedback format, by hash).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Label {
    /// The string's SHA-256, lower-case hex.
    pub token_hash: String,
    pub token_type: String,
    /// `true_positive` (one of our credentials, live or not) or `false_positive`.
    pub label: &'static str,
}

/// Checks the report's signature against the configured scanner's keys: 401 `invalid_signature`
/// for a missing, unknown or wrong one (and when no scanner is configured).
pub async fn verify_signature(
    app: &App,
    key_id: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let refused = ApiError::Unauthenticated(AuthFailure::InvalidSignature);
    let (Some(scanner), Some(key_id), Some(signature)) = (&app.scanner, key_id, signature) else {
        return Err(refused);
    };
    scanner.verify(key_id, signature, body, app.clock.now()).await
}

/// Labels every reported string, revoking the live credentials among them. The report must have
/// been verified ([`verify_signature`]).
pub async fn process(app: &App, report: Vec<ReportedToken>, request_id: &str) -> Result<Vec<Label>, ApiError> {
    if report.len() > MAX_TOKENS {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            "",
            format!("a report carries at most {MAX_TOKENS} tokens; send the rest in another"),
        )]));
    }
    futures::stream::iter(report)
        .map(|reported| async move {
            let ours = check(app, &reported, request_id).await?;
            Ok(Label {
                token_hash: hex(&Sha256::digest(reported.token.as_bytes())),
                token_type: reported.token_type,
                label: if ours { "true_positive" } else { "false_positive" },
            })
        })
        .buffered(CONCURRENCY)
        .collect::<Vec<Result<Label, ApiError>>>()
        .await
        .into_iter()
        .collect()
}

/// `true` when `reported` is one of our credentials (its secret verifies); revokes it if live.
async fn check(app: &App, reported: &ReportedToken, request_id: &str) -> Result<bool, ApiError> {
    let Ok(key) = ApiKey::parse(reported.token.trim()) else { return Ok(false) };
    let Some(record) = app.store.get_credential(key.key_id()).await? else { return Ok(false) };
    let hasher = app.hasher().await?;
    if !hasher.verify(&key, record.secret_hash.expose_secret()) {
        return Ok(false);
    }
    let found = FoundAt { url: reported.url.clone(), source: reported.source.clone() };
    let revoked = credentials::revoke_leaked(app, key.key_id(), &found, request_id).await?;
    tracing::warn!(
        request_id,
        key_id = %key.key_id(),
        org_id = %record.org_id,
        revoked,
        url = reported.url,
        "leak report: one of our credentials was found in public"
    );
    Ok(true)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
