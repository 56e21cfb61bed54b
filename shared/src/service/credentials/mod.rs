//! Credentials: issue (shown once), roll, edit, list, and the ways one ends (revoked by an
//! administrator or a leak report, or expired), one file per use case. Every ending goes through
//! [`end`]'s one path, and every creation through [`principal_with_room`]'s cap.

mod edit;
mod end;
mod expiry;
mod issue;
mod roll;

pub use edit::{CredentialChange, UpdateCredential, update};
pub use end::{FoundAt, revoke, revoke_leaked};
pub use expiry::{expire, expire_lapsed, warn_expiring};
pub use issue::{IssueCredential, NewCredential, issue};
pub use roll::{MAX_ROLL_GRACE_SECONDS, RollCredential, roll};

use crate::App;
use crate::auth::GeneratedKey;
use crate::domain::{
    ApiError, Credential, CredentialStatus, CredentialStatusFilter, KeyId, Name, OrgId, PrincipalId, PrincipalStatus,
    Timestamp,
};
use crate::store::{CredentialRecord, ListParams, Page, PrincipalRecord};

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

/// The principal, if a credential may be created for it now: not Revoked, not expired, and
/// holding fewer Active credentials than `cap` (the condition of the write holds it to that under
/// concurrency; this answers the reason). Credentials past their expiry hold a place until marked
/// Expired: at the cap they are marked now (what the sweep does), once per request, and `None`
/// says to read and decide again. Issue and roll, every path that creates a credential, ask here.
pub(super) async fn principal_with_room(
    app: &App,
    org: &OrgId,
    principal_id: &PrincipalId,
    cap: u32,
    now: Timestamp,
    request_id: &str,
    expired_lapsed: &std::sync::atomic::AtomicBool,
) -> Result<Option<PrincipalRecord>, ApiError> {
    let principal = app.store.get_principal(org, principal_id).await?.ok_or(ApiError::NotFound("API-key principal"))?;
    if principal.principal.status == PrincipalStatus::Revoked {
        return Err(ApiError::PrincipalRevoked);
    }
    // A credential of an expired principal could never authenticate, yet would hold a place
    // under the cap. (The write is conditioned on the principal's version, so an expiry changed
    // meanwhile is decided again.)
    if principal.principal.is_expired_at(now) {
        return Err(ApiError::PrincipalExpired);
    }
    if principal.active_key_ids.len() >= cap as usize {
        if !expired_lapsed.swap(true, std::sync::atomic::Ordering::Relaxed)
            && expire_lapsed(app, org, principal_id, request_id).await? > 0
        {
            return Ok(None);
        }
        return Err(ApiError::CredentialLimitReached { cap });
    }
    Ok(Some(principal))
}

/// The credential `key_id` of `principal_id` in `org`, strongly consistent; anyone else's is 404.
pub(super) async fn credential_of(
    app: &App,
    org: &OrgId,
    principal_id: &PrincipalId,
    key_id: &KeyId,
) -> Result<CredentialRecord, ApiError> {
    app.store
        .get_credential(key_id)
        .await?
        .filter(|r| &r.org_id == org && &r.credential.principal_id == principal_id)
        .ok_or(ApiError::NotFound("credential"))
}

/// A new Active credential of `principal` for `generated`, as issuance and roll write it.
pub(super) fn new_record(
    generated: &GeneratedKey,
    secret_hash: &str,
    principal: &PrincipalRecord,
    name: Name,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> CredentialRecord {
    CredentialRecord {
        credential: Credential {
            id: generated.key.key_id().clone(),
            principal_id: principal.principal.id.clone(),
            name,
            status: CredentialStatus::Active,
            expires_at,
            created_at: now,
            last_used_at: None,
            last_used_ip: None,
            last_used_route: None,
            revoked_at: None,
            replaced_by: None,
        },
        org_id: principal.principal.org_id.clone(),
        secret_hash: secret_hash.into(),
        version: 1,
    }
}
