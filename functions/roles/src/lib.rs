//! Roles and role assignments: `GET|POST /iam/orgs/{orgId}/roles`, `GET|PATCH|DELETE .../roles/{roleId}`,
//! `GET .../roles/{roleId}/assignments`, `PUT|GET|DELETE .../principals/{principalId}/role-assignments[/{roleId}]`.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, resources};
use shared::domain::{PrincipalId, PrincipalType, RoleId};
use shared::http::request::{if_match, path_param, query_param};
use shared::http::{ApiError, FieldError, RequestCtx, etag, json, json_body, json_with, no_content};
use shared::service::{assignments, roles};

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "GET /iam/orgs/{orgId}/roles" => list(app, ctx, req).await,
        "POST /iam/orgs/{orgId}/roles" => create(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/roles/{roleId}" => get(app, ctx, req).await,
        "PATCH /iam/orgs/{orgId}/roles/{roleId}" => update(app, ctx, req).await,
        "DELETE /iam/orgs/{orgId}/roles/{roleId}" => delete(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/roles/{roleId}/assignments" => role_assignments(app, ctx, req).await,
        "PUT /iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}" => assign(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/principals/{principalId}/role-assignments" => principal_assignments(app, ctx, req).await,
        "DELETE /iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}" => unassign(app, ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

fn role_id(req: &Request) -> Result<RoleId, ApiError> {
    path_param(req, "roleId", "role", RoleId::parse)
}

fn principal_id(req: &Request) -> Result<PrincipalId, ApiError> {
    path_param(req, "principalId", "principal", |t| PrincipalId::parse(t).ok())
}

async fn list(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::ROLES_LIST, resources::ROLES, ctx).await?;
    let principal_type = match query_param(req, "principalType") {
        None => None,
        Some(t) => Some(PrincipalType::parse(&t).ok_or_else(|| {
            ApiError::InvalidRequest(vec![FieldError::new("principalType", "must be ApiKey or User")])
        })?),
    };
    let scope = roles::list_scope(&caller.org_id, principal_type);
    app.list_page(req, &scope, |params| roles::list(app, &caller.org_id, principal_type, params)).await
}

async fn create(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::ROLES_CREATE, resources::ROLES, ctx).await?;
    let role = roles::create(app, &caller, json_body(req)?, &ctx.request_id).await?;
    let location = format!("/iam/orgs/{}/roles/{}", caller.org_id, role.id);
    Ok(json_with(201, &role, &[("location", location), etag(role.version)]))
}

async fn get(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = role_id(req)?;
    app.authorize(&caller, Action::ROLES_READ, &resources::role(&id), ctx).await?;
    let role = roles::get(app, &caller.org_id, &id).await?;
    Ok(json_with(200, &role, &[etag(role.version)]))
}

async fn update(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = role_id(req)?;
    app.authorize(&caller, Action::ROLES_UPDATE, &resources::role(&id), ctx).await?;
    let expected = if_match(req)?;
    let input = json_body(req)?;
    let role = roles::update(app, &caller, &id, input, expected, &ctx.request_id).await?;
    Ok(json_with(200, &role, &[etag(role.version)]))
}

async fn delete(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = role_id(req)?;
    app.authorize(&caller, Action::ROLES_DELETE, &resources::role(&id), ctx).await?;
    roles::delete(app, &caller.actor(), &caller.org_id, &id, &ctx.request_id).await?;
    Ok(no_content())
}

async fn role_assignments(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let id = role_id(req)?;
    app.authorize(&caller, Action::ROLE_ASSIGNMENTS_LIST, &resources::role(&id), ctx).await?;
    let scope = format!("role-assignments|{}|{id}", caller.org_id);
    app.list_page(req, &scope, |params| roles::assignments(app, &caller.org_id, &id, params)).await
}

async fn assign(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let principal = principal_id(req)?;
    let role = role_id(req)?;
    app.authorize(&caller, Action::ROLE_ASSIGNMENTS_ASSIGN, &resources::principal(principal.as_str()), ctx).await?;
    let (assignment, created) = assignments::assign(app, &caller, &principal, &role, &ctx.request_id).await?;
    Ok(json(if created { 201 } else { 200 }, &assignment))
}

async fn principal_assignments(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let principal = principal_id(req)?;
    app.authorize(&caller, Action::ROLE_ASSIGNMENTS_LIST, &resources::principal(principal.as_str()), ctx).await?;
    let scope = assignments::list_scope(&caller.org_id, &principal);
    app.list_page(req, &scope, |params| assignments::list(app, &caller.org_id, &principal, params)).await
}

async fn unassign(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let principal = principal_id(req)?;
    let role = role_id(req)?;
    app.authorize(&caller, Action::ROLE_ASSIGNMENTS_REMOVE, &resources::principal(principal.as_str()), ctx).await?;
    assignments::remove(app, &caller.actor(), &caller.org_id, &principal, &role, &ctx.request_id).await?;
    Ok(no_content())
}
