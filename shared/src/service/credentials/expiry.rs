//! A credential's expiry, as the sweep (and an issuance at the cap) meets it: the warnings before
//! it, and the marking after it.

use serde_json::json;

use super::end::{Ending, end};
use crate::App;
use crate::domain::{
    Actor, ApiError, AuditEvent, CredentialStatus, CredentialStatusFilter, EventFacts, EventType, OrgId, PrincipalId,
    Timestamp,
};
use crate::service::{Written, failure, until_written};
use crate::store::{CredentialRecord, EndRefused, Moved, WriteError};

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
    until_written(|| async move {
        match end(app, record, Ending::Expired, now, request_id).await.0 {
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
        super::resource(&c.principal_id, &c.id),
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
