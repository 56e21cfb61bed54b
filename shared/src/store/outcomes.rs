//! What the store keeps of calls' outcomes: usage per credential-hour, and recent requests.

use std::collections::BTreeMap;

use crate::domain::{OrgId, PrincipalId, Timestamp};

/// One credential's calls in one hour, by outcome (`allowed` or a refusal's code).
#[derive(Clone, Debug, PartialEq)]
pub struct UsageBucket {
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    /// The key id, or the workload trust's id; empty when neither is known.
    pub client: String,
    /// The hour's start (unix seconds).
    pub hour: i64,
    pub counts: BTreeMap<String, u64>,
}

/// One call of an API-key principal, as its recent requests show it: never a secret.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentRequest {
    #[serde(skip)]
    pub org_id: OrgId,
    #[serde(skip)]
    pub principal_id: PrincipalId,
    pub time: Timestamp,
    /// The route (API Gateway's route key) or, through the tenant authorizer, the route it guards.
    pub route: String,
    pub source_ip: Option<String>,
    /// `allowed`, or the refusal's code.
    pub code: String,
    pub request_id: String,
    /// The key id, or the workload trust's id for a token issued through one.
    pub key_id: Option<String>,
    /// How many identical calls this entry stands for (same key, outcome, route and address, in the
    /// minute of `time`): every refusal is kept, and a flood of one is one entry.
    pub count: u32,
}

/// One key's counts of one day, from its org's roll-up.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgDayUsage {
    pub principal_id: PrincipalId,
    /// The key id, or `workload`.
    pub client: String,
    pub counts: BTreeMap<String, u64>,
}

/// Recent requests are kept this many days (DynamoDB TTL).
pub const RECENT_REQUEST_DAYS: i64 = 3;
