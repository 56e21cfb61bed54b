//! Credentials: `POST|GET /iam/orgs/{orgId}/api-keys/{principalId}/credentials` (issue and list),
//! `PATCH .../credentials/{keyId}` (rename, bring the expiry earlier) and
//! `POST .../credentials/{keyId}/roll` (a successor, the old one expiring after a grace period).

use shared::App;
use shared::domain::{CredentialStatus, CredentialStatusFilter};
use shared::http::request::{if_match, query_param};
use shared::http::routes::{Call, Response};
use shared::http::{ApiError, FieldError, etag, json_body, json_with, no_store};
use shared::service::credentials;

shared::routes! {
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials" => issue, org(CREDENTIALS_ISSUE, ApiKey);
    "GET /iam/orgs/{orgId}/api-keys/{principalId}/credentials" => list, org(CREDENTIALS_LIST, ApiKey);
    "PATCH /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}" => update, org(CREDENTIALS_UPDATE, ApiKey);
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/roll" => roll, org(CREDENTIALS_ROLL, ApiKey);
}

async fn issue(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id) = (&call.caller, call.principal_id()?);
    let input = json_body(call.req)?;
    // A key of that principal is everything it may do: no more than the caller holds.
    app.authorize_acting_as(caller, id).await?;
    let issued = credentials::issue(app, &caller.actor(), &caller.org_id, id, input, &call.ctx.request_id).await?;
    let body = serde_json::json!({"credential": issued.credential, "apiKey": issued.api_key});
    // The key is in this body and nowhere else: no cache may keep it.
    Ok(json_with(201, &body, &no_store()))
}

async fn list(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id) = (&call.caller, call.principal_id()?);
    let filter = match query_param(call.req, "status") {
        None => CredentialStatusFilter::Only(CredentialStatus::Active),
        Some(text) => CredentialStatusFilter::parse(&text).ok_or_else(|| {
            ApiError::InvalidRequest(vec![FieldError::new("status", "must be Active, Revoked, Expired or all")])
        })?,
    };
    let scope = credentials::list_scope(&caller.org_id, id, filter);
    app.list_page(call.req, &scope, |params| credentials::list(app, &caller.org_id, id, filter, params)).await
}

async fn update(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id, key_id) = (&call.caller, call.principal_id()?, call.key_id()?);
    let expected = if_match(call.req)?;
    let input = json_body(call.req)?;
    let (credential, version) =
        credentials::update(app, &caller.actor(), &caller.org_id, id, key_id, input, expected, &call.ctx.request_id)
            .await?;
    Ok(json_with(200, &credential, &[etag(version)]))
}

async fn roll(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id, key_id) = (&call.caller, call.principal_id()?, call.key_id()?);
    let input = json_body(call.req)?;
    // The successor's key is everything the principal may do, as with issuance.
    app.authorize_acting_as(caller, id).await?;
    let issued =
        credentials::roll(app, &caller.actor(), &caller.org_id, id, key_id, input, &call.ctx.request_id).await?;
    let body = serde_json::json!({"credential": issued.credential, "apiKey": issued.api_key, "replaces": key_id});
    Ok(json_with(201, &body, &no_store()))
}
