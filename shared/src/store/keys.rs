//! The single-table layout: every partition key, sort key and index key is built here and nowhere
//! else. docs/data-model.md lists the access patterns these keys serve.

use crate::domain::{
    CredentialStatus, KeyId, OrgId, PrincipalId, PrincipalStatus, RoleId, Timestamp, TrustId, role_name_skeleton,
};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// The sparse, hour-bucketed expiry index: only Active credentials with an expiry carry its keys.
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// The sparse outbox index: audit events whose lifecycle event is not yet published.
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// The outbox's partitions: an event's shard is a hash of its id, so a burst of events (a sweep
/// expiring a batch created together) spreads over this many partitions, which a drain reads in turn.
pub const OUTBOX_SHARDS: u32 = 8;
/// Epoch seconds after which DynamoDB may purge an ended (revoked or expired) record.
pub const TTL: &str = "ttl";

/// The attribute names that expressions and hand-built items use. The records of
/// `store::dynamo::items` carry the same names as their serde names; a test holds the two together.
pub mod attr {
    pub const VERSION: &str = "version";
    pub const STATUS: &str = "status";
    pub const EXPIRES_AT: &str = "expiresAt";
    /// A principal's allowlist and own rate limit: absent when it has none.
    pub const ALLOWED_CIDRS: &str = "allowedCidrs";
    pub const RATE_LIMIT: &str = "rateLimit";
    pub const DESCRIPTION: &str = "description";
    pub const ORG_ID: &str = "orgId";
    /// A principal's set of Active credential key ids (its credential cap's condition).
    pub const ACTIVE_KEY_IDS: &str = "activeKeyIds";
    /// Bumped whenever `activeKeyIds` changes.
    pub const CREDENTIALS_VERSION: &str = "credentialsVersion";
    /// A principal's set of role ids (its role cap's condition).
    pub const ROLE_IDS: &str = "roleIds";
    pub const LAST_USED_AT: &str = "lastUsedAt";
    /// Where the last use came from and what it called: written with `lastUsedAt`.
    pub const LAST_USED_IP: &str = "lastUsedIp";
    pub const LAST_USED_ROUTE: &str = "lastUsedRoute";
    pub const REVOKED_AT: &str = "revokedAt";
    /// A rate-limit window's calls leased so far (its cap's condition).
    pub const LEASED: &str = "leased";
    /// A principal's individually revoked access tokens (`<exp>:<jti>`, a string set).
    pub const REVOKED_TOKENS: &str = "revokedTokens";
    /// A principal's access tokens issued at or before this time are refused.
    pub const TOKENS_VALID_AFTER: &str = "tokensValidAfter";
    pub const NAME: &str = "name";
    /// The credential that replaced a rolled one.
    pub const REPLACED_BY: &str = "replacedBy";
    /// How many principals hold a custom role (its deletion's condition).
    pub const ASSIGNMENT_COUNT: &str = "assignmentCount";
    /// The org item's count of its custom roles (the role cap's condition).
    pub const CUSTOM_ROLES: &str = "customRoles";
    pub const SETTINGS: &str = "settings";
    /// The sweep's warning state: every credential expiring until then has had that warning.
    pub const WARNED_THROUGH: &str = "warnedThrough";
    /// On a credential: the closest expiry warning given (7, then 1 days before).
    pub const EXPIRY_WARNED_DAYS: &str = "expiryWarnedDays";
    /// The sweep state's last hour fully swept.
    pub const SWEPT_THROUGH_HOUR: &str = "sweptThroughHour";
    /// The org item's count of its workload trusts (the trust cap's condition).
    pub const WORKLOAD_TRUSTS: &str = "workloadTrusts";
    /// A workload trust's id (on the trust and on each of its audience items).
    pub const ID: &str = "id";
    /// Whose token a workload trust last accepted (written with `lastUsedAt`).
    pub const LAST_USED_SUBJECT: &str = "lastUsedSubject";
}

/// Org item: `ORG#<orgId>` / `ORG`.
pub fn org(org: &OrgId) -> (String, String) {
    (org_pk(org), "ORG".into())
}

fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// Principal item: `ORG#<orgId>` / `PRINCIPAL#<principalId>`, beside its org.
pub fn principal(org: &OrgId, id: &PrincipalId) -> (String, String) {
    (org_pk(org), format!("PRINCIPAL#{id}"))
}

/// All API-key principals of an org (base table, strongly consistent, oldest first).
pub fn api_key_principals(org: &OrgId) -> (String, &'static str) {
    (org_pk(org), "PRINCIPAL#akp_")
}

/// GSI1 keys of a principal: the org's API-key principals by status.
pub fn principal_by_status(org: &OrgId, status: PrincipalStatus, id: &PrincipalId) -> (String, String) {
    (principals_by_status_pk(org), format!("{}#{id}", status.as_str()))
}

/// GSI1 partition of an org's API-key principals.
pub fn principals_by_status_pk(org: &OrgId) -> String {
    format!("ORG#{org}#APIKEYS")
}

/// GSI1 sort-key prefix for one principal status.
pub fn principal_status_prefix(status: PrincipalStatus) -> String {
    format!("{}#", status.as_str())
}

/// Credential item: `CRED#<keyId>` / `CRED`: the one strongly consistent read of authentication.
pub fn credential(key_id: &KeyId) -> (String, String) {
    (format!("CRED#{key_id}"), "CRED".into())
}

/// GSI1 keys of a credential: the principal's credentials by status, then creation time.
pub fn credential_by_principal(
    org: &OrgId,
    principal: &PrincipalId,
    status: CredentialStatus,
    created_at: Timestamp,
    key_id: &KeyId,
) -> (String, String) {
    (credentials_of_pk(org, principal), format!("{}#{created_at}#{key_id}", status.as_str()))
}

/// GSI1 partition of one principal's credentials.
pub fn credentials_of_pk(org: &OrgId, principal: &PrincipalId) -> String {
    format!("ORG#{org}#AKP#{principal}#CREDS")
}

/// GSI1 sort-key prefix for one credential status.
pub fn credential_status_prefix(status: CredentialStatus) -> String {
    format!("{}#", status.as_str())
}

/// The expiry index's partitions per hour: a credential's shard is a hash of its key id, so that a
/// batch created together with one lifetime (all expiring in one hour) spreads its index writes, and
/// the sweep's reads, over this many partitions instead of one (docs/operations.md, Scale).
pub const EXPIRY_SHARDS: u32 = 4;

/// GSI2 keys of an expiring credential: its expiry hour and shard, then its expiry time.
pub fn credential_by_expiry(expires_at: Timestamp, key_id: &KeyId) -> (String, String) {
    let shard = crc32fast::hash(key_id.as_str().as_bytes()) % EXPIRY_SHARDS;
    (expiry_bucket(&expires_at.hour_bucket(), shard), format!("{expires_at}#{key_id}"))
}

/// GSI2 partition of one shard of one expiry hour (`EXPIRY#2026-11-22T10#7`).
pub fn expiry_bucket(hour: &str, shard: u32) -> String {
    format!("EXPIRY#{hour}#{shard}")
}

/// The expiry sweep's progress: `SWEEP` / `EXPIRY`, holding the last hour fully swept.
pub fn sweep_state() -> (String, String) {
    ("SWEEP".into(), "EXPIRY".into())
}

/// The sweep's progress with the warnings given `days` before expiry: `SWEEP` / `EXPIRING#<days>`.
pub fn warning_state(days: u32) -> (String, String) {
    ("SWEEP".into(), format!("EXPIRING#{days}"))
}

/// The audit log's partitions per org: an event's shard is a hash of its id, so one org's changes
/// (a sweep expiring a large batch) are not one partition's 1,000 writes/s (docs/operations.md, Scale).
pub const AUDIT_SHARDS: u32 = 4;

/// Audit event item: `AUDIT#<orgId>#<shard>` / `EVT#<eventId>`; event ids are ULIDs, so newest first
/// is a reverse query of each shard, merged.
pub fn audit_event(org: &OrgId, event_id: &str) -> (String, String) {
    (audit_pk(org, crc32fast::hash(event_id.as_bytes()) % AUDIT_SHARDS), format!("EVT#{event_id}"))
}

/// One shard of an org's audit events: its partition, sort keys beginning `EVT#`.
pub fn audit_events_of(org: &OrgId, shard: u32) -> (String, &'static str) {
    (audit_pk(org, shard), "EVT#")
}

/// GSI3 keys of an unpublished lifecycle event: `OUTBOX#<shard>` / its event id (a ULID, so a
/// shard reads oldest first).
pub fn outbox_entry(event_id: &str) -> (String, String) {
    (outbox_shard(crc32fast::hash(event_id.as_bytes()) % OUTBOX_SHARDS), event_id.to_string())
}

/// GSI3 partition of one outbox shard.
pub fn outbox_shard(shard: u32) -> String {
    format!("OUTBOX#{shard}")
}

/// Custom role item: `ORG#<orgId>` / `ROLE#<roleId>`.
pub fn role(org: &OrgId, id: &RoleId) -> (String, String) {
    (org_pk(org), format!("ROLE#{id}"))
}

/// All custom roles of an org: the org partition, sort keys beginning `ROLE#`.
pub fn roles_of(org: &OrgId) -> (String, &'static str) {
    (org_pk(org), "ROLE#")
}

/// The uniqueness guard of a role name within an org: `ROLENAME#<skeleton>` (see
/// [`role_name_skeleton`]: case and look-alikes do not make another name), or the skeleton's
/// SHA-256 where NFKC made it too long for a sort key.
pub fn role_name(org: &OrgId, name: &str) -> (String, String) {
    let skeleton = role_name_skeleton(name);
    let guard = if skeleton.len() <= 256 {
        skeleton
    } else {
        use sha2::Digest;
        format!(
            "sha256:{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sha2::Sha256::digest(&skeleton))
        )
    };
    (org_pk(org), format!("ROLENAME#{guard}"))
}

/// Assignment item: `ORG#<orgId>` / `ASSIGN#<principalId>#<roleId>`.
pub fn assignment(org: &OrgId, principal: &PrincipalId, role: &RoleId) -> (String, String) {
    (org_pk(org), format!("ASSIGN#{principal}#{role}"))
}

/// A principal's assignments: the org partition, sort keys beginning `ASSIGN#<principalId>#`.
pub fn assignments_of_principal(org: &OrgId, principal: &PrincipalId) -> (String, String) {
    (org_pk(org), format!("ASSIGN#{principal}#"))
}

/// GSI1 keys of an assignment: the role's assignments, by principal.
pub fn assignment_by_role(org: &OrgId, role: &RoleId, principal: &PrincipalId) -> (String, String) {
    (assignments_of_role_pk(org, role), principal.to_string())
}

/// GSI1 partition of one role's assignments.
pub fn assignments_of_role_pk(org: &OrgId, role: &RoleId) -> String {
    format!("ORG#{org}#ROLE#{role}#ASSIGNED")
}

/// One of the org's audit partitions.
pub fn audit_pk(org: &OrgId, shard: u32) -> String {
    format!("AUDIT#{org}#{shard}")
}

/// A membership's subject guard: `ORG#<orgId>` / `MEMBERSUB#<sub>` → the member's principal id
/// (one membership per subject per org, and how a member token finds its principal).
pub fn member_subject(org: &OrgId, subject: &str) -> (String, String) {
    (org_pk(org), format!("MEMBERSUB#{subject}"))
}

/// A subject's membership of an org: `SUBJECT#<sub>` / `ORG#<orgId>` → the member's principal id,
/// written and deleted with the member (how `GET /iam/me` finds a subject's organisations).
pub fn subject_membership(subject: &str, org: &OrgId) -> (String, String) {
    (subject_pk(subject), format!("ORG#{org}"))
}

/// Every membership of a subject: its partition, sort keys beginning `ORG#`.
pub fn memberships_of_subject(subject: &str) -> (String, &'static str) {
    (subject_pk(subject), "ORG#")
}

fn subject_pk(subject: &str) -> String {
    format!("SUBJECT#{subject}")
}

/// Workload trust item: `ORG#<orgId>` / `TRUST#<trustId>`.
pub fn workload_trust(org: &OrgId, id: &TrustId) -> (String, String) {
    (org_pk(org), format!("TRUST#{id}"))
}

/// Every workload trust of an org: the org partition, sort keys beginning `TRUST#`.
pub fn workload_trusts_of(org: &OrgId) -> (String, &'static str) {
    (org_pk(org), "TRUST#")
}

/// A workload trust's audience item, one per audience, holding a copy of the trust: how a token
/// exchange finds the trust from the token's `iss` and `aud` alone, in one read, and the guard
/// that no two trusts accept one issuer's tokens for one audience.
/// `WTAUD#<base64url(SHA-256(issuer "\n" audience))>` / `WTAUD`.
pub fn trust_audience(issuer: &str, audience: &str) -> (String, String) {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{issuer}\n{audience}").as_bytes());
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest);
    (format!("WTAUD#{encoded}"), "WTAUD".into())
}

/// All members (User principals) of an org.
pub fn members_of(org: &OrgId) -> (String, &'static str) {
    (org_pk(org), "PRINCIPAL#usr_")
}

/// One window of a principal's rate limit: the count of calls its containers leased in it. Its own
/// partition per principal, so one busy principal's counters never share a partition with the org.
pub fn rate_window(org: &OrgId, principal: &PrincipalId, period_seconds: u32, window: i64) -> (String, String) {
    (format!("RATE#{org}#{principal}"), format!("W#{period_seconds}#{window}"))
}

/// One credential's (or workload trust's) calls in one hour, counted by outcome: under its
/// principal's partition, so a principal's usage over a range is one query.
pub fn usage(org: &OrgId, principal: &PrincipalId, hour: i64, client: &str) -> (String, String) {
    (usage_pk(org, principal), format!("{}{client}", usage_hour_prefix(hour)))
}

/// The partition of a principal's usage.
pub fn usage_pk(org: &OrgId, principal: &PrincipalId) -> String {
    format!("USAGE#{org}#{principal}")
}

/// The sort-key prefix of one hour's usage (the hour's unix seconds, zero-padded: they sort as numbers).
pub fn usage_hour_prefix(hour: i64) -> String {
    format!("H#{hour:012}#")
}

/// One recent request of a principal, newest last in sort order.
pub fn recent_request(org: &OrgId, principal: &PrincipalId, time: Timestamp, request_id: &str) -> (String, String) {
    (recent_pk(org, principal), format!("{time}#{request_id}"))
}

/// The partition of a principal's recent requests.
pub fn recent_pk(org: &OrgId, principal: &PrincipalId) -> String {
    format!("RECENT#{org}#{principal}")
}

/// One key's calls of one day in its org's roll-up: the org's busiest keys are a query per day.
pub fn org_usage(org: &OrgId, day: i64, principal: &PrincipalId, client: &str) -> (String, String) {
    (org_usage_pk(org, day), format!("{principal}#{client}"))
}

/// The partition of an org's usage of one day (its start, unix seconds).
pub fn org_usage_pk(org: &OrgId, day: i64) -> String {
    format!("ORGUSAGE#{org}#{day}")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::auth::ApiKey;

    #[test]
    fn a_batch_expiring_in_one_hour_spreads_over_every_expiry_shard() {
        let at = Timestamp::from_unix(1_800_000_000);
        let mut per_partition: HashMap<String, usize> = HashMap::new();
        for _ in 0..800 {
            let key = ApiKey::generate().key;
            *per_partition.entry(credential_by_expiry(at, key.key_id()).0).or_default() += 1;
        }
        assert_eq!(per_partition.len(), EXPIRY_SHARDS as usize);
        // 200 each on average; a hash of random ids stays well within twice that.
        assert!(per_partition.values().all(|&n| n < 400), "{per_partition:?}");
    }

    #[test]
    fn outbox_entries_spread_over_every_outbox_shard() {
        let shards: std::collections::HashSet<String> =
            (0..400).map(|_| outbox_entry(&format!("evt_{}", ulid::Ulid::new())).0).collect();
        assert_eq!(shards.len(), OUTBOX_SHARDS as usize);
    }
}
