//! API-key principals: create, read, list, change.

use serde::Deserialize;
use serde_json::json;

use super::{Validation, Written, until_written};
use crate::App;
use crate::auth::resources;
use crate::domain::{
    Actor, AuditEvent, Name, OrgId, Principal, PrincipalId, PrincipalStatus, PrincipalType, Timestamp,
};
use crate::domain::{ApiError, EventFacts, EventType, Patch, RateLimit, parse_allowed_cidrs};
use crate::store::ListParams;
use crate::store::Page;
use ipnet::IpNet;

/// `POST /iam/orgs/{orgId}/api-keys`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePrincipal {
    pub display_name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    /// IPv4 and IPv6 networks its calls may come from (absent or empty: any).
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
    /// `{"limit", "periodSeconds"}`; absent or `null`: the org's `defaultRateLimit`.
    #[serde(default)]
    pub rate_limit: Option<serde_json::Value>,
}

/// `PATCH /iam/orgs/{orgId}/api-keys/{principalId}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePrincipal {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub expires_at: Patch<String>,
    /// Replaces the allowlist (`[]`: any address).
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
    /// `null`: the org's `defaultRateLimit` from now on.
    #[serde(default)]
    pub rate_limit: Patch<serde_json::Value>,
}

/// A checked [`CreatePrincipal`].
#[derive(Debug)]
pub struct NewPrincipal {
    pub display_name: Name,
    pub status: PrincipalStatus,
    pub expires_at: Option<Timestamp>,
    pub allowed_cidrs: Vec<IpNet>,
    pub rate_limit: Option<RateLimit>,
}

impl CreatePrincipal {
    /// The body's field checks, every problem named at once; no I/O.
    pub fn check(&self, now: Timestamp) -> Result<NewPrincipal, ApiError> {
        let mut v = Validation::default();
        let display_name = v.name("displayName", &self.display_name);
        let status = match self.status.as_deref() {
            None | Some("Active") => PrincipalStatus::Active,
            Some("Suspended") => PrincipalStatus::Suspended,
            Some(_) => {
                v.push("status", "must be Active or Suspended");
                PrincipalStatus::Active
            }
        };
        let expires_at = v.expiry(self.expires_at.as_deref(), now);
        let allowed_cidrs = parse_allowed_cidrs(self.allowed_cidrs.as_deref().unwrap_or_default(), &mut v.0);
        let rate_limit = match &self.rate_limit {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => RateLimit::parse("rateLimit", value, &mut v.0),
        };
        v.finish()?;
        Ok(NewPrincipal {
            display_name: display_name.expect("validated"),
            status,
            expires_at,
            allowed_cidrs,
            rate_limit,
        })
    }
}

/// A checked [`UpdatePrincipal`]: `None` leaves a field as it is.
#[derive(Debug)]
pub struct PrincipalChange {
    pub display_name: Option<Name>,
    pub status: Option<PrincipalStatus>,
    /// `Some(None)` clears the expiry.
    pub expires_at: Option<Option<Timestamp>>,
    pub allowed_cidrs: Option<Vec<IpNet>>,
    /// `Some(None)`: the org's default from now on.
    pub rate_limit: Option<Option<RateLimit>>,
}

impl UpdatePrincipal {
    /// The body's field checks, every problem named at once; no I/O.
    pub fn check(&self, now: Timestamp) -> Result<PrincipalChange, ApiError> {
        let mut v = Validation::default();
        let display_name = self.display_name.as_deref().and_then(|n| v.name("displayName", n));
        let status = match self.status.as_deref() {
            None => None,
            Some(text) => {
                let parsed = PrincipalStatus::parse(text);
                if parsed.is_none() {
                    v.push("status", "must be Active, Suspended or Revoked");
                }
                parsed
            }
        };
        let expires_at = match &self.expires_at {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(t) => v.future_time("expiresAt", t, now).map(Some),
        };
        let allowed_cidrs = self.allowed_cidrs.as_deref().map(|texts| parse_allowed_cidrs(texts, &mut v.0));
        let rate_limit = match &self.rate_limit {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(value) => RateLimit::parse("rateLimit", value, &mut v.0).map(Some),
        };
        v.finish()?;
        Ok(PrincipalChange { display_name, status, expires_at, allowed_cidrs, rate_limit })
    }
}

/// The cursor scope of a principal list.
pub fn list_scope(org: &OrgId, status: Option<PrincipalStatus>) -> String {
    format!("api-keys|{org}|{}", status.map_or("*", PrincipalStatus::as_str))
}

const WHAT: &str = "API-key principal";

/// Creates an API-key principal, Active unless asked to start Suspended.
pub async fn create(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    input: CreatePrincipal,
    request_id: &str,
) -> Result<Principal, ApiError> {
    let now = app.clock.now();
    let NewPrincipal { display_name, status, expires_at, allowed_cidrs, rate_limit } = input.check(now)?;
    let principal = Principal {
        id: PrincipalId::generate(),
        org_id: org.clone(),
        principal_type: PrincipalType::ApiKey,
        display_name,
        status,
        expires_at,
        created_at: now,
        updated_at: now,
        version: 1,
        subject: None,
        email: None,
        tokens_valid_after: None,
        allowed_cidrs,
        rate_limit,
    };
    let audit = AuditEvent::new(
        org.clone(),
        actor.clone(),
        "iam:apiKeys:create",
        resources::api_key(&principal.id),
        now,
        request_id,
        json!({
            "displayName": principal.display_name,
            "status": principal.status,
            "expiresAt": principal.expires_at,
            "allowedCidrs": principal.allowed_cidrs,
            "rateLimit": principal.rate_limit,
        }),
    );
    let (principal, audit) = (&principal, &audit);
    until_written(|| async move {
        match app.store.create_principal(principal, audit).await {
            Ok(()) => Ok(Written::Done(principal.clone())),
            // A concurrent transaction on the same items decides nothing: again.
            Err(crate::store::StoreError::Contention) => Ok(Written::Retry),
            Err(err) => Err(err.into()),
        }
    })
    .await
}

/// One principal of the org.
pub async fn get(app: &App, org: &OrgId, id: &PrincipalId) -> Result<Principal, ApiError> {
    Ok(app.store.get_principal(org, id).await?.ok_or(ApiError::NotFound(WHAT))?.principal)
}

/// A page of the org's principals, optionally of one status.
pub async fn list(
    app: &App,
    org: &OrgId,
    status: Option<PrincipalStatus>,
    params: ListParams,
) -> Result<Page<Principal>, ApiError> {
    Ok(app.store.list_principals(org, status, params.limit, params.start).await?)
}

/// Applies a change. With `if_match`, refuses (412) unless the principal is at that version.
/// Revoked is final (409). One item is written whatever the principal's number of credentials:
/// authentication reads the principal's state from its item, so the next one sees the change.
pub async fn update(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    id: &PrincipalId,
    input: UpdatePrincipal,
    if_match: Option<u64>,
    request_id: &str,
) -> Result<Principal, ApiError> {
    let now = app.clock.now();
    let PrincipalChange { display_name, status, expires_at, allowed_cidrs, rate_limit } = input.check(now)?;
    let (display_name, allowed_cidrs) = (&display_name, &allowed_cidrs);
    until_written(|| async move {
        let before = app.store.get_principal(org, id).await?.ok_or(ApiError::NotFound(WHAT))?;
        if if_match.is_some_and(|expected| expected != before.principal.version) {
            return Err(ApiError::VersionMismatch { current: before.principal.version });
        }
        before.principal.check_change_allowed().map_err(|_| ApiError::PrincipalRevoked)?;
        let mut after = before.principal.clone();
        if let Some(name) = &display_name {
            after.display_name = name.clone();
        }
        if let Some(status) = status {
            // Suspending or revoking a principal also ends the access tokens it already holds.
            if status != after.status && status != PrincipalStatus::Active {
                after.tokens_valid_after = Some(latest(before.principal.tokens_valid_after, now));
            }
            after.status = status;
        }
        if let Some(expires_at) = expires_at {
            after.expires_at = expires_at;
        }
        if let Some(cidrs) = allowed_cidrs {
            after.allowed_cidrs = cidrs.clone();
        }
        if let Some(limit) = rate_limit {
            after.rate_limit = limit;
        }
        if after == before.principal {
            return Ok(Written::Done(after));
        }
        after.version += 1;
        after.updated_at = now;
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:apiKeys:update",
            resources::api_key(id),
            now,
            request_id,
            changes(&before.principal, &after),
        );
        // A change of status to Suspended or Revoked is published (Active again is not an event).
        let event = match after.status {
            _ if after.status == before.principal.status => None,
            PrincipalStatus::Suspended => Some(EventType::PrincipalSuspended),
            PrincipalStatus::Revoked => Some(EventType::PrincipalRevoked),
            _ => None,
        };
        let audit = match event {
            Some(event) => audit.with_event(EventFacts::about(event, id)),
            None => audit,
        };
        Written::of(app.store.update_principal(&before, &after, &audit).await, after)
    })
    .await
}

/// Ends every access token the principal holds now: tokens issued at or before this moment are
/// refused (401 `token_revoked`) within the verifiers' cache bound (docs/security.md). Its keys
/// keep working: a new exchange gives a valid token (from the next second on).
pub async fn revoke_tokens(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    id: &PrincipalId,
    request_id: &str,
) -> Result<Principal, ApiError> {
    until_written(|| async move {
        let before = app.store.get_principal(org, id).await?.ok_or(ApiError::NotFound(WHAT))?;
        let now = app.clock.now();
        let mut after = before.principal.clone();
        after.tokens_valid_after = Some(latest(before.principal.tokens_valid_after, now));
        after.version += 1;
        after.updated_at = now;
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:apiKeys:revokeTokens",
            resources::api_key(id),
            now,
            request_id,
            json!({"tokensValidAfter": now, "version": after.version}),
        );
        Written::of(app.store.update_principal(&before, &after, &audit).await, after)
    })
    .await
}

/// Ends the principal's access tokens issued at or before `until` (a leaked key's end: the tokens
/// exchanged with it cannot be younger), leaving those issued since, from its other keys; nothing is
/// written when `tokensValidAfter` is already there. `None` for a principal that is gone.
pub async fn end_tokens_issued_until(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    id: &PrincipalId,
    until: Timestamp,
    details: serde_json::Value,
    request_id: &str,
) -> Result<Option<Principal>, ApiError> {
    let details = &details;
    until_written(|| async move {
        let Some(before) = app.store.get_principal(org, id).await? else { return Ok(Written::Done(None)) };
        if before.principal.tokens_valid_after.is_some_and(|t| t >= until) {
            return Ok(Written::Done(Some(before.principal)));
        }
        let now = app.clock.now();
        let mut after = before.principal.clone();
        after.tokens_valid_after = Some(until);
        after.version += 1;
        after.updated_at = now;
        let mut facts = json!({"tokensValidAfter": until, "version": after.version});
        if let (Some(facts), Some(extra)) = (facts.as_object_mut(), details.as_object()) {
            facts.extend(extra.clone());
        }
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:apiKeys:revokeTokens",
            resources::api_key(id),
            now,
            request_id,
            facts,
        );
        Written::of(app.store.update_principal(&before, &after, &audit).await, Some(after))
    })
    .await
}

/// `tokensValidAfter` never moves backwards, whatever the clock of the container writing it.
fn latest(stored: Option<Timestamp>, now: Timestamp) -> Timestamp {
    stored.map_or(now, |t| t.max(now))
}

fn changes(before: &Principal, after: &Principal) -> serde_json::Value {
    let mut changes = serde_json::Map::new();
    if before.display_name != after.display_name {
        changes.insert("displayName".into(), json!({"from": before.display_name, "to": after.display_name}));
    }
    if before.status != after.status {
        changes.insert("status".into(), json!({"from": before.status, "to": after.status}));
    }
    if before.expires_at != after.expires_at {
        changes.insert("expiresAt".into(), json!({"from": before.expires_at, "to": after.expires_at}));
    }
    if before.allowed_cidrs != after.allowed_cidrs {
        changes.insert("allowedCidrs".into(), json!({"from": before.allowed_cidrs, "to": after.allowed_cidrs}));
    }
    if before.rate_limit != after.rate_limit {
        changes.insert("rateLimit".into(), json!({"from": before.rate_limit, "to": after.rate_limit}));
    }
    if before.tokens_valid_after != after.tokens_valid_after {
        changes.insert(
            "tokensValidAfter".into(),
            json!({"from": before.tokens_valid_after, "to": after.tokens_valid_after}),
        );
    }
    json!({ "changes": changes, "version": after.version })
}
