//! Audit events: who did what to which object, when, under which request. Never a secret.

use serde::{Deserialize, Serialize};

use super::{EventFacts, KeyId, OrgId, PrincipalId, Timestamp};

/// Who made a change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Actor {
    /// An API-key principal, through one of its credentials.
    ApiKey { principal_id: PrincipalId, key_id: Option<KeyId> },
    /// A member of the org, through the identity provider.
    User { principal_id: PrincipalId },
    /// The service itself or an operator's CLI (bootstrap, the expiry sweep).
    System { name: String },
}

/// One audited change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub org_id: OrgId,
    pub actor: Actor,
    /// The IAM action, e.g. `iam:credentials:revoke`.
    pub action: String,
    /// The resource acted on, e.g. `iam:api-keys/akp_…/credentials/<keyId>`.
    pub target: String,
    pub time: Timestamp,
    pub request_id: String,
    /// Non-secret facts about the change (old and new status, names).
    pub details: serde_json::Value,
    /// The lifecycle event this change publishes, if any (written with it: see `events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventFacts>,
}

impl AuditEvent {
    /// A new event with a time-ordered id (so the org's events sort newest first by key).
    pub fn new(
        org_id: OrgId,
        actor: Actor,
        action: &str,
        target: String,
        time: Timestamp,
        request_id: &str,
        details: serde_json::Value,
    ) -> Self {
        Self {
            id: format!("evt_{}", ulid::Ulid::new()),
            org_id,
            actor,
            action: action.to_string(),
            target,
            time,
            request_id: request_id.to_string(),
            details,
            event: None,
        }
    }

    /// The same change, publishing `facts` as a lifecycle event.
    pub fn with_event(mut self, facts: EventFacts) -> Self {
        self.event = Some(facts);
        self
    }
}
