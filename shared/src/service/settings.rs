//! Org settings and the audit log.

use serde::Deserialize;
use serde_json::json;

use super::{Validation, Written, until_written};
use crate::App;
use crate::auth::resources;
use crate::domain::ApiError;
use crate::domain::{Actor, AuditEvent, AuditEvent as Event, OrgId, OrgSettings, Patch, RateLimit};
use crate::store::ListParams;
use crate::store::{OrgRecord, Page};

/// `PATCH /iam/orgs/{orgId}/settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSettings {
    #[serde(default)]
    pub direct_api_key_auth: Option<bool>,
    #[serde(default, deserialize_with = "crate::domain::json_integer")]
    pub access_token_ttl_seconds: Option<i64>,
    #[serde(default, deserialize_with = "crate::domain::json_integer")]
    pub max_active_credentials_per_principal: Option<i64>,
    /// `null` removes the limit (absent leaves it).
    #[serde(default, deserialize_with = "crate::domain::json_integer_patch")]
    pub max_credential_lifetime_days: Patch<i64>,
    #[serde(default)]
    pub require_credential_expiry: Option<bool>,
    #[serde(default, deserialize_with = "crate::domain::json_integer")]
    pub direct_api_key_cache_seconds: Option<i64>,
    /// `{"limit", "periodSeconds"}`, or `null` for none (absent leaves it).
    #[serde(default)]
    pub default_rate_limit: Patch<serde_json::Value>,
}

impl UpdateSettings {
    /// The ranges of the settings (no I/O); answers the `defaultRateLimit` change.
    pub fn check(&self) -> Result<Patch<RateLimit>, ApiError> {
        let mut v = Validation::default();
        let default_rate_limit = match &self.default_rate_limit {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(value) => {
                RateLimit::parse("defaultRateLimit", value, &mut v.0).map_or(Patch::Absent, Patch::Value)
            }
        };
        let ttl = OrgSettings::TOKEN_TTL_RANGE;
        if self.access_token_ttl_seconds.is_some_and(|t| !ttl.contains(&t)) {
            v.push("accessTokenTtlSeconds", &format!("must be from {} to {}", ttl.start(), ttl.end()));
        }
        let cap = OrgSettings::CREDENTIAL_CAP_RANGE;
        if self.max_active_credentials_per_principal.is_some_and(|c| !cap.contains(&c)) {
            v.push("maxActiveCredentialsPerPrincipal", &format!("must be from {} to {}", cap.start(), cap.end()));
        }
        let days = OrgSettings::CREDENTIAL_LIFETIME_RANGE;
        if matches!(self.max_credential_lifetime_days, Patch::Value(d) if !days.contains(&d)) {
            v.push(
                "maxCredentialLifetimeDays",
                &format!("must be from {} to {} days, or null for no limit", days.start(), days.end()),
            );
        }
        let cache = OrgSettings::DIRECT_CACHE_RANGE;
        if self.direct_api_key_cache_seconds.is_some_and(|c| !cache.contains(&c)) {
            v.push("directApiKeyCacheSeconds", &format!("must be from {} to {} seconds", cache.start(), cache.end()));
        }
        v.finish()?;
        Ok(default_rate_limit)
    }
}

/// The org's record (settings and version), read strongly consistently.
pub async fn get(app: &App, org: &OrgId) -> Result<OrgRecord, ApiError> {
    app.store.get_org_consistent(org).await?.ok_or(ApiError::NotFound("organisation"))
}

/// Changes settings (412 on a stale `If-Match`). Other containers see the change within 60 s: the
/// lifetime policy applies to issuance there within that bound (it reads settings through the cache).
pub async fn update(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    input: UpdateSettings,
    if_match: Option<u64>,
    request_id: &str,
) -> Result<OrgRecord, ApiError> {
    let default_rate_limit = input.check()?;
    let (input, default_rate_limit) = (&input, &default_rate_limit);
    until_written(|| async move {
        let before = get(app, org).await?;
        if if_match.is_some_and(|expected| expected != before.version) {
            return Err(ApiError::VersionMismatch { current: before.version });
        }
        let mut settings = before.settings.clone();
        if let Some(direct) = input.direct_api_key_auth {
            settings.direct_api_key_auth = direct;
        }
        if let Some(ttl) = input.access_token_ttl_seconds {
            settings.access_token_ttl_seconds = ttl as u32;
        }
        if let Some(cap) = input.max_active_credentials_per_principal {
            settings.max_active_credentials_per_principal = cap as u32;
        }
        match input.max_credential_lifetime_days {
            Patch::Absent => {}
            Patch::Null => settings.max_credential_lifetime_days = None,
            Patch::Value(days) => settings.max_credential_lifetime_days = Some(days as u32),
        }
        if let Some(required) = input.require_credential_expiry {
            settings.require_credential_expiry = required;
        }
        if let Some(seconds) = input.direct_api_key_cache_seconds {
            settings.direct_api_key_cache_seconds = seconds as u32;
        }
        match default_rate_limit {
            Patch::Absent => {}
            Patch::Null => settings.default_rate_limit = None,
            Patch::Value(limit) => settings.default_rate_limit = Some(*limit),
        }
        if settings == before.settings {
            return Ok(Written::Done(before));
        }
        let event = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:settings:update",
            resources::SETTINGS.into(),
            app.clock.now(),
            request_id,
            json!({"before": before.settings, "after": settings}),
        );
        let written = app.store.update_settings(&before, &settings, &event).await;
        Written::of(written, OrgRecord { settings, version: before.version + 1, ..before })
    })
    .await
}

/// A page of the org's audit events, newest first.
pub async fn audit_events(app: &App, org: &OrgId, params: ListParams) -> Result<Page<Event>, ApiError> {
    Ok(app.store.list_audit_events(org, params.limit, params.start).await?)
}
