//! The legacy developer page: an org's linked Infuse IoT organisation id and admin API key, read
//! from Secrets Manager by members only, every read audited.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::App;
use crate::auth::{Caller, resources};
use crate::domain::ApiError;
use crate::domain::AuditEvent;

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
    let out = match app.secrets.get_secret_value().secret_id(&name).send().await {
        Ok(out) => out,
        Err(err) => {
            use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
            return Err(match err.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => ApiError::NotLinked,
                _ => {
                    ApiError::ServiceUnavailable(anyhow::anyhow!("read the Infuse IoT link: {}", err.code_or_unknown()))
                }
            });
        }
    };
    let link: InfuseIotLink = serde_json::from_str(out.secret_string().unwrap_or_default()).map_err(|_| {
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

trait CodeOrUnknown {
    fn code_or_unknown(&self) -> String;
}

impl<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata, R> CodeOrUnknown
    for aws_sdk_secretsmanager::error::SdkError<E, R>
{
    fn code_or_unknown(&self) -> String {
        match self.as_service_error() {
            Some(e) => e.code().unwrap_or("unknown").to_string(),
            None => "no response".to_string(),
        }
    }
}
