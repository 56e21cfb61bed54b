//! Storage: the single-table layout (`keys`) and the DynamoDB adapter (`dynamo`).

mod dynamo;
mod events;
pub mod keys;
pub mod sdk;
mod secrets;
pub mod tls;

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

#[cfg(feature = "test-util")]
pub use dynamo::CallCounter;
pub use dynamo::DynamoStore;
pub use events::{BATCH as EVENT_BATCH, EventSink, envelope as event_envelope};
pub use secrets::{SecretError, SecretStore};

use crate::domain::{
    Credential, CredentialStatus, KeyId, OrgId, OrgSettings, Principal, PrincipalId, PrincipalStatus, PrincipalType,
    RoleId, Timestamp,
};

/// What went wrong in the store, typed so the service can answer precisely; never a stringified SDK error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition expression did not hold (a stale version, a cap, a state that moved on).
    #[error("a write condition did not hold")]
    ConditionFailed,
    /// A condition did not hold, and the write said which invariant that was (read off the
    /// position of the transaction's cancellation reason): no second read to guess.
    #[error("the write would break an invariant: {0:?}")]
    Violated(Invariant),
    /// Another transaction touched the same items at the same moment; safe to retry.
    #[error("the write conflicted with a concurrent transaction")]
    Contention,
    /// Throttled, timed out or a 5xx: the client may retry later.
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug or a misconfiguration.
    #[error("store failure")]
    Other(#[source] anyhow::Error),
}

/// The invariants a refused write names (see [`StoreError::Violated`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invariant {
    /// The name, or a look-alike of it, is another role's in the org.
    RoleNameTaken,
    /// The org already holds its cap of custom roles.
    RoleLimitReached,
    /// The record is no longer as it was read (its version, status or sets moved, or it is gone):
    /// read and decide again.
    VersionMoved,
    /// The role is assigned to this many principals.
    RoleInUse(u64),
    /// The record is gone.
    Gone,
    /// The principal already holds the role.
    AssignmentExists,
    /// The subject is already a member of the org.
    MemberExists,
}

/// The key of the last item of a page, all string attributes; sealed into a cursor by `http::cursor`.
pub type PageKey = BTreeMap<String, String>;

/// One page of a list and the key to continue from.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageKey>,
}

/// An organisation and its settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgRecord {
    pub id: OrgId,
    pub name: String,
    pub settings: OrgSettings,
    pub created_at: Timestamp,
    pub version: u64,
}

/// A principal as stored: the domain object plus the ids of its Active credentials, which bound the
/// fan-out of a status change and enforce the credential cap in a condition expression.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalRecord {
    #[serde(flatten)]
    pub principal: Principal,
    /// A string set (`keys::attr::ACTIVE_KEY_IDS`); absent when empty, as DynamoDB has no empty set.
    #[serde(with = "serde_dynamo::string_set", default, skip_serializing_if = "Vec::is_empty")]
    pub active_key_ids: Vec<KeyId>,
    /// Bumped whenever `active_key_ids` changes, so a status change cannot miss a new credential.
    #[serde(default)]
    pub credentials_version: u64,
    /// The roles assigned to the principal (their assignment items list them too).
    #[serde(with = "serde_dynamo::string_set", default, skip_serializing_if = "Vec::is_empty")]
    pub role_ids: Vec<RoleId>,
    /// Access tokens revoked one by one (RFC 7009), as `<exp unix seconds>:<jti>`, until they
    /// expire (`keys::attr::REVOKED_TOKENS`; at most `REVOKED_TOKENS_CAP`).
    #[serde(with = "serde_dynamo::string_set", default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_tokens: Vec<String>,
}

/// How many individually revoked, unexpired tokens a principal may hold: the principal item is
/// what Bearer verification reads, and each entry is ~40 bytes.
pub const REVOKED_TOKENS_CAP: usize = 100;

/// A revoked token's entry: `<exp>:<jti>`.
pub fn revoked_token_entry(exp: Timestamp, jti: &str) -> String {
    format!("{}:{jti}", exp.unix())
}

/// An entry's `exp` and `jti`; `None` for one that is not of that shape.
pub fn parse_revoked_token_entry(entry: &str) -> Option<(Timestamp, &str)> {
    let (exp, jti) = entry.split_once(':')?;
    Some((Timestamp::from_unix(exp.parse().ok()?), jti))
}

impl PrincipalRecord {
    /// A new principal: no credentials, no roles.
    pub fn new(principal: Principal) -> Self {
        Self {
            principal,
            active_key_ids: Vec::new(),
            credentials_version: 0,
            role_ids: Vec::new(),
            revoked_tokens: Vec::new(),
        }
    }
}

/// The principal's state copied onto each of its Active credentials, so that authentication is
/// one read; changed in the same transaction as the principal.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalState {
    pub principal_type: PrincipalType,
    pub principal_status: PrincipalStatus,
    pub principal_expires_at: Option<Timestamp>,
}

impl PrincipalState {
    /// The state of `principal` as its credentials carry it.
    pub fn of(principal: &Principal) -> Self {
        Self {
            principal_type: principal.principal_type,
            principal_status: principal.status,
            principal_expires_at: principal.expires_at,
        }
    }
}

/// A role assignment: one principal holds one role in one org.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    pub role_id: RoleId,
    pub created_at: Timestamp,
}

/// One organisation a subject is a member of: its member principal there, and since when.
#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    pub created_at: Timestamp,
}

/// A credential as stored: what clients see, its org, its secret's hash and its principal's state.
/// Its `Debug` leaves the hash out (`secrecy`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRecord {
    #[serde(flatten)]
    pub credential: Credential,
    pub org_id: OrgId,
    /// argon2id PHC string. Never leaves the store and the verifier.
    #[serde(serialize_with = "expose_secret_string")]
    pub secret_hash: SecretString,
    #[serde(flatten)]
    pub principal: PrincipalState,
    /// Bumped by every change of the credential's own fields (name, expiry, replacement): its
    /// `ETag`. Items written before it existed read as 1.
    #[serde(default = "first_version")]
    pub version: u64,
}

fn first_version() -> u64 {
    1
}

fn expose_secret_string<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

impl CredentialRecord {
    /// The credential as a client should see it at `now`: past its expiry it reads `Expired`
    /// even before the sweep has marked it.
    pub fn view(&self, now: Timestamp) -> Credential {
        let mut c = self.credential.clone();
        if c.status == CredentialStatus::Active && c.is_expired_at(now) {
            c.status = CredentialStatus::Expired;
        }
        c
    }
}

/// Every store failure is the service's: unavailable (503) or internal (500).
impl From<StoreError> for crate::domain::ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => Self::ServiceUnavailable(source),
            StoreError::Contention => Self::ServiceUnavailable(anyhow::anyhow!("write contention persisted")),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

/// `?limit=` and `?cursor=` of a list route.
#[derive(Debug)]
pub struct ListParams {
    pub limit: usize,
    pub start: Option<PageKey>,
}
