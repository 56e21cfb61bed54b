//! The legacy developer page: an org's linked Infuse IoT organisation id and admin API key, read
//! from Secrets Manager by members only, every read audited.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::App;
use crate::auth::{Caller, resources};
use crate::domain::ApiError;
use crate::domain::AuditEvent;
use crate::store::SecretError;

/// The secret's content (and the response's).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfuseIotLink {
    pub infuse_iot_organisation_id: String,
    pub infuse_iot_admin_api_key: String,
}

/// Reads the caller's org's link; 404 `not_linked` when there is none. Audited (without the key).
pub async fn read(app: &App, caller: &Caller, request_id: &str) -> Result<InfuseIotLink, ApiError> {
    let name = app.config.infuse_iot_secret(caller.org_id.as_str());
    let text = match app.secrets.read(&name, None).await {
        Ok(text) => text,
        Err(SecretError::NotFound(_)) => return Err(ApiError::NotLinked),
        // Throttled or down: 503; refused (AccessDenied, KMS): 500. Either way the cause is logged.
        Err(err) => return Err(err.into()),
    };
    let link: InfuseIotLink = serde_json::from_str(&text).map_err(|_| {
        ApiError::Internal(anyhow::anyhow!("the Infuse IoT link secret {name} is not the expected JSON"))
    })?;
    let audit = AuditEvent::new(
        caller.org_id.clone(),
        caller.actor(),
        "admin:developer:read",
        resources::DEVELOPER.into(),
        app.clock.now(),
        request_id,
        json!({"infuseIotOrganisationId": link.infuse_iot_organisation_id}),
    );
    app.store.put_audit(&audit).await?;
    Ok(link)
}
