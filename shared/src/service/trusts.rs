//! Workload trusts: create, read, list, change and delete an organisation's trusts in external
//! OIDC issuers. Mapping a trust to a principal hands whoever holds a matching token everything
//! that principal may do, so creating a trust, or changing what it accepts or whom it maps to, is
//! a grant of the principal's permissions (the grant rule).

use serde::Deserialize;
use serde_json::json;

use super::{Validation, Written, until_written};
use crate::App;
use crate::auth::federation::FetchPolicy;
use crate::auth::{Caller, resources};
use crate::domain::{
    ApiError, AuditEvent, ClaimCondition, OrgId, Patch, PrincipalId, PrincipalStatus, PrincipalType, TrustId,
    WorkloadTrust,
};
use crate::store::{TrustWriteRefused, WriteError};

/// The most workload trusts one org may hold.
pub const MAX_TRUSTS: usize = 50;
/// The most audiences one trust accepts.
pub const MAX_AUDIENCES: usize = 5;
/// The most conditions one trust holds.
pub const MAX_CONDITIONS: usize = 10;
/// The longest issuer URL, audience, or condition value.
pub const MAX_TEXT_BYTES: usize = 512;
/// The access-token lifetime a trust allows unless it says otherwise (the org's own lifetime,
/// `accessTokenTtlSeconds`, caps it too).
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS: u32 = 3600;

/// `POST /iam/orgs/{orgId}/workload-trusts`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTrust {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub issuer: String,
    pub audiences: Vec<String>,
    pub conditions: Vec<ClaimCondition>,
    pub principal_id: String,
    #[serde(default)]
    pub max_token_lifetime_seconds: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PATCH /iam/orgs/{orgId}/workload-trusts/{trustId}` (with `If-Match`): absent fields stay.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTrust {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audiences: Option<Vec<String>>,
    #[serde(default)]
    pub conditions: Option<Vec<ClaimCondition>>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub max_token_lifetime_seconds: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl Validation {
    fn trust_description(&mut self, text: &str) -> Option<String> {
        if text.chars().count() > 1024 || text.chars().any(|c| c.is_control() && c != '\n') {
            self.push("description", "must be at most 1024 characters, without control characters");
            return None;
        }
        Some(text.trim().to_string())
    }

    fn issuer(&mut self, text: &str, policy: &FetchPolicy) -> Option<String> {
        let plain = text.len() <= MAX_TEXT_BYTES && !text.contains(['?', '#']) && !text.ends_with('/');
        if !plain || !policy.allows_url(text) {
            self.push(
                "issuer",
                "must be the tokens' iss exactly: an https URL of a public host, without a query, a fragment or a trailing slash",
            );
            return None;
        }
        Some(text.to_string())
    }

    fn audiences(&mut self, audiences: &[String], org: &OrgId) {
        if audiences.is_empty() || audiences.len() > MAX_AUDIENCES {
            self.push("audiences", "must list 1 to 5 audiences");
        }
        for (i, audience) in audiences.iter().enumerate() {
            let field = format!("audiences[{i}]");
            if audience.is_empty() || audience.len() > MAX_TEXT_BYTES || audience.chars().any(char::is_control) {
                self.push(&field, "must be 1 to 512 bytes, without control characters");
            } else if !audience.contains(org.as_str()) {
                self.push(
                    &field,
                    &format!("must contain the organisation's id, {org} (for example urn:infuse:iam:{org}), so that no other organisation can claim it"),
                );
            } else if audiences[..i].contains(audience) {
                self.push(&field, "is listed twice");
            }
        }
    }

    fn conditions(&mut self, conditions: &[ClaimCondition]) {
        if conditions.is_empty() || conditions.len() > MAX_CONDITIONS {
            self.push("conditions", "must hold 1 to 10 conditions");
        }
        for (i, c) in conditions.iter().enumerate() {
            let claim_ok = !c.claim.is_empty()
                && c.claim.len() <= 64
                && c.claim.chars().all(|ch| ch.is_ascii_alphanumeric() || "_-.:/".contains(ch));
            if !claim_ok {
                self.push(
                    &format!("conditions[{i}].claim"),
                    "must be a claim name of 1 to 64 letters, digits or _-.:/",
                );
            }
            let value = match (&c.equals, &c.matches) {
                (Some(v), None) | (None, Some(v)) => v,
                _ => {
                    self.push(&format!("conditions[{i}]"), "must hold exactly one of equals and matches");
                    continue;
                }
            };
            if value.is_empty() || value.len() > MAX_TEXT_BYTES || value.chars().any(char::is_control) {
                self.push(&format!("conditions[{i}]"), "its value must be 1 to 512 bytes, without control characters");
            }
        }
        if !conditions.is_empty() && !conditions.iter().any(ClaimCondition::pins) {
            self.push(
                "conditions",
                "must pin the workload: sub, repository_id, repository_owner_id, project_id or namespace_id with equals, or with a glob whose fixed start names something and ends at : or / (repo:acme/app:*, not repo:* or repo:acme*)",
            );
        }
    }

    fn trust_principal(&mut self, text: &str) -> Option<PrincipalId> {
        match PrincipalId::parse(text) {
            Ok(id) if id.is_api_key() => Some(id),
            _ => {
                self.push("principalId", "must be an API-key principal's id (akp_…)");
                None
            }
        }
    }

    fn lifetime(&mut self, seconds: i64) -> Option<u32> {
        if !crate::domain::OrgSettings::TOKEN_TTL_RANGE.contains(&seconds) {
            self.push("maxTokenLifetimeSeconds", "must be 60 to 3600");
            return None;
        }
        u32::try_from(seconds).ok()
    }
}

impl CreateTrust {
    /// The body's field checks, every problem named at once; no I/O.
    pub fn check(
        self,
        org: &OrgId,
        policy: &FetchPolicy,
        now: crate::domain::Timestamp,
    ) -> Result<WorkloadTrust, ApiError> {
        let mut v = Validation::default();
        let name = v.name("name", &self.name);
        let description = self.description.as_deref().and_then(|d| v.trust_description(d));
        let issuer = v.issuer(&self.issuer, policy);
        v.audiences(&self.audiences, org);
        v.conditions(&self.conditions);
        let principal_id = v.trust_principal(&self.principal_id);
        let lifetime =
            v.lifetime(self.max_token_lifetime_seconds.unwrap_or(i64::from(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS)));
        v.finish()?;
        Ok(WorkloadTrust {
            id: TrustId::generate(),
            org_id: org.clone(),
            name: name.expect("validated"),
            description,
            issuer: issuer.expect("validated"),
            audiences: self.audiences,
            conditions: self.conditions,
            principal_id: principal_id.expect("validated"),
            max_token_lifetime_seconds: lifetime.expect("validated"),
            enabled: self.enabled.unwrap_or(true),
            version: 1,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            last_used_subject: None,
        })
    }
}

impl UpdateTrust {
    /// `before` with the body's changes, every problem named at once; no I/O.
    pub fn apply(
        self,
        before: &WorkloadTrust,
        policy: &FetchPolicy,
        now: crate::domain::Timestamp,
    ) -> Result<WorkloadTrust, ApiError> {
        let mut v = Validation::default();
        let mut after = before.clone();
        if let Some(name) = self.name.as_deref().and_then(|n| v.name("name", n)) {
            after.name = name;
        }
        match &self.description {
            Patch::Absent => {}
            Patch::Null => after.description = None,
            Patch::Value(d) => after.description = v.trust_description(d),
        }
        if let Some(issuer) = self.issuer.as_deref().and_then(|i| v.issuer(i, policy)) {
            after.issuer = issuer;
        }
        if let Some(audiences) = self.audiences {
            v.audiences(&audiences, &before.org_id);
            after.audiences = audiences;
        }
        if let Some(conditions) = self.conditions {
            v.conditions(&conditions);
            after.conditions = conditions;
        }
        if let Some(id) = self.principal_id.as_deref().and_then(|p| v.trust_principal(p)) {
            after.principal_id = id;
        }
        if let Some(lifetime) = self.max_token_lifetime_seconds.and_then(|s| v.lifetime(s)) {
            after.max_token_lifetime_seconds = lifetime;
        }
        if let Some(enabled) = self.enabled {
            after.enabled = enabled;
        }
        v.finish()?;
        // A change that changes nothing keeps the version.
        if after != *before {
            after.version = before.version + 1;
            after.updated_at = now;
        }
        Ok(after)
    }
}

/// Whether `after` accepts a token, or maps to a principal, that `before` did not: anything but a
/// rename, a new description, a shorter lifetime or disabling it.
pub fn widens(before: &WorkloadTrust, after: &WorkloadTrust) -> bool {
    before.issuer != after.issuer
        || after.audiences.iter().any(|a| !before.audiences.contains(a))
        || before.conditions.iter().any(|c| !after.conditions.contains(c))
        || before.principal_id != after.principal_id
        || after.max_token_lifetime_seconds > before.max_token_lifetime_seconds
        || (after.enabled && !before.enabled)
}

/// The principal a trust maps to must be one of the org's API-key principals that is not revoked.
async fn check_principal(app: &App, org: &OrgId, id: &PrincipalId) -> Result<(), ApiError> {
    let record = app.store.get_principal(org, id).await?.ok_or(ApiError::NotFound("API-key principal"))?;
    match (record.principal.principal_type, record.principal.status) {
        (PrincipalType::ApiKey, PrincipalStatus::Revoked) => Err(ApiError::PrincipalRevoked),
        (PrincipalType::ApiKey, _) => Ok(()),
        (PrincipalType::User, _) => Err(ApiError::NotFound("API-key principal")),
    }
}

fn audit(app: &App, caller: &Caller, action: &str, trust: &WorkloadTrust, request_id: &str) -> AuditEvent {
    AuditEvent::new(
        trust.org_id.clone(),
        caller.actor(),
        action,
        resources::workload_trust(&trust.id),
        app.clock.now(),
        request_id,
        json!({
            "name": trust.name,
            "issuer": trust.issuer,
            "audiences": trust.audiences,
            "conditions": trust.conditions,
            "principalId": trust.principal_id,
            "enabled": trust.enabled,
        }),
    )
}

/// What a refused write of `trust` answers; `None`: it changed meanwhile (read and decide again).
fn refused(refused: TrustWriteRefused, trust: &WorkloadTrust) -> Option<ApiError> {
    match refused {
        TrustWriteRefused::AudienceTaken(i) => {
            Some(ApiError::TrustAudienceTaken(trust.audiences.get(i).cloned().unwrap_or_default()))
        }
        TrustWriteRefused::LimitReached => Some(ApiError::TrustLimitReached { cap: MAX_TRUSTS }),
        TrustWriteRefused::TrustMoved => None,
    }
}

/// One attempt's write: done, refused, or to be decided again.
fn written<T>(
    write: Result<(), WriteError<TrustWriteRefused>>,
    trust: &WorkloadTrust,
    answer: T,
) -> Result<Written<T>, ApiError> {
    match write {
        Ok(()) => Ok(Written::Done(answer)),
        Err(WriteError::Violated(refusal)) => refused(refusal, trust).map_or(Ok(Written::Retry), Err),
        Err(WriteError::Contention) => Ok(Written::Retry),
        Err(err) => Err(super::failure(err)),
    }
}

/// Creates a trust: a grant of its principal's permissions.
pub async fn create(
    app: &App,
    caller: &Caller,
    input: CreateTrust,
    request_id: &str,
) -> Result<WorkloadTrust, ApiError> {
    let trust = input.check(&caller.org_id, app.issuers.policy(), app.clock.now())?;
    check_principal(app, &caller.org_id, &trust.principal_id).await?;
    app.authorize_acting_as(caller, &trust.principal_id).await?;
    let event = audit(app, caller, "iam:workloadTrusts:create", &trust, request_id);
    let (trust, event) = (&trust, &event);
    until_written(
        || async move { written(app.store.create_trust(trust, event, MAX_TRUSTS).await, trust, trust.clone()) },
    )
    .await
}

/// One of the org's trusts.
pub async fn get(app: &App, org: &OrgId, id: &TrustId) -> Result<WorkloadTrust, ApiError> {
    app.store.get_trust(org, id).await?.ok_or(ApiError::NotFound("workload trust"))
}

/// Every trust of the org (at most [`MAX_TRUSTS`]), oldest first.
pub async fn list(app: &App, org: &OrgId) -> Result<Vec<WorkloadTrust>, ApiError> {
    Ok(app.store.list_trusts(org).await?)
}

/// Changes a trust, at the version `expected` when given (`If-Match`, else 412); a change that
/// widens it is a grant of its (new) principal's permissions. A change that changes nothing keeps
/// the version and writes nothing.
pub async fn update(
    app: &App,
    caller: &Caller,
    id: &TrustId,
    input: UpdateTrust,
    expected: Option<u64>,
    request_id: &str,
) -> Result<WorkloadTrust, ApiError> {
    let input = &input;
    until_written(|| async move {
        let before = get(app, &caller.org_id, id).await?;
        if expected.is_some_and(|v| v != before.version) {
            return Err(ApiError::VersionMismatch { current: before.version });
        }
        let after = input.clone().apply(&before, app.issuers.policy(), app.clock.now())?;
        if after.version == before.version {
            return Ok(Written::Done(before));
        }
        if widens(&before, &after) {
            check_principal(app, &caller.org_id, &after.principal_id).await?;
            app.authorize_acting_as(caller, &after.principal_id).await?;
        }
        let event = audit(app, caller, "iam:workloadTrusts:update", &after, request_id);
        let write = app.store.update_trust(&before, &after, &event).await;
        written(write, &after, after.clone())
    })
    .await
}

/// Deletes a trust: tokens exchanged through it live on until they expire (revoke its principal's
/// tokens to end them at once).
pub async fn delete(app: &App, caller: &Caller, id: &TrustId, request_id: &str) -> Result<(), ApiError> {
    until_written(|| async move {
        let trust = get(app, &caller.org_id, id).await?;
        let event = audit(app, caller, "iam:workloadTrusts:delete", &trust, request_id);
        written(app.store.delete_trust(&trust, &event).await, &trust, ())
    })
    .await
}
