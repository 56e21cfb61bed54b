//! Members: `POST|GET /iam/orgs/{orgId}/members`, `DELETE /iam/orgs/{orgId}/members/{principalId}`,
//! and `GET /iam/me` (a member's organisations and what it may do in each).

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, Identity, resources};
use shared::domain::PrincipalId;
use shared::http::request::path_param;
use shared::http::{ApiError, RequestCtx, json, json_body, json_with, no_content};
use shared::service::members;

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "POST /iam/orgs/{orgId}/members" => add(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/members" => list(app, ctx, req).await,
        "DELETE /iam/orgs/{orgId}/members/{principalId}" => remove(app, ctx, req).await,
        "GET /iam/me" => me(app, ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

async fn add(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::MEMBERS_ADD, resources::MEMBERS, ctx).await?;
    let member = members::add(app, &caller.actor(), &caller.org_id, json_body(req)?, &ctx.request_id).await?;
    let location = format!("/iam/orgs/{}/members/{}", caller.org_id, member.id);
    Ok(json_with(201, &member, &[("location", location)]))
}

async fn list(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::MEMBERS_LIST, resources::MEMBERS, ctx).await?;
    let scope = format!("members|{}", caller.org_id);
    app.list_page(req, &scope, |params| members::list(app, &caller.org_id, params)).await
}

async fn remove(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = path_param(req, "principalId", "member", |t| PrincipalId::parse(t).ok().filter(|id| !id.is_api_key()))?;
    app.authorize(&caller, Action::MEMBERS_REMOVE, &resources::member(&id), ctx).await?;
    members::remove(app, &caller.actor(), &caller.org_id, &id, &ctx.request_id).await?;
    Ok(no_content())
}

/// Members only: the subject of a member token, whichever orgs it belongs to (none is an empty
/// list). An API-key principal, by key or IAM access token, belongs to one org and is no member.
async fn me(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let subject = match app.authenticate(req.headers(), ctx).await? {
        Identity::Member { subject } => subject,
        Identity::Principal(_) => {
            return Err(ApiError::PrincipalTypeNotAllowed {
                why: "IAM API-key principals are no members; sign in at the organisation's identity provider",
            });
        }
    };
    Ok(json(200, &members::my_organisations(app, &subject).await?))
}
