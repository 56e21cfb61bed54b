//! How a credential ends. [`end`] is the one path that builds the write for every reason
//! (expired, revoked by an administrator, revoked because its key leaked): the new status, the
//! audit event and the lifecycle event it publishes, the retention clock, and for a leak the end of
//! the principal's tokens issued until now; one transaction.

use serde_json::json;

use super::{credential_of, resource};
use crate::App;
use crate::domain::{
    Actor, ApiError, AuditEvent, Credential, CredentialStatus, EventFacts, EventType, KeyId, OrgId, PrincipalId,
    Timestamp,
};
use crate::service::{Written, until_written};
use crate::store::{CredentialRecord, EndRefused, WriteError};

/// Why a credential ends.
pub(super) enum Ending<'a> {
    /// It is past its expiry (actor `system:expiry`).
    Expired,
    /// `actor` revoked it.
    Revoked(&'a Actor),
    /// A leak report carried its key (actor `system:leak-report`).
    Leaked(&'a FoundAt),
}

/// Ends `record` for `ending` at `now`: one transaction (`end_credential`) writing the credential
/// as it ends, its audit event and lifecycle event, and its retention clock; the outcome and the
/// credential as written.
pub(super) async fn end(
    app: &App,
    record: &CredentialRecord,
    ending: Ending<'_>,
    now: Timestamp,
    request_id: &str,
) -> (Result<(), WriteError<EndRefused>>, Credential) {
    let before = &record.credential;
    let (principal_id, key_id) = (&before.principal_id, &before.id);
    let mut after = before.clone();
    let about = |event: EventType, after: &Credential| {
        EventFacts::about(event, principal_id).credential(key_id, after.name.as_str())
    };
    let (actor, action, details, facts, end_tokens_at) = match ending {
        Ending::Expired => {
            after.status = CredentialStatus::Expired;
            let details = json!({"name": after.name, "expiresAt": after.expires_at});
            let facts = EventFacts { expires_at: after.expires_at, ..about(EventType::CredentialExpired, &after) };
            (Actor::System { name: "expiry".into() }, "iam:credentials:expire", details, facts, None)
        }
        Ending::Revoked(actor) => {
            after.status = CredentialStatus::Revoked;
            after.revoked_at = Some(now);
            let details = json!({"name": after.name, "previousStatus": before.status});
            (actor.clone(), "iam:credentials:revoke", details, about(EventType::CredentialRevoked, &after), None)
        }
        Ending::Leaked(found) => {
            after.status = CredentialStatus::Revoked;
            after.revoked_at = Some(now);
            let details = json!({
                "name": after.name, "previousStatus": before.status, "reason": "leaked",
                "url": found.url, "source": found.source,
            });
            let facts = EventFacts {
                url: Some(found.url.clone()),
                source: Some(found.source.clone()),
                ..about(EventType::CredentialLeaked, &after)
            };
            // Whoever found the key may have exchanged it: the principal's tokens until now end too.
            (Actor::System { name: "leak-report".into() }, "iam:credentials:revoke", details, facts, Some(now))
        }
    };
    let audit =
        AuditEvent::new(record.org_id.clone(), actor, action, resource(principal_id, key_id), now, request_id, details)
            .with_event(facts);
    let retention_until = now.plus_seconds(app.config.retention_days * 86_400);
    let written = app.store.end_credential(record, &after, retention_until, &audit, end_tokens_at).await;
    (written, after)
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
        let (written, after) = end(app, &record, Ending::Revoked(actor), now, request_id).await;
        Written::of(written, after)
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
        crate::service::principals::end_tokens_issued_until(
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
        match end(app, &record, Ending::Leaked(found), now, request_id).await.0 {
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
