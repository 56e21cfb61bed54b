//! Leak reports: a secret scanner (GitHub's partner programme, or any scanner speaking its format)
//! reports strings found in public places. Each entry is read on its own: one that cannot be read
//! is left unlabelled and never stops the others. Each readable string that is one of our
//! credentials is labelled `true_positive`; if it is live it is revoked at once, with the
//! principal's access tokens issued until now (audited as `system:leak-report` with the URL,
//! published as `credential.leaked`). Anything else is `false_positive`. A string reported many
//! times is judged once. A malformed key (its checksum wrong) is answered before any read; an
//! unknown or wrong one after one read and no write. Tokens are answered by their SHA-256, never
//! echoed.

use std::collections::HashMap;

use futures::StreamExt;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::credentials::{self, FoundAt};
use crate::App;
use crate::auth::ApiKey;
use crate::domain::{ApiError, AuthFailure, FieldError, KeyId, OrgId, PrincipalId};

/// Entries one report may carry.
pub const MAX_TOKENS: usize = 1000;
/// Largest report body accepted.
pub const MAX_REPORT_BYTES: usize = 1024 * 1024;
/// Distinct strings judged at once (each a read and an argon2 verification), and principals whose
/// keys are revoked at once (each revocation a read and a transaction). It bounds how long the
/// largest report takes: docs/operations.md, Leaked keys.
pub const CONCURRENCY: usize = 16;
/// The response header listing the positions (from 0) of the entries that could not be read.
pub const UNREADABLE_HEADER: &str = "unreadable-entries";

/// One readable entry of a report: an object whose `token` and `type` are strings. `url` and
/// `source` are kept when they are strings (GitHub sends payloads with and without `source`);
/// any other field is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedToken {
    pub token: String,
    pub token_type: String,
    pub url: Option<String>,
    pub source: Option<String>,
}

impl ReportedToken {
    /// Reads one entry of a report; `None` when it is not an object with a string `token` and a
    /// string `type` (a bare string, `null`, a number as the token, ...).
    pub fn read(entry: &Value) -> Option<Self> {
        let text = |field: &str| entry.get(field).and_then(Value::as_str).map(str::to_owned);
        Some(Self { token: text("token")?, token_type: text("type")?, url: text("url"), source: text("source") })
    }
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

/// The answer to a report.
#[derive(Debug)]
pub struct Judged {
    /// One label per readable entry, in the report's order.
    pub labels: Vec<Label>,
    /// The positions (from 0) of the entries that could not be read: they have no label.
    pub unreadable: Vec<usize>,
}

/// One of our credentials, its secret verified.
#[derive(Clone)]
struct Ours {
    key_id: KeyId,
    org_id: OrgId,
    principal_id: PrincipalId,
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

/// Labels every readable entry of `report`, revoking the live credentials among them. The report
/// must have been verified ([`verify_signature`]). Each distinct string (leading and trailing
/// space aside) is judged once, `CONCURRENCY` at a time; then the credentials found are revoked,
/// one principal's after another (each revocation updates its principal, so concurrent ones would
/// conflict) and `CONCURRENCY` principals at a time. A failed read or write does not stop the
/// other entries: every revocation that can be made is made, then the first failure is answered
/// (the scanner sends the report again; revoking is idempotent).
pub async fn process(app: &App, report: Vec<Value>, request_id: &str) -> Result<Judged, ApiError> {
    if report.len() > MAX_TOKENS {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            "",
            format!("a report carries at most {MAX_TOKENS} entries; send the rest in another"),
        )]));
    }
    let mut readable = Vec::with_capacity(report.len());
    let mut unreadable = Vec::new();
    for (position, entry) in report.iter().enumerate() {
        match ReportedToken::read(entry) {
            Some(reported) => readable.push(reported),
            None => unreadable.push(position),
        }
    }

    // Each distinct string once, with the entry that first names it (its URL is the one audited).
    // (Owned values throughout: the futures below are spawned by the runtime, `Send + 'static`
    // apart from the App they borrow.)
    let mut distinct: Vec<usize> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    let judged_as: Vec<usize> = readable
        .iter()
        .enumerate()
        .map(|(position, reported)| {
            *index_of.entry(reported.token.trim().to_string()).or_insert_with(|| {
                distinct.push(position);
                distinct.len() - 1
            })
        })
        .collect();
    // Counts only: an unreadable entry may hold a secret too.
    tracing::info!(
        request_id,
        entries = report.len(),
        unreadable = unreadable.len(),
        distinct = distinct.len(),
        "leak report read"
    );

    let mut failure: Option<ApiError> = None;
    let tokens: Vec<String> = distinct.iter().map(|&i| readable[i].token.trim().to_string()).collect();
    let verdicts: Vec<Option<Ours>> = futures::stream::iter(tokens)
        .map(|token| async move { judge(app, &token).await })
        .buffered(CONCURRENCY)
        .collect::<Vec<Result<Option<Ours>, ApiError>>>()
        .await
        .into_iter()
        .map(|verdict| match verdict {
            Ok(found) => found,
            Err(err) => {
                failure = failure.take().or(Some(err));
                None
            }
        })
        .collect();

    let mut groups: Vec<Vec<(Ours, ReportedToken)>> = Vec::new();
    let mut group_of: HashMap<(OrgId, PrincipalId), usize> = HashMap::new();
    for (found, &position) in verdicts.iter().zip(&distinct) {
        let Some(found) = found else { continue };
        // Every key of one principal in one group, Active or not: each revocation, and each end of
        // tokens for a key that ended recently, writes the principal item, so they take turns.
        let group = *group_of.entry((found.org_id.clone(), found.principal_id.clone())).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push((found.clone(), readable[position].clone()));
    }
    let revoked: Vec<Result<(), ApiError>> = futures::stream::iter(groups)
        .map(|group| async move {
            let mut outcome = Ok(());
            for (found, reported) in group {
                outcome = outcome.and(revoke(app, &found, &reported, request_id).await);
            }
            outcome
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    if let Some(err) = failure.or_else(|| revoked.into_iter().find_map(Result::err)) {
        return Err(err);
    }

    let labels = readable
        .iter()
        .zip(judged_as)
        .map(|(reported, index)| Label {
            token_hash: hex(&Sha256::digest(reported.token.as_bytes())),
            token_type: reported.token_type.clone(),
            label: if verdicts[index].is_some() { "true_positive" } else { "false_positive" },
        })
        .collect();
    Ok(Judged { labels, unreadable })
}

/// `Some` when `token` is one of our credentials (its secret verifies), live or not.
async fn judge(app: &App, token: &str) -> Result<Option<Ours>, ApiError> {
    let Ok(key) = ApiKey::parse(token) else { return Ok(None) };
    let Some(record) = app.store.get_credential(key.key_id()).await? else { return Ok(None) };
    let hasher = app.hasher().await?;
    if !hasher.verify(&key, record.secret_hash.expose_secret()) {
        return Ok(None);
    }
    Ok(Some(Ours { key_id: key.key_id().clone(), org_id: record.org_id, principal_id: record.credential.principal_id }))
}

/// Revokes one of our credentials found in public, if it is live. A report that leaves out `url`
/// or `source` has them audited and published as empty strings.
async fn revoke(app: &App, found: &Ours, reported: &ReportedToken, request_id: &str) -> Result<(), ApiError> {
    let at =
        FoundAt { url: reported.url.clone().unwrap_or_default(), source: reported.source.clone().unwrap_or_default() };
    let revoked = credentials::revoke_leaked(app, &found.key_id, &at, request_id).await?;
    tracing::warn!(
        request_id,
        key_id = %found.key_id,
        org_id = %found.org_id,
        revoked,
        url = at.url.as_str(),
        "leak report: one of our credentials was found in public"
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_entry_is_read_when_its_token_and_type_are_strings_whatever_else_it_holds() {
        let read = |entry: Value| ReportedToken::read(&entry);
        let whole = read(json!({"token": "ik_x", "type": "t", "url": "https://u", "source": "content"})).unwrap();
        assert_eq!(
            whole,
            ReportedToken {
                token: "ik_x".into(),
                token_type: "t".into(),
                url: Some("https://u".into()),
                source: Some("content".into()),
            }
        );
        let bare = read(json!({"token": "ik_x", "type": "t", "extra": [1, 2]})).unwrap();
        assert_eq!((bare.url, bare.source), (None, None), "no url, no source, an unknown field");
        let odd = read(json!({"token": "ik_x", "type": "t", "url": 5, "source": null})).unwrap();
        assert_eq!((odd.url, odd.source), (None, None), "a url or source that is no string is left out");
        for unreadable in [
            json!("ik_x"),
            Value::Null,
            json!(5),
            json!([{"token": "ik_x", "type": "t"}]),
            json!({"token": 5, "type": "t", "url": "u"}),
            json!({"token": "ik_x", "url": "u"}),
            json!({"type": "t", "url": "u"}),
            json!({"token": "ik_x", "type": null}),
        ] {
            assert_eq!(read(unreadable.clone()), None, "{unreadable}");
        }
    }
}
