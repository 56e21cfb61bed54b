//! Editing a credential: a new name, or an earlier expiry (never a later one).

use serde::Deserialize;
use serde_json::json;

use super::{credential_of, resource};
use crate::App;
use crate::domain::{
    Actor, ApiError, AuditEvent, Credential, CredentialStatus, KeyId, Name, OrgId, PrincipalId, Timestamp,
};
use crate::service::{Validation, Written, until_written};

/// `PATCH .../credentials/{keyId}`: a new name, or an earlier expiry (never a later one).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCredential {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A checked [`UpdateCredential`].
#[derive(Debug)]
pub struct CredentialChange {
    pub name: Option<Name>,
    pub expires_at: Option<Timestamp>,
}

impl UpdateCredential {
    /// The body's field checks; no I/O. (Whether the expiry is earlier needs the credential.)
    pub fn check(&self, now: Timestamp) -> Result<CredentialChange, ApiError> {
        let mut v = Validation::default();
        let name = self.name.as_deref().and_then(|n| v.name("name", n));
        let expires_at = v.expiry(self.expires_at.as_deref(), now);
        v.finish()?;
        Ok(CredentialChange { name, expires_at })
    }
}

/// Renames a credential or brings its expiry earlier (or sets one where none was); never extends
/// it. With `if_match`, refused (412) unless the credential is at that version. Audited.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    key_id: &KeyId,
    input: UpdateCredential,
    if_match: Option<u64>,
    request_id: &str,
) -> Result<(Credential, u64), ApiError> {
    let now = app.clock.now();
    let CredentialChange { name, expires_at } = input.check(now)?;
    let (name, expires_at) = (&name, &expires_at);
    until_written(|| async move {
        let before = credential_of(app, org, principal_id, key_id).await?;
        if if_match.is_some_and(|expected| expected != before.version) {
            return Err(ApiError::VersionMismatch { current: before.version });
        }
        if before.view(now).status != CredentialStatus::Active {
            return Err(ApiError::CredentialNotActive { why: "not Active: only an Active credential can be edited" });
        }
        if let (Some(new), Some(old)) = (expires_at, before.credential.expires_at)
            && *new > old
        {
            return Err(ApiError::InvalidRequest(vec![crate::domain::FieldError::new(
                "expiresAt",
                format!("may only bring the expiry earlier than {old}, never extend it"),
            )]));
        }
        let mut after = before.clone();
        if let Some(name) = name {
            after.credential.name = name.clone();
        }
        if let Some(at) = expires_at {
            after.credential.expires_at = Some(*at);
        }
        if after.credential == before.credential {
            return Ok(Written::Done((after.view(now), after.version)));
        }
        after.version += 1;
        let audit = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:credentials:update",
            resource(principal_id, key_id),
            now,
            request_id,
            json!({
                "name": {"from": before.credential.name, "to": after.credential.name},
                "expiresAt": {"from": before.credential.expires_at, "to": after.credential.expires_at},
                "version": after.version,
            }),
        );
        Written::of(app.store.update_credential(&before, &after, &audit).await, (after.view(now), after.version))
    })
    .await
}
