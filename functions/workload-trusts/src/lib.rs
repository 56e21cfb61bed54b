//! Workload trusts (keyless workloads): `GET|POST /iam/orgs/{orgId}/workload-trusts`,
//! `GET|PATCH|DELETE .../workload-trusts/{trustId}`, and `POST .../workload-trusts/{trustId}/test`,
//! which checks a token against a trust and shows every check. The exchange itself is
//! token-exchange's (`POST /iam/auth/token`).

use shared::App;
use shared::http::request::if_match;
use shared::http::routes::{Call, Response};
use shared::http::{ApiError, etag, json, json_body, json_with, no_content};
use shared::service::{federation, trusts};

shared::routes! {
    "GET /iam/orgs/{orgId}/workload-trusts" => list, org(WORKLOAD_TRUSTS_LIST, WORKLOAD_TRUSTS);
    "POST /iam/orgs/{orgId}/workload-trusts" => create, org(WORKLOAD_TRUSTS_CREATE, WORKLOAD_TRUSTS);
    "GET /iam/orgs/{orgId}/workload-trusts/{trustId}" => get, org(WORKLOAD_TRUSTS_READ, WorkloadTrust);
    "PATCH /iam/orgs/{orgId}/workload-trusts/{trustId}" => update, org(WORKLOAD_TRUSTS_UPDATE, WorkloadTrust);
    "DELETE /iam/orgs/{orgId}/workload-trusts/{trustId}" => delete, org(WORKLOAD_TRUSTS_DELETE, WorkloadTrust);
    "POST /iam/orgs/{orgId}/workload-trusts/{trustId}/test" => test, org(WORKLOAD_TRUSTS_TEST, WorkloadTrust);
}

/// Every trust of the org in one page (an org holds at most `trusts::MAX_TRUSTS`).
async fn list(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let items = trusts::list(app, &call.caller.org_id).await?;
    Ok(json(200, &serde_json::json!({"items": items, "nextCursor": null})))
}

async fn create(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    let trust = trusts::create(app, caller, json_body(call.req)?, &call.ctx.request_id).await?;
    let location = format!("/iam/orgs/{}/workload-trusts/{}", caller.org_id, trust.id);
    Ok(json_with(201, &trust, &[("location", location), etag(trust.version)]))
}

async fn get(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let trust = trusts::get(app, &call.caller.org_id, call.trust_id()?).await?;
    Ok(json_with(200, &trust, &[etag(trust.version)]))
}

async fn update(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let expected = if_match(call.req)?;
    let input = json_body(call.req)?;
    let trust = trusts::update(app, &call.caller, call.trust_id()?, input, expected, &call.ctx.request_id).await?;
    Ok(json_with(200, &trust, &[etag(trust.version)]))
}

async fn delete(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    trusts::delete(app, &call.caller, call.trust_id()?, &call.ctx.request_id).await?;
    Ok(no_content())
}

async fn test(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let trust = trusts::get(app, &call.caller.org_id, call.trust_id()?).await?;
    let body: federation::TestRequest = json_body(call.req)?;
    Ok(json(200, &federation::test(app, &trust, &body.token).await))
}
