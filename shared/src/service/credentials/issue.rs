//! Issuing a credential: its key shown once, a place under the cap held by the write's condition.

use serde::Deserialize;
use serde_json::json;

use super::{Issued, new_record, principal_with_room, resource};
use crate::App;
use crate::auth::ApiKey;
use crate::domain::{Actor, ApiError, AuditEvent, Name, OrgId, PrincipalId, Timestamp};
use crate::service::{Validation, Written, until_written};

/// `POST .../credentials`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueCredential {
    pub name: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl IssueCredential {
    /// The body's field checks, every problem named at once; no I/O.
    pub fn check(&self, now: Timestamp) -> Result<NewCredential, ApiError> {
        let mut v = Validation::default();
        let (name, expires_at) = (v.name("name", &self.name), v.expiry(self.expires_at.as_deref(), now));
        v.finish()?;
        Ok(NewCredential { name: name.expect("validated"), expires_at })
    }
}

/// A checked [`IssueCredential`].
#[derive(Debug)]
pub struct NewCredential {
    pub name: Name,
    pub expires_at: Option<Timestamp>,
}

/// Issues a credential to a principal that is not Revoked and holds fewer Active credentials than
/// the org's cap. The cap is a condition of the write, so it holds under concurrent issuance.
pub async fn issue(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    input: IssueCredential,
    request_id: &str,
) -> Result<Issued, ApiError> {
    let now = app.clock.now();
    let NewCredential { name, expires_at } = input.check(now)?;
    // The org's lifetime policy and cap, read through the settings cache (≤ 60 s old).
    let settings = app.org_settings(org).await?;
    settings.check_lifetime(expires_at, now)?;
    let cap = settings.credential_cap();
    let generated = ApiKey::generate();
    let secret_hash = app.hasher().await?.hash(&generated.key).map_err(ApiError::Internal)?;

    // Each attempt reads these; one marks lapsed credentials at most once (an atomic: the
    // attempts' futures are Send).
    let (name, generated, secret_hash) = (&name, &generated, &secret_hash);
    let expired_lapsed = &std::sync::atomic::AtomicBool::new(false);
    until_written(|| async move {
        let Some(principal) = principal_with_room(app, org, principal_id, cap, now, request_id, expired_lapsed).await?
        else {
            return Ok(Written::Retry);
        };
        let record = new_record(generated, secret_hash, &principal, name.clone(), expires_at, now);
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:credentials:issue",
            resource(principal_id, &record.credential.id),
            now,
            request_id,
            json!({"name": record.credential.name, "expiresAt": expires_at}),
        );
        // The principal changed, was revoked, or reached the cap meanwhile: decide again from a fresh read.
        Written::of(
            app.store.issue_credential(&record, &principal, cap, &audit).await,
            Issued { credential: record.credential, api_key: generated.full.clone() },
        )
    })
    .await
}
