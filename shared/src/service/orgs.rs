//! Organisations: created by the operator's bootstrap, not through the tenant API.

use serde_json::json;

use crate::App;
use crate::domain::ApiError;
use crate::domain::{Actor, AuditEvent, OrgId, OrgSettings};
use crate::store::OrgRecord;

/// Creates an organisation with the given settings.
pub async fn create(
    app: &App,
    actor: &Actor,
    name: &str,
    settings: OrgSettings,
    request_id: &str,
) -> Result<OrgRecord, ApiError> {
    let now = app.clock.now();
    let org = OrgRecord { id: OrgId::generate(), name: name.to_string(), settings, created_at: now, version: 1 };
    let audit = AuditEvent::new(
        org.id.clone(),
        actor.clone(),
        "iam:orgs:create",
        format!("iam:orgs/{}", org.id),
        now,
        request_id,
        json!({"name": org.name, "settings": org.settings}),
    );
    app.store.create_org(&org, &audit).await?;
    Ok(org)
}
