//! Members: `POST|GET /iam/orgs/{orgId}/members`, `DELETE /iam/orgs/{orgId}/members/{principalId}`,
//! and `GET /iam/me` (a member's organisations and what it may do in each).

use shared::App;
use shared::auth::Identity;
use shared::http::routes::{Call, Request, Response};
use shared::http::{ApiError, RequestCtx, json, json_body, json_with, no_content};
use shared::service::members;

shared::routes! {
    "POST /iam/orgs/{orgId}/members" => add, org(MEMBERS_ADD, MEMBERS);
    "GET /iam/orgs/{orgId}/members" => list, org(MEMBERS_LIST, MEMBERS);
    "DELETE /iam/orgs/{orgId}/members/{principalId}" => remove, org(MEMBERS_REMOVE, Member);
    "GET /iam/me" => me, own;
}

async fn add(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    let member = members::add(app, &caller.actor(), &caller.org_id, json_body(call.req)?, &call.ctx.request_id).await?;
    let location = format!("/iam/orgs/{}/members/{}", caller.org_id, member.id);
    Ok(json_with(201, &member, &[("location", location)]))
}

async fn list(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let org = &call.caller.org_id;
    let scope = format!("members|{org}");
    app.list_page(call.req, &scope, |params| members::list(app, org, params)).await
}

async fn remove(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    members::remove(app, &caller.actor(), &caller.org_id, call.principal_id()?, &call.ctx.request_id).await?;
    Ok(no_content())
}

/// Members only: the subject of a member token, whichever orgs it belongs to (none is an empty
/// list). An API-key principal, by key or IAM access token, belongs to one org and is no member.
async fn me(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response, ApiError> {
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
