//! Rolling a credential: its successor issued and the old one given a grace period, in one write.

use serde::Deserialize;
use serde_json::json;

use super::{Issued, credential_of, new_record, principal_with_room, resource};
use crate::App;
use crate::auth::ApiKey;
use crate::domain::{Actor, ApiError, AuditEvent, CredentialStatus, KeyId, Name, OrgId, PrincipalId};
use crate::service::{Written, until_written};

/// The longest grace period of a roll: a week.
pub const MAX_ROLL_GRACE_SECONDS: i64 = 7 * 86_400;

/// `POST .../credentials/{keyId}/roll`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollCredential {
    #[serde(deserialize_with = "crate::domain::json_integer")]
    pub expire_old_after_seconds: Option<i64>,
}

impl RollCredential {
    /// The grace period, in seconds, in 0..=[`MAX_ROLL_GRACE_SECONDS`]; no I/O.
    pub fn check(&self) -> Result<i64, ApiError> {
        match self.expire_old_after_seconds {
            Some(seconds) if (0..=MAX_ROLL_GRACE_SECONDS).contains(&seconds) => Ok(seconds),
            _ => Err(ApiError::InvalidRequest(vec![crate::domain::FieldError::new(
                "expireOldAfterSeconds",
                "must be a whole number of seconds from 0 (at once) to 604800 (a week)",
            )])),
        }
    }
}

/// The name of a rolled credential's successor: the same name and a suffix, within 128 characters.
fn rolled_name(name: &Name) -> Name {
    const SUFFIX: &str = " (rolled)";
    let base: String = name.as_str().chars().take(128 - SUFFIX.len()).collect();
    Name::parse(&format!("{}{SUFFIX}", base.trim_end())).unwrap_or_else(|_| name.clone())
}

/// Rolls an Active credential: issues its successor to the same principal (the same name with a
/// suffix, the same lifetime from now) and shows its key once; the old one keeps working for
/// `grace` seconds (0: stops at once), then expires. The successor needs a place under the cap
/// like any new credential (the old one holds its own until it ends). One transaction: a failure
/// leaves both or neither.
#[allow(clippy::too_many_arguments)]
pub async fn roll(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    key_id: &KeyId,
    input: RollCredential,
    request_id: &str,
) -> Result<Issued, ApiError> {
    let grace = input.check()?;
    let generated = ApiKey::generate();
    let secret_hash = app.hasher().await?.hash(&generated.key).map_err(ApiError::Internal)?;
    let settings = app.org_settings(org).await?;
    let cap = settings.credential_cap();
    let (generated, secret_hash, settings) = (&generated, &secret_hash, &settings);
    let expired_lapsed = &std::sync::atomic::AtomicBool::new(false);
    until_written(|| async move {
        let now = app.clock.now();
        let old = credential_of(app, org, principal_id, key_id).await?;
        if old.view(now).status != CredentialStatus::Active {
            return Err(ApiError::CredentialNotActive { why: "not Active: only an Active credential can be rolled" });
        }
        if old.credential.replaced_by.is_some() {
            return Err(ApiError::CredentialNotActive { why: "already rolled: roll its successor instead" });
        }
        let Some(principal) = principal_with_room(app, org, principal_id, cap, now, request_id, expired_lapsed).await?
        else {
            return Ok(Written::Retry);
        };
        // The same lifetime as the old one had, counted from now, within the org's policy.
        let lifetime = old.credential.expires_at.map(|at| at.unix() - old.credential.created_at.unix());
        settings.check_lifetime(lifetime.map(|seconds| now.plus_seconds(seconds)), now)?;
        let expires_at = lifetime.map(|seconds| now.plus_seconds(seconds));
        let new = new_record(generated, secret_hash, &principal, rolled_name(&old.credential.name), expires_at, now);
        let mut old_after = old.clone();
        let stops = now.plus_seconds(grace);
        old_after.credential.expires_at = Some(old.credential.expires_at.map_or(stops, |at| at.min(stops)));
        old_after.credential.replaced_by = Some(new.credential.id.clone());
        old_after.version = old.version + 1;
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:credentials:roll",
            resource(principal_id, key_id),
            now,
            request_id,
            json!({
                "name": old.credential.name,
                "replacedBy": new.credential.id,
                "oldExpiresAt": old_after.credential.expires_at,
                "newExpiresAt": new.credential.expires_at,
            }),
        );
        Written::of(
            app.store.roll_credential(&new, &old, &old_after, &principal, cap, &audit).await,
            Issued { credential: new.credential.clone(), api_key: generated.full.clone() },
        )
    })
    .await
}
