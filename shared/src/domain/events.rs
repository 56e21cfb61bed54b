//! Lifecycle events: what a tenant's automation subscribes to (EventBridge, `source: iam`). Each is
//! carried by the audit event of the same change, written in the same transaction (the outbox), so
//! a change and its event are both written or neither; a scheduled drain publishes it afterwards,
//! at least once (consumers de-duplicate by `id`). Never a secret: ids, names, times and the
//! leak report's URL. The JSON schema of each is `docs/events.schema.json`.

use serde::{Deserialize, Serialize};

use super::{Actor, KeyId, OrgId, PrincipalId, Timestamp};

/// The kinds of lifecycle event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter)]
pub enum EventType {
    /// A credential expires in 7 days or in 1 day (from the expiry sweep).
    #[serde(rename = "credential.expiring")]
    CredentialExpiring,
    /// The expiry sweep marked a credential Expired.
    #[serde(rename = "credential.expired")]
    CredentialExpired,
    /// A person or key revoked one credential.
    #[serde(rename = "credential.revoked")]
    CredentialRevoked,
    /// A leak report named a live credential, and it was revoked at once.
    #[serde(rename = "credential.leaked")]
    CredentialLeaked,
    /// An API-key principal was suspended (its credentials and tokens stop working).
    #[serde(rename = "principal.suspended")]
    PrincipalSuspended,
    /// An API-key principal was revoked (final).
    #[serde(rename = "principal.revoked")]
    PrincipalRevoked,
    /// An API-key principal's calls were refused for its rate limit repeatedly (at most one an hour).
    #[serde(rename = "principal.rateLimited")]
    PrincipalRateLimited,
    /// A key was refused repeatedly from an address other than the one it last worked from (at most
    /// one an hour per principal).
    #[serde(rename = "credential.failingFromNewAddress")]
    CredentialFailingFromNewAddress,
}

impl EventType {
    /// The name, as EventBridge's `detail-type` and the event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialExpiring => "credential.expiring",
            Self::CredentialExpired => "credential.expired",
            Self::CredentialRevoked => "credential.revoked",
            Self::CredentialLeaked => "credential.leaked",
            Self::PrincipalSuspended => "principal.suspended",
            Self::PrincipalRevoked => "principal.revoked",
            Self::PrincipalRateLimited => "principal.rateLimited",
            Self::CredentialFailingFromNewAddress => "credential.failingFromNewAddress",
        }
    }
}

/// What an event says about its subject; kept on the audit event that carries it (the outbox).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFacts {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub principal_id: PrincipalId,
    /// The credential, for `credential.*` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// The credential's name, for `credential.*` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The credential's expiry, for `credential.expiring` and `credential.expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// For `credential.expiring`: 7 or 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<u32>,
    /// For `credential.leaked`: where the key was found, as the report gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For `credential.leaked`: the report's `source` (e.g. `content`, `commit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For `principal.rateLimited` and `credential.failingFromNewAddress`: the refusals seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
    /// For `credential.failingFromNewAddress`: the address the refusals came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// For `credential.failingFromNewAddress`: the refusals' code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl EventFacts {
    /// An event of `event_type` about principal `principal_id`, the other facts unset.
    pub fn about(event_type: EventType, principal_id: &PrincipalId) -> Self {
        Self {
            event_type,
            principal_id: principal_id.clone(),
            key_id: None,
            name: None,
            expires_at: None,
            days_left: None,
            url: None,
            source: None,
            refused: None,
            source_ip: None,
            code: None,
        }
    }

    /// The same, about credential `key_id` named `name`.
    pub fn credential(mut self, key_id: &KeyId, name: &str) -> Self {
        self.key_id = Some(key_id.clone());
        self.name = Some(name.to_string());
        self
    }
}

/// One lifecycle event, as published: EventBridge's `detail`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    /// The audit event's id (`evt_<ULID>`): unique, and the same on every delivery of this event.
    pub id: String,
    pub org_id: OrgId,
    /// When the change was made.
    pub time: Timestamp,
    /// Who made it (`System` for the sweep and leak reports).
    pub actor: Actor,
    #[serde(flatten)]
    pub facts: EventFacts,
}

impl LifecycleEvent {
    /// The event an audit event carries, if it carries one.
    pub fn of(audit: &super::AuditEvent) -> Option<Self> {
        let facts = audit.event.clone()?;
        Some(Self {
            id: audit.id.clone(),
            org_id: audit.org_id.clone(),
            time: audit.time,
            actor: audit.actor.clone(),
            facts,
        })
    }
}
