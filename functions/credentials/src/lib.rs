//! Credentials: `POST|GET /iam/orgs/{orgId}/api-keys/{principalId}/credentials` (issue and list),
//! `PATCH .../credentials/{keyId}` (rename, bring the expiry earlier) and
//! `POST .../credentials/{keyId}/roll` (a successor, the old one expiring after a grace period).

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, resources};
use shared::domain::{CredentialStatus, CredentialStatusFilter, KeyId};
use shared::http::request::{if_match, path_param, principal_id, query_param};
use shared::http::{ApiError, FieldError, RequestCtx, etag, json_body, json_with, no_store};
use shared::service::credentials;

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials" => issue(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/api-keys/{principalId}/credentials" => list(app, ctx, req).await,
        "PATCH /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}" => update(app, ctx, req).await,
        "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/roll" => roll(app, ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

async fn issue(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    app.authorize(&caller, Action::CREDENTIALS_ISSUE, &resources::api_key(&id), ctx).await?;
    let input = json_body(req)?;
    // A key of that principal is everything it may do: no more than the caller holds.
    app.authorize_acting_as(&caller, &id).await?;
    let issued = credentials::issue(app, &caller.actor(), &caller.org_id, &id, input, &ctx.request_id).await?;
    let body = serde_json::json!({"credential": issued.credential, "apiKey": issued.api_key});
    // The key is in this body and nowhere else: no cache may keep it.
    Ok(json_with(201, &body, &no_store()))
}

async fn list(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    app.authorize(&caller, Action::CREDENTIALS_LIST, &resources::api_key(&id), ctx).await?;
    let filter = match query_param(req, "status") {
        None => CredentialStatusFilter::Only(CredentialStatus::Active),
        Some(text) => CredentialStatusFilter::parse(&text).ok_or_else(|| {
            ApiError::InvalidRequest(vec![FieldError::new("status", "must be Active, Revoked, Expired or all")])
        })?,
    };
    let scope = credentials::list_scope(&caller.org_id, &id, filter);
    app.list_page(req, &scope, |params| credentials::list(app, &caller.org_id, &id, filter, params)).await
}

async fn update(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    let key_id = path_param(req, "keyId", "credential", |t| KeyId::parse(t).ok())?;
    app.authorize(&caller, Action::CREDENTIALS_UPDATE, &resources::api_key(&id), ctx).await?;
    let expected = if_match(req)?;
    let input = json_body(req)?;
    let (credential, version) =
        credentials::update(app, &caller.actor(), &caller.org_id, &id, &key_id, input, expected, &ctx.request_id)
            .await?;
    Ok(json_with(200, &credential, &[etag(version)]))
}

async fn roll(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    let key_id = path_param(req, "keyId", "credential", |t| KeyId::parse(t).ok())?;
    app.authorize(&caller, Action::CREDENTIALS_ROLL, &resources::api_key(&id), ctx).await?;
    let input = json_body(req)?;
    // The successor's key is everything the principal may do, as with issuance.
    app.authorize_acting_as(&caller, &id).await?;
    let issued = credentials::roll(app, &caller.actor(), &caller.org_id, &id, &key_id, input, &ctx.request_id).await?;
    let body = serde_json::json!({"credential": issued.credential, "apiKey": issued.api_key, "replaces": key_id});
    Ok(json_with(201, &body, &no_store()))
}
