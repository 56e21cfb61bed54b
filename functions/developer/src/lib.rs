//! The legacy developer key page: `GET /admin/developer?orgId=` (members only).

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, Identity, resources};
use shared::http::request::query_param;
use shared::http::{ApiError, FieldError, RequestCtx, json_with, no_store};
use shared::service::developer;

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "GET /admin/developer" => read(app, ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

/// IAM credentials are not Infuse IoT credentials: API-key principals (by key or IAM token) are
/// refused before the org is even looked at.
async fn read(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = app.authenticate(req.headers(), ctx).await?;
    if matches!(identity, Identity::Principal(_)) {
        return Err(ApiError::PrincipalTypeNotAllowed {
            why: "IAM API-key principals cannot read it; IAM credentials are not Infuse IoT credentials",
        });
    }
    let org = query_param(req, "orgId")
        .ok_or_else(|| ApiError::InvalidRequest(vec![FieldError::new("orgId", "is required")]))?;
    let caller = app.caller_in_org(identity, &org, ctx).await?;
    app.authorize(&caller, Action::DEVELOPER_READ, resources::DEVELOPER, ctx).await?;
    let link = developer::read(app, &caller, &ctx.request_id).await?;
    Ok(json_with(200, &link, &no_store()))
}
