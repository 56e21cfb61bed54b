//! Credentials: `POST|GET /iam/orgs/{orgId}/api-keys/{principalId}/credentials` (issue and list).

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, resources};
use shared::domain::{CredentialStatus, CredentialStatusFilter};
use shared::http::request::{principal_id, query_param};
use shared::http::{ApiError, FieldError, RequestCtx, json_body, json_with, no_store};
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
