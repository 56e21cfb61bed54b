//! Revocation: `POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke`.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, resources};
use shared::domain::KeyId;
use shared::http::request::{path_param, principal_id};
use shared::http::{ApiError, RequestCtx, json};
use shared::service::credentials;

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke" => revoke(app, ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

async fn revoke(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let principal = principal_id(req)?;
    let key_id = path_param(req, "keyId", "credential", |t| KeyId::parse(t).ok())?;
    app.authorize(&caller, Action::CREDENTIALS_REVOKE, &resources::api_key(&principal), ctx).await?;
    let credential =
        credentials::revoke(app, &caller.actor(), &caller.org_id, &principal, &key_id, &ctx.request_id).await?;
    Ok(json(200, &credential))
}
