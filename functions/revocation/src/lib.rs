//! Revocation: `POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke`, and
//! leak reports from a secret scanner, `POST /iam/secret-scanning/reports` (signed by the scanner,
//! not authenticated by a key or token: see docs/security.md, Leaked keys).

use shared::App;
use shared::auth::leak_reports;
use shared::http::body::{json_list, request_bytes};
use shared::http::routes::{Call, Request, Response};
use shared::http::{ApiError, RequestCtx, json, json_with};
use shared::service::{credentials, leaks};

shared::routes! {
    "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke" => revoke, org(CREDENTIALS_REVOKE, ApiKey);
    "POST /iam/secret-scanning/reports" => leak_report, own;
}

async fn revoke(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (caller, principal, key_id) = (&call.caller, call.principal_id()?, call.key_id()?);
    let credential =
        credentials::revoke(app, &caller.actor(), &caller.org_id, principal, key_id, &call.ctx.request_id).await?;
    Ok(json(200, &credential))
}

async fn leak_report(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response, ApiError> {
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
