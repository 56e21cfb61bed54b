//! Credentials: issue (shown once), list, revoke.

use serde::Deserialize;
use serde_json::json;

use super::{Validation, Written, until_written};
use crate::App;
use crate::auth::ApiKey;
use crate::domain::ApiError;
use crate::domain::{
    Actor, AuditEvent, Credential, CredentialStatus, CredentialStatusFilter, KeyId, Name, OrgId, PrincipalId,
    PrincipalStatus, Timestamp,
};
use crate::store::ListParams;
use crate::store::{CredentialRecord, Invariant, Page, PrincipalState, StoreError};

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

/// A newly issued credential and its key, which is never shown again.
pub struct Issued {
    pub credential: Credential,
    pub api_key: String,
}

/// The resource name of a credential, for authorization and audit.
pub fn resource(principal: &PrincipalId, key_id: &KeyId) -> String {
    format!("iam:api-keys/{principal}/credentials/{key_id}")
}

/// The cursor scope of a credential list.
pub fn list_scope(org: &OrgId, principal: &PrincipalId, filter: CredentialStatusFilter) -> String {
    format!("credentials|{org}|{principal}|{}", filter.as_str())
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
    let generated = ApiKey::generate();
    let secret_hash = app.keys().await?.hasher.hash(&generated.key).map_err(ApiError::Internal)?;
    let cap = app.org_settings(org).await?.credential_cap();

    // Each attempt reads these; one marks lapsed credentials at most once (an atomic: the
    // attempts' futures are Send).
    let (name, generated, secret_hash) = (&name, &generated, &secret_hash);
    let expired_lapsed = &std::sync::atomic::AtomicBool::new(false);
    until_written(|| async move {
        let principal =
            app.store.get_principal(org, principal_id).await?.ok_or(ApiError::NotFound("API-key principal"))?;
        if principal.principal.status == PrincipalStatus::Revoked {
            return Err(ApiError::PrincipalRevoked);
        }
        // A credential of an expired principal could never authenticate, yet would hold a place
        // under the cap. (The write is conditioned on the principal's version, so an expiry
        // changed meanwhile is decided again.)
        if principal.principal.is_expired_at(now) {
            return Err(ApiError::PrincipalExpired);
        }
        if principal.active_key_ids.len() >= cap as usize {
            // Credentials past their expiry hold a place until marked Expired: mark them now
            // (what the sweep does) and decide again, once.
            if !expired_lapsed.load(std::sync::atomic::Ordering::Relaxed)
                && expire_lapsed(app, org, principal_id, request_id).await? > 0
            {
                expired_lapsed.store(true, std::sync::atomic::Ordering::Relaxed);
                return Ok(Written::Retry);
            }
            return Err(ApiError::CredentialLimitReached { cap });
        }
        let record = CredentialRecord {
            credential: Credential {
                id: generated.key.key_id().clone(),
                principal_id: principal_id.clone(),
                name: name.clone(),
                status: CredentialStatus::Active,
                expires_at,
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            },
            org_id: org.clone(),
            secret_hash: secret_hash.as_str().into(),
            principal: PrincipalState::of(&principal.principal),
        };
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

/// Marks the principal's Active credentials that are past their expiry `Expired` (each with its
/// audit event); returns how many.
pub async fn expire_lapsed(
    app: &App,
    org: &OrgId,
    principal_id: &PrincipalId,
    request_id: &str,
) -> Result<usize, ApiError> {
    let now = app.clock.now();
    let active = CredentialStatusFilter::Only(CredentialStatus::Active);
    let page = app.store.list_credentials(org, principal_id, active, 100, None).await?;
    let mut expired = 0;
    for record in page.items.iter().filter(|r| r.credential.is_expired_at(now)) {
        if expire(app, record, now, request_id).await? {
            expired += 1;
        }
    }
    Ok(expired)
}

/// Marks one credential `Expired`, starts its retention clock and audits it (actor
/// `system:expiry`). `false` when it had already ended (revoked or expired meanwhile): idempotent.
/// A transaction conflict (another write to its principal) is retried: it decides nothing.
pub async fn expire(app: &App, record: &CredentialRecord, now: Timestamp, request_id: &str) -> Result<bool, ApiError> {
    if record.credential.status != CredentialStatus::Active {
        return Ok(false);
    }
    let mut after = record.credential.clone();
    after.status = CredentialStatus::Expired;
    let audit = AuditEvent::new(
        record.org_id.clone(),
        Actor::System { name: "expiry".into() },
        "iam:credentials:expire",
        resource(&after.principal_id, &after.id),
        now,
        request_id,
        json!({"name": after.name, "expiresAt": after.expires_at}),
    );
    let retention_until = now.plus_seconds(app.config.retention_days * 86_400);
    let (after, audit) = (&after, &audit);
    until_written(|| async move {
        match app.store.end_credential(record, after, retention_until, audit).await {
            Ok(()) => Ok(Written::Done(true)),
            // The status is no longer the one read: it ended meanwhile.
            Err(StoreError::Violated(Invariant::VersionMoved)) => Ok(Written::Done(false)),
            Err(StoreError::Contention) => Ok(Written::Retry),
            Err(err) => Err(err.into()),
        }
    })
    .await
}

/// A page of a principal's credentials (default: Active). Never includes a secret or its hash.
/// Under `Active`, credentials past their expiry are left out even before they are marked.
pub async fn list(
    app: &App,
    org: &OrgId,
    principal_id: &PrincipalId,
    filter: CredentialStatusFilter,
    params: ListParams,
) -> Result<Page<Credential>, ApiError> {
    app.store.get_principal(org, principal_id).await?.ok_or(ApiError::NotFound("API-key principal"))?;
    let page = app.store.list_credentials(org, principal_id, filter, params.limit, params.start).await?;
    let now = app.clock.now();
    let only_active = filter == CredentialStatusFilter::Only(CredentialStatus::Active);
    let items = page.items.iter().map(|r| r.view(now)).filter(|c| !only_active || c.status == CredentialStatus::Active);
    Ok(Page { items: items.collect(), next: page.next })
}

/// Revokes one credential; idempotent (a revoked credential is answered as it is). The principal
/// and its other credentials are untouched.
pub async fn revoke(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    key_id: &KeyId,
    request_id: &str,
) -> Result<Credential, ApiError> {
    until_written(|| async move {
        let now = app.clock.now();
        let record = app
            .store
            .get_credential(key_id)
            .await?
            .filter(|r| &r.org_id == org && &r.credential.principal_id == principal_id)
            .ok_or(ApiError::NotFound("credential"))?;
        if record.credential.status == CredentialStatus::Revoked {
            return Ok(Written::Done(record.view(now)));
        }
        let mut after = record.credential.clone();
        after.status = CredentialStatus::Revoked;
        after.revoked_at = Some(now);
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:credentials:revoke",
            resource(principal_id, key_id),
            now,
            request_id,
            json!({"name": after.name, "previousStatus": record.credential.status}),
        );
        let retention_until = now.plus_seconds(app.config.retention_days * 86_400);
        Written::of(app.store.end_credential(&record, &after, retention_until, &audit).await, after)
    })
    .await
}
