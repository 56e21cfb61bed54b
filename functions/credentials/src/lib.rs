//! Credentials: `POST|GET /iam/orgs/{orgId}/api-keys/{principalId}/credentials` (issue and list).

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, authorize};
use shared::domain::{CredentialStatus, CredentialStatusFilter, PrincipalId};
use shared::http::request::{path_param, query_param};
use shared::http::{ApiError, FieldError, ListParams, RequestCtx, json, json_body, json_with};
use shared::service::{credentials, principals};

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

fn principal_id(req: &Request) -> Result<PrincipalId, ApiError> {
    path_param(req, "principalId", "API-key principal", |t| PrincipalId::parse(t).ok())
}

async fn issue(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    authorize(&caller, &caller.org_id, Action::CREDENTIALS_ISSUE, &principals::resource(&id))?;
    let input = json_body(req)?;
    let issued = credentials::issue(app, &caller.actor(), &caller.org_id, &id, input, &ctx.request_id).await?;
    let body = serde_json::json!({"credential": issued.credential, "apiKey": issued.api_key});
    // The key is in this body and nowhere else: no cache may keep it.
    Ok(json_with(201, &body, &[("cache-control", "no-store".into()), ("pragma", "no-cache".into())]))
}

async fn list(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = principal_id(req)?;
    authorize(&caller, &caller.org_id, Action::CREDENTIALS_LIST, &principals::resource(&id))?;
    let filter = match query_param(req, "status") {
        None => CredentialStatusFilter::Only(CredentialStatus::Active),
        Some(text) => CredentialStatusFilter::parse(&text).ok_or_else(|| {
            ApiError::InvalidRequest(vec![FieldError::new("status", "must be Active, Revoked, Expired or all")])
        })?,
    };
    let scope = credentials::list_scope(&caller.org_id, &id, filter);
    let params = ListParams::from_request(req, &app.cursors, &scope)?;
    let page = credentials::list(app, &caller.org_id, &id, filter, params).await?;
    let next = page.next.map(|k| app.cursors.seal(&scope, &k));
    Ok(json(200, &serde_json::json!({"items": page.items, "nextCursor": next})))
}
