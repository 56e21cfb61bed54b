//! Storage: the single-table layout (`keys`) and the DynamoDB adapter (`dynamo`).

mod dynamo;
mod events;
pub mod keys;
mod outcomes;
pub mod sdk;
mod secrets;
pub mod tls;

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

#[cfg(feature = "test-util")]
pub use dynamo::CallCounter;
pub use dynamo::{DynamoStore, Lease, MAX_TRANSACTION_ACTIONS};
pub use events::{BATCH as EVENT_BATCH, EventSink, envelope as event_envelope};
pub use outcomes::{OrgDayUsage, RECENT_REQUEST_DAYS, RecentRequest, UsageBucket};
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

/// What can go wrong with one conditional write: `V` lists only the invariants that write's
/// conditions guard (each named by the item it was put on), so a caller's `match` on it is
/// exhaustive and no refusal falls through to a 500.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<V: std::fmt::Debug> {
    /// A condition did not hold: the invariant its item guards.
    #[error("the write would break an invariant: {0:?}")]
    Violated(V),
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

impl<V: std::fmt::Debug> From<StoreError> for WriteError<V> {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Contention => Self::Contention,
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::ConditionFailed => Self::Other(anyhow::anyhow!("a condition no item guards did not hold")),
            StoreError::Other(e) => Self::Other(e),
        }
    }
}

/// Issuing a credential: the principal moved on (its version, status or credential set: the cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueRefused {
    PrincipalMoved,
}

/// Rolling a credential: the principal moved on (version, status, the cap), or the old
/// credential did (its status or version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollRefused {
    PrincipalMoved,
    OldCredentialMoved,
}

/// Ending a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndRefused {
    /// Its status is no longer the one read (it ended meanwhile).
    StatusMoved,
    /// Its principal's item is gone (API-key principals are never deleted: a broken table).
    PrincipalGone,
}

/// Editing a credential: it is no longer Active at the version read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialEditRefused {
    CredentialMoved,
}

/// Changing a principal (or an org's settings, or warning of an expiry): the record is no longer
/// at the version (or state) read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moved {
    Moved,
}

/// Revoking one access token: the principal is gone, holds the token's entry already, or holds
/// its cap of revoked tokens (a fresh read says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRevocationRefused {
    PrincipalGoneOrFull,
}

/// Creating a custom role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleCreateRefused {
    /// The name, or a look-alike of it, is another role's in the org.
    NameTaken,
    /// The org already holds its cap of custom roles.
    LimitReached,
}

/// Changing a custom role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleUpdateRefused {
    /// The role is no longer at the version read (or is gone).
    RoleMoved,
    NameTaken,
}

/// Deleting a custom role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleDeleteRefused {
    /// This many principals hold it.
    InUse(u64),
    Gone,
}

/// Assigning a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignRefused {
    /// The principal already holds the role.
    AssignmentExists,
    /// The principal is gone, was revoked, or holds its cap of roles.
    PrincipalMoved,
    /// The custom role is no longer at the version whose permissions were checked (widened,
    /// narrowed or deleted meanwhile).
    RoleMoved,
}

/// Removing an assignment: it (or its principal or role) is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnassignRefused {
    Gone,
}

/// Creating or changing a workload trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustWriteRefused {
    /// Another trust accepts the issuer's tokens for the audience at this index of the trust's list.
    AudienceTaken(usize),
    /// The org already holds its cap of trusts (creation).
    LimitReached,
    /// The trust is no longer at the version read, or is gone (a change or a deletion).
    TrustMoved,
}

/// Adding a member: the subject is already a member of the org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberAddRefused {
    MemberExists,
}

/// Removing a member: it (or one of its roles) is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRemoveRefused {
    Gone,
}

/// What a committed write changed, told to the caches that hold copies of it (the container's
/// own caches: other containers see the change within their cache bounds).
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A credential's status or fields.
    Credential { key_id: KeyId },
    /// A principal's status, expiry or token standing (`tokensValidAfter`).
    Principal { org: OrgId, id: PrincipalId, tokens_valid_after: Option<Timestamp> },
    /// A principal's `allowedCidrs` or `rateLimit`: what Bearer verification keeps of it is stale.
    PrincipalPolicy { org: OrgId, id: PrincipalId },
    /// One access token of a principal revoked by itself (RFC 7009).
    RevokedToken { org: OrgId, id: PrincipalId, jti: String },
    /// The org's custom roles or role assignments.
    Roles { org: OrgId },
    /// The org's settings.
    Settings { org: OrgId },
}

/// Told of every committed write's changes ([`DynamoStore::observed_by`]).
pub trait ChangeObserver: Send + Sync + std::fmt::Debug {
    fn changed(&self, change: &Change);
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

/// What authentication needs of a credential's principal, read from the principal item.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalState {
    pub principal_type: PrincipalType,
    pub principal_status: PrincipalStatus,
    pub principal_expires_at: Option<Timestamp>,
    /// Where its calls may come from (empty: anywhere).
    pub allowed_cidrs: Vec<ipnet::IpNet>,
    /// Its own rate limit (`None`: the org's default).
    pub rate_limit: Option<crate::domain::RateLimit>,
}

impl PrincipalState {
    /// The state of `principal` as its credentials carry it.
    pub fn of(principal: &Principal) -> Self {
        Self {
            principal_type: principal.principal_type,
            principal_status: principal.status,
            principal_expires_at: principal.expires_at,
            allowed_cidrs: principal.allowed_cidrs.clone(),
            rate_limit: principal.rate_limit,
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

/// A credential as stored: what clients see, its org and its secret's hash. Its principal's state
/// is the principal item's alone (authentication reads both).
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

/// A record and its principal's state, as authentication reads them (one round trip when the
/// container knows where the principal is).
#[derive(Clone, Debug)]
pub struct KeyStanding {
    pub record: CredentialRecord,
    pub principal: PrincipalState,
}

/// `?limit=` and `?cursor=` of a list route.
#[derive(Debug)]
pub struct ListParams {
    pub limit: usize,
    pub start: Option<PageKey>,
}
