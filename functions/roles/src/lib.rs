//! Roles and role assignments: `GET|POST /iam/orgs/{orgId}/roles`, `GET|PATCH|DELETE .../roles/{roleId}`,
//! `GET .../roles/{roleId}/assignments`, `PUT|GET|DELETE .../principals/{principalId}/role-assignments[/{roleId}]`.

use shared::App;
use shared::domain::PrincipalType;
use shared::http::request::{if_match, query_param};
use shared::http::routes::{Call, Response};
use shared::http::{ApiError, FieldError, etag, json, json_body, json_with, no_content};
use shared::service::{assignments, roles};

shared::routes! {
    "GET /iam/orgs/{orgId}/roles" => list, org(ROLES_LIST, ROLES);
    "POST /iam/orgs/{orgId}/roles" => create, org(ROLES_CREATE, ROLES);
    "GET /iam/orgs/{orgId}/roles/{roleId}" => get, org(ROLES_READ, Role);
    "PATCH /iam/orgs/{orgId}/roles/{roleId}" => update, org(ROLES_UPDATE, Role);
    "DELETE /iam/orgs/{orgId}/roles/{roleId}" => delete, org(ROLES_DELETE, Role);
    "GET /iam/orgs/{orgId}/roles/{roleId}/assignments" => role_assignments, org(ROLE_ASSIGNMENTS_LIST, Role);
    "PUT /iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}" => assign,
        org(ROLE_ASSIGNMENTS_ASSIGN, Principal);
    "GET /iam/orgs/{orgId}/principals/{principalId}/role-assignments" => principal_assignments,
        org(ROLE_ASSIGNMENTS_LIST, Principal);
    "DELETE /iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}" => unassign,
        org(ROLE_ASSIGNMENTS_REMOVE, Principal);
}

async fn list(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let org = &call.caller.org_id;
    let principal_type = match query_param(call.req, "principalType") {
        None => None,
        Some(t) => Some(PrincipalType::parse(&t).ok_or_else(|| {
            ApiError::InvalidRequest(vec![FieldError::new("principalType", "must be ApiKey or User")])
        })?),
    };
    let scope = roles::list_scope(org, principal_type);
    app.list_page(call.req, &scope, |params| roles::list(app, org, principal_type, params)).await
}

async fn create(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    let role = roles::create(app, caller, json_body(call.req)?, &call.ctx.request_id).await?;
    let location = format!("/iam/orgs/{}/roles/{}", caller.org_id, role.id);
    Ok(json_with(201, &role, &[("location", location), etag(role.version)]))
}

async fn get(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let role = roles::get(app, &call.caller.org_id, call.role_id()?).await?;
    Ok(json_with(200, &role, &[etag(role.version)]))
}

async fn update(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let expected = if_match(call.req)?;
    let input = json_body(call.req)?;
    let role = roles::update(app, &call.caller, call.role_id()?, input, expected, &call.ctx.request_id).await?;
    Ok(json_with(200, &role, &[etag(role.version)]))
}

async fn delete(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    roles::delete(app, &caller.actor(), &caller.org_id, call.role_id()?, &call.ctx.request_id).await?;
    Ok(no_content())
}

async fn role_assignments(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (org, id) = (&call.caller.org_id, call.role_id()?);
    let scope = format!("role-assignments|{org}|{id}");
    app.list_page(call.req, &scope, |params| roles::assignments(app, org, id, params)).await
}

async fn assign(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (principal, role) = (call.principal_id()?, call.role_id()?);
    let (assignment, created) = assignments::assign(app, &call.caller, principal, role, &call.ctx.request_id).await?;
    Ok(json(if created { 201 } else { 200 }, &assignment))
}

async fn principal_assignments(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (org, principal) = (&call.caller.org_id, call.principal_id()?);
    let scope = assignments::list_scope(org, principal);
    app.list_page(call.req, &scope, |params| assignments::list(app, org, principal, params)).await
}

async fn unassign(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, principal, role) = (&call.caller, call.principal_id()?, call.role_id()?);
    assignments::remove(app, &caller.actor(), &caller.org_id, principal, role, &call.ctx.request_id).await?;
    Ok(no_content())
}
