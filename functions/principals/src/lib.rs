//! API-key principals: `POST|GET /iam/orgs/{orgId}/api-keys`, `GET|PATCH .../api-keys/{principalId}`,
//! `POST .../api-keys/{principalId}/revoke-tokens`, `GET .../api-keys/{principalId}/usage` and
//! `GET .../api-keys/{principalId}/recent-requests`.

use shared::App;
use shared::domain::PrincipalStatus;
use shared::http::request::{if_match, query_param};
use shared::http::routes::{Call, Response};
use shared::http::{ApiError, FieldError, etag, json_body, json_with};
use shared::service::principals;

shared::routes! {
    "POST /iam/orgs/{orgId}/api-keys" => create, org(API_KEYS_CREATE, API_KEYS);
    "GET /iam/orgs/{orgId}/api-keys" => list, org(API_KEYS_LIST, API_KEYS);
    "GET /iam/orgs/{orgId}/api-keys/{principalId}" => get, org(API_KEYS_READ, ApiKey);
    "PATCH /iam/orgs/{orgId}/api-keys/{principalId}" => update, org(API_KEYS_UPDATE, ApiKey);
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/revoke-tokens" => revoke_tokens, org(API_KEYS_REVOKE_TOKENS, ApiKey);
    "GET /iam/orgs/{orgId}/api-keys/{principalId}/usage" => usage, org(API_KEYS_READ, ApiKey);
    "GET /iam/orgs/{orgId}/api-keys/{principalId}/recent-requests" => recent_requests, org(API_KEYS_READ, ApiKey);
}

async fn create(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    let input = json_body(call.req)?;
    let principal = principals::create(app, &caller.actor(), &caller.org_id, input, &call.ctx.request_id).await?;
    let location = format!("/iam/orgs/{}/api-keys/{}", principal.org_id, principal.id);
    Ok(json_with(201, &principal, &[("location", location), etag(principal.version)]))
}

async fn list(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    let status = match query_param(call.req, "status") {
        None => None,
        Some(text) => Some(PrincipalStatus::parse(&text).ok_or_else(|| {
            ApiError::InvalidRequest(vec![FieldError::new("status", "must be Active, Suspended or Revoked")])
        })?),
    };
    let scope = principals::list_scope(&caller.org_id, status);
    app.list_page(call.req, &scope, |params| principals::list(app, &caller.org_id, status, params)).await
}

async fn get(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let principal = principals::get(app, &call.caller.org_id, call.principal_id()?).await?;
    Ok(json_with(200, &principal, &[etag(principal.version)]))
}

async fn update(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id) = (&call.caller, call.principal_id()?);
    let expected = if_match(call.req)?;
    let input: principals::UpdatePrincipal = json_body(call.req)?;
    // Making a principal Active again hands its keys back everything it may do.
    if input.status.as_deref() == Some("Active") {
        app.authorize_acting_as(caller, id).await?;
    }
    let principal =
        principals::update(app, &caller.actor(), &caller.org_id, id, input, expected, &call.ctx.request_id).await?;
    Ok(json_with(200, &principal, &[etag(principal.version)]))
}

async fn revoke_tokens(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id) = (&call.caller, call.principal_id()?);
    let principal = principals::revoke_tokens(app, &caller.actor(), &caller.org_id, id, &call.ctx.request_id).await?;
    Ok(json_with(200, &principal, &[etag(principal.version)]))
}

async fn usage(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id) = (&call.caller, call.principal_id()?);
    let (from, to) = (query_param(call.req, "from"), query_param(call.req, "to"));
    let granularity = query_param(call.req, "granularity");
    let range = shared::service::usage::UsageRange::parse(
        from.as_deref(),
        to.as_deref(),
        granularity.as_deref(),
        app.clock.now(),
    )?;
    let body = shared::service::usage::usage(app, &caller.org_id, id, range).await?;
    Ok(shared::http::json(200, &body))
}

async fn recent_requests(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, id) = (&call.caller, call.principal_id()?);
    let scope = shared::service::usage::recent_scope(&caller.org_id, id);
    app.list_page(call.req, &scope, |params| shared::service::usage::recent(app, &caller.org_id, id, params)).await
}
