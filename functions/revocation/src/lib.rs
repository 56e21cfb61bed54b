//! Revocation: `POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke`, and
//! leak reports from a secret scanner, `POST /iam/secret-scanning/reports` (signed by the scanner,
//! not authenticated by a key or token: see docs/security.md, Leaked keys).

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::leak_reports;
use shared::auth::{Action, resources};
use shared::domain::KeyId;
use shared::http::body::{json_list, request_bytes};
use shared::http::request::{path_param, principal_id};
use shared::http::{ApiError, RequestCtx, json, json_with};
use shared::service::{credentials, leaks};

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke" => revoke(app, ctx, req).await,
        "POST /iam/secret-scanning/reports" => leak_report(app, ctx, req).await,
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

async fn leak_report(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    leaks::verify_signature(
        app,
        header(leak_reports::KEY_ID_HEADER),
        header(leak_reports::SIGNATURE_HEADER),
        request_bytes(req),
    )
    .await?;
    let report = json_list::<serde_json::Value>(req, leaks::MAX_REPORT_BYTES)?;
    let judged = leaks::process(app, report, &ctx.request_id).await?;
    // The body is GitHub's feedback format, which has no place for an entry without a label: the
    // unreadable ones are named in a header instead.
    let unreadable: Vec<String> = judged.unreadable.iter().map(usize::to_string).collect();
    let headers =
        if unreadable.is_empty() { Vec::new() } else { vec![(leaks::UNREADABLE_HEADER, unreadable.join(","))] };
    Ok(json_with(200, &judged.labels, &headers))
}
