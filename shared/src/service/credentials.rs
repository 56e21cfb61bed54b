//! Credentials: issue (shown once), list, revoke.

use serde::Deserialize;
use serde_json::json;

use super::{Validation, Written, failure, until_written};
use crate::App;
use crate::auth::{ApiKey, GeneratedKey};
use crate::domain::{
    Actor, AuditEvent, Credential, CredentialStatus, CredentialStatusFilter, KeyId, Name, OrgId, PrincipalId,
    PrincipalStatus, Timestamp,
};
use crate::domain::{ApiError, EventFacts, EventType};
use crate::store::ListParams;
use crate::store::{CredentialRecord, EndRefused, Moved, Page, PrincipalRecord, WriteError};

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

/// The principal, if a credential may be created for it now: not Revoked, not expired, and
/// holding fewer Active credentials than `cap` (the condition of the write holds it to that under
/// concurrency; this answers the reason). Credentials past their expiry hold a place until marked
/// Expired: at the cap they are marked now (what the sweep does), once per request, and `None`
/// says to read and decide again. Issue and roll, every path that creates a credential, ask here.
async fn principal_with_room(
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
    )
    .with_event(EventFacts {
        expires_at: after.expires_at,
        ..EventFacts::about(EventType::CredentialExpired, &after.principal_id)
            .credential(&after.id, after.name.as_str())
    });
    let retention_until = now.plus_seconds(app.config.retention_days * 86_400);
    let (after, audit) = (&after, &audit);
    until_written(|| async move {
        match app.store.end_credential(record, after, retention_until, audit, None).await {
            Ok(()) => Ok(Written::Done(true)),
            // The status is no longer the one read: it ended meanwhile.
            Err(WriteError::Violated(EndRefused::StatusMoved)) => Ok(Written::Done(false)),
            Err(WriteError::Violated(EndRefused::PrincipalGone)) => {
                tracing::error!(request_id, key_id = %record.credential.id, "a credential whose principal is gone");
                Ok(Written::Done(false))
            }
            Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(failure(err)),
        }
    })
    .await
}

/// Gives credential `record` its warning `days` before its expiry (actor `system:expiry`): an
/// audit event publishing `credential.expiring`. `false` when it had that warning or a closer one
/// already, or is no longer Active with the expiry read: each warning is given once.
pub async fn warn_expiring(
    app: &App,
    record: &CredentialRecord,
    days: u32,
    now: Timestamp,
    request_id: &str,
) -> Result<bool, ApiError> {
    let c = &record.credential;
    let audit = AuditEvent::new(
        record.org_id.clone(),
        Actor::System { name: "expiry".into() },
        "iam:credentials:expiring",
        resource(&c.principal_id, &c.id),
        now,
        request_id,
        json!({"name": c.name, "expiresAt": c.expires_at, "daysLeft": days}),
    )
    .with_event(EventFacts {
        expires_at: c.expires_at,
        days_left: Some(days),
        ..EventFacts::about(EventType::CredentialExpiring, &c.principal_id).credential(&c.id, c.name.as_str())
    });
    let audit = &audit;
    until_written(|| async move {
        match app.store.note_expiry_warning(record, days, audit).await {
            Ok(()) => Ok(Written::Done(true)),
            Err(WriteError::Violated(Moved::Moved)) => Ok(Written::Done(false)),
            Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(failure(err)),
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
        let record = credential_of(app, org, principal_id, key_id).await?;
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
        )
        .with_event(
            EventFacts::about(EventType::CredentialRevoked, principal_id).credential(key_id, after.name.as_str()),
        );
        let retention_until = now.plus_seconds(app.config.retention_days * 86_400);
        Written::of(app.store.end_credential(&record, &after, retention_until, &audit, None).await, after)
    })
    .await
}

/// Where a leak report found a key: its `url` and `source`, as the report gave them.
#[derive(Clone, Debug)]
pub struct FoundAt {
    pub url: String,
    pub source: String,
}

/// Revokes a credential whose full key a leak report carried (actor `system:leak-report`), if it is
/// live (Active and not past its expiry); the principal's access tokens issued until now end with
/// it, since whoever found the key may have exchanged it. Publishes `credential.leaked`. `false`
/// when it was not live; then only a key that ended so recently that tokens exchanged with it may
/// still be valid has its principal's tokens issued until its end ended (audited as a
/// `revoke-tokens` by `system:leak-report`; once: a second report finds them ended).
pub async fn revoke_leaked(app: &App, key_id: &KeyId, found: &FoundAt, request_id: &str) -> Result<bool, ApiError> {
    let Some(not_live) = revoke_live_leaked(app, key_id, found, request_id).await? else { return Ok(true) };
    let Some(record) = not_live else { return Ok(false) };
    let now = app.clock.now();
    let c = &record.credential;
    let ended_at = c.revoked_at.or(c.expires_at.filter(|at| *at <= now));
    // A token lives at most the longest TTL and the verifiers' leeway after its exchange.
    let recent = crate::auth::tokens::MAX_TOKEN_TTL_SECONDS + crate::auth::tokens::LEEWAY_SECONDS;
    if let Some(at) = ended_at.filter(|at| now.unix() - at.unix() <= recent) {
        let actor = Actor::System { name: "leak-report".into() };
        let details = json!({"reason": "leaked", "keyId": key_id, "url": found.url, "source": found.source});
        super::principals::end_tokens_issued_until(
            app,
            &actor,
            &record.org_id,
            &c.principal_id,
            at,
            details,
            request_id,
        )
        .await?;
    }
    Ok(false)
}

/// Revokes the credential if it is live: `Ok(None)`; else `Ok(Some(record))` as it is (`None` in
/// it: unknown), nothing written.
async fn revoke_live_leaked(
    app: &App,
    key_id: &KeyId,
    found: &FoundAt,
    request_id: &str,
) -> Result<Option<Option<CredentialRecord>>, ApiError> {
    until_written(|| async move {
        let now = app.clock.now();
        let Some(record) = app.store.get_credential(key_id).await? else { return Ok(Written::Done(Some(None))) };
        if record.credential.status != CredentialStatus::Active || record.credential.is_expired_at(now) {
            return Ok(Written::Done(Some(Some(record))));
        }
        let principal_id = &record.credential.principal_id;
        let mut after = record.credential.clone();
        after.status = CredentialStatus::Revoked;
        after.revoked_at = Some(now);
        let audit = AuditEvent::new(
            record.org_id.clone(),
            Actor::System { name: "leak-report".into() },
            "iam:credentials:revoke",
            resource(principal_id, key_id),
            now,
            request_id,
            json!({
                "name": after.name, "previousStatus": record.credential.status, "reason": "leaked",
                "url": found.url, "source": found.source,
            }),
        )
        .with_event(EventFacts {
            url: Some(found.url.clone()),
            source: Some(found.source.clone()),
            ..EventFacts::about(EventType::CredentialLeaked, principal_id).credential(key_id, after.name.as_str())
        });
        let retention_until = now.plus_seconds(app.config.retention_days * 86_400);
        match app.store.end_credential(&record, &after, retention_until, &audit, Some(now)).await {
            // A report is answered for every entry: a credential whose principal is gone (a broken
            // table) is logged, not a failure of the whole report.
            Err(WriteError::Violated(EndRefused::PrincipalGone)) => {
                tracing::error!(request_id, key_id = %key_id, "a leaked credential whose principal is gone");
                Ok(Written::Done(None))
            }
            written => Written::of(written, None),
        }
    })
    .await
}

/// The credential `key_id` of `principal_id` in `org`, strongly consistent; anyone else's is 404.
async fn credential_of(
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
fn new_record(
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

/// The longest grace period of a roll: a week.
pub const MAX_ROLL_GRACE_SECONDS: i64 = 7 * 86_400;

/// `POST .../credentials/{keyId}/roll`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollCredential {
    #[serde(deserialize_with = "crate::domain::json_integer")]
    pub expire_old_after_seconds: Option<i64>,
}

impl RollCredential {
    /// The grace period, in seconds, in 0..=[`MAX_ROLL_GRACE_SECONDS`]; no I/O.
    pub fn check(&self) -> Result<i64, ApiError> {
        match self.expire_old_after_seconds {
            Some(seconds) if (0..=MAX_ROLL_GRACE_SECONDS).contains(&seconds) => Ok(seconds),
            _ => Err(ApiError::InvalidRequest(vec![crate::domain::FieldError::new(
                "expireOldAfterSeconds",
                "must be a whole number of seconds from 0 (at once) to 604800 (a week)",
            )])),
        }
    }
}

/// The name of a rolled credential's successor: the same name and a suffix, within 128 characters.
fn rolled_name(name: &Name) -> Name {
    const SUFFIX: &str = " (rolled)";
    let base: String = name.as_str().chars().take(128 - SUFFIX.len()).collect();
    Name::parse(&format!("{}{SUFFIX}", base.trim_end())).unwrap_or_else(|_| name.clone())
}

/// Rolls an Active credential: issues its successor to the same principal (the same name with a
/// suffix, the same lifetime from now) and shows its key once; the old one keeps working for
/// `grace` seconds (0: stops at once), then expires. The successor needs a place under the cap
/// like any new credential (the old one holds its own until it ends). One transaction: a failure
/// leaves both or neither.
#[allow(clippy::too_many_arguments)]
pub async fn roll(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    key_id: &KeyId,
    input: RollCredential,
    request_id: &str,
) -> Result<Issued, ApiError> {
    let grace = input.check()?;
    let generated = ApiKey::generate();
    let secret_hash = app.hasher().await?.hash(&generated.key).map_err(ApiError::Internal)?;
    let settings = app.org_settings(org).await?;
    let cap = settings.credential_cap();
    let (generated, secret_hash, settings) = (&generated, &secret_hash, &settings);
    let expired_lapsed = &std::sync::atomic::AtomicBool::new(false);
    until_written(|| async move {
        let now = app.clock.now();
        let old = credential_of(app, org, principal_id, key_id).await?;
        if old.view(now).status != CredentialStatus::Active {
            return Err(ApiError::CredentialNotActive { why: "not Active: only an Active credential can be rolled" });
        }
        if old.credential.replaced_by.is_some() {
            return Err(ApiError::CredentialNotActive { why: "already rolled: roll its successor instead" });
        }
        let Some(principal) = principal_with_room(app, org, principal_id, cap, now, request_id, expired_lapsed).await?
        else {
            return Ok(Written::Retry);
        };
        // The same lifetime as the old one had, counted from now, within the org's policy.
        let lifetime = old.credential.expires_at.map(|at| at.unix() - old.credential.created_at.unix());
        settings.check_lifetime(lifetime.map(|seconds| now.plus_seconds(seconds)), now)?;
        let expires_at = lifetime.map(|seconds| now.plus_seconds(seconds));
        let new = new_record(generated, secret_hash, &principal, rolled_name(&old.credential.name), expires_at, now);
        let mut old_after = old.clone();
        let stops = now.plus_seconds(grace);
        old_after.credential.expires_at = Some(old.credential.expires_at.map_or(stops, |at| at.min(stops)));
        old_after.credential.replaced_by = Some(new.credential.id.clone());
        old_after.version = old.version + 1;
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:credentials:roll",
            resource(principal_id, key_id),
            now,
            request_id,
            json!({
                "name": old.credential.name,
                "replacedBy": new.credential.id,
                "oldExpiresAt": old_after.credential.expires_at,
                "newExpiresAt": new.credential.expires_at,
            }),
        );
        Written::of(
            app.store.roll_credential(&new, &old, &old_after, &principal, cap, &audit).await,
            Issued { credential: new.credential.clone(), api_key: generated.full.clone() },
        )
    })
    .await
}

/// `PATCH .../credentials/{keyId}`: a new name, or an earlier expiry (never a later one).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCredential {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A checked [`UpdateCredential`].
#[derive(Debug)]
pub struct CredentialChange {
    pub name: Option<Name>,
    pub expires_at: Option<Timestamp>,
}

impl UpdateCredential {
    /// The body's field checks; no I/O. (Whether the expiry is earlier needs the credential.)
    pub fn check(&self, now: Timestamp) -> Result<CredentialChange, ApiError> {
        let mut v = Validation::default();
        let name = self.name.as_deref().and_then(|n| v.name("name", n));
        let expires_at = v.expiry(self.expires_at.as_deref(), now);
        v.finish()?;
        Ok(CredentialChange { name, expires_at })
    }
}

/// Renames a credential or brings its expiry earlier (or sets one where none was); never extends
/// it. With `if_match`, refused (412) unless the credential is at that version. Audited.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    key_id: &KeyId,
    input: UpdateCredential,
    if_match: Option<u64>,
    request_id: &str,
) -> Result<(Credential, u64), ApiError> {
    let now = app.clock.now();
    let CredentialChange { name, expires_at } = input.check(now)?;
    let (name, expires_at) = (&name, &expires_at);
    until_written(|| async move {
        let before = credential_of(app, org, principal_id, key_id).await?;
        if if_match.is_some_and(|expected| expected != before.version) {
            return Err(ApiError::VersionMismatch { current: before.version });
        }
        if before.view(now).status != CredentialStatus::Active {
            return Err(ApiError::CredentialNotActive { why: "not Active: only an Active credential can be edited" });
        }
        if let (Some(new), Some(old)) = (expires_at, before.credential.expires_at)
            && *new > old
        {
            return Err(ApiError::InvalidRequest(vec![crate::domain::FieldError::new(
                "expiresAt",
                format!("may only bring the expiry earlier than {old}, never extend it"),
            )]));
        }
        let mut after = before.clone();
        if let Some(name) = name {
            after.credential.name = name.clone();
        }
        if let Some(at) = expires_at {
            after.credential.expires_at = Some(*at);
        }
        if after.credential == before.credential {
            return Ok(Written::Done((after.view(now), after.version)));
        }
        after.version += 1;
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:credentials:update",
            resource(principal_id, key_id),
            now,
            request_id,
            json!({
                "name": {"from": before.credential.name, "to": after.credential.name},
                "expiresAt": {"from": before.credential.expires_at, "to": after.credential.expires_at},
                "version": after.version,
            }),
        );
        Written::of(app.store.update_credential(&before, &after, &audit).await, (after.view(now), after.version))
    })
    .await
}
