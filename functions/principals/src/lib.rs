//! API-key principals: `POST|GET /iam/orgs/{orgId}/api-keys`, `GET|PATCH .../api-keys/{principalId}`,
//! `POST .../api-keys/{principalId}/revoke-tokens`.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, resources};
use shared::domain::PrincipalStatus;
use shared::http::request::{if_match, principal_id, query_param};
use shared::http::{ApiError, FieldError, RequestCtx, etag, json_body, json_with};
use shared::service::principals;

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "POST /iam/orgs/{orgId}/api-keys" => create(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/api-keys" => list(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/api-keys/{principalId}" => get(app, ctx, req).await,
        "PATCH /iam/orgs/{orgId}/api-keys/{principalId}" => update(app, ctx, req).await,
        "POST /iam/orgs/{orgId}/api-keys/{principalId}/revoke-tokens" => revoke_tokens(app, ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

async fn create(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::API_KEYS_CREATE, resources::API_KEYS, ctx).await?;
    let input = json_body(req)?;
    let principal = principals::create(app, &caller.actor(), &caller.org_id, input, &ctx.request_id).await?;
    let location = format!("/iam/orgs/{}/api-keys/{}", principal.org_id, principal.id);
    Ok(json_with(201, &principal, &[("location", location), etag(principal.version)]))
}

async fn list(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::API_KEYS_LIST, resources::API_KEYS, ctx).await?;
    let status = match query_param(req, "status") {
        None => None,
        Some(text) => Some(PrincipalStatus::parse(&text).ok_or_else(|| {
            ApiError::InvalidRequest(vec![FieldError::new("status", "must be Active, Suspended or Revoked")])
        })?),
    };
    let scope = principals::list_scope(&caller.org_id, status);
    app.list_page(req, &scope, |params| principals::list(app, &caller.org_id, status, params)).await
}

async fn get(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    app.authorize(&caller, Action::API_KEYS_READ, &resources::api_key(&id), ctx).await?;
    let principal = principals::get(app, &caller.org_id, &id).await?;
    Ok(json_with(200, &principal, &[etag(principal.version)]))
}

async fn update(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    app.authorize(&caller, Action::API_KEYS_UPDATE, &resources::api_key(&id), ctx).await?;
    let expected = if_match(req)?;
    let input: principals::UpdatePrincipal = json_body(req)?;
    // Making a principal Active again hands its keys back everything it may do.
    if input.status.as_deref() == Some("Active") {
        app.authorize_acting_as(&caller, &id).await?;
    }
    let principal =
        principals::update(app, &caller.actor(), &caller.org_id, &id, input, expected, &ctx.request_id).await?;
    Ok(json_with(200, &principal, &[etag(principal.version)]))
}

async fn revoke_tokens(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    app.authorize(&caller, Action::API_KEYS_REVOKE_TOKENS, &resources::api_key(&id), ctx).await?;
    let principal = principals::revoke_tokens(app, &caller.actor(), &caller.org_id, &id, &ctx.request_id).await?;
    Ok(json_with(200, &principal, &[etag(principal.version)]))
}
