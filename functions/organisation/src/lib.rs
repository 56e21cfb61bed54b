//! The organisation: `GET|PATCH /iam/orgs/{orgId}/settings`, `GET .../audit-events`,
//! `POST .../authorize` (the troubleshooting page as an API) and `GET .../credential-report`.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::{Action, resources};
use shared::http::csv::{csv_page, document, prefers_csv};
use shared::http::request::if_match;
use shared::http::{ApiError, RequestCtx, etag, json, json_body, json_with};
use shared::service::report::{self, ReportRow};
use shared::service::{settings, simulate};
use shared::store::OrgRecord;

/// Serves one API Gateway request; every failure is a problem+json response, never a Lambda error.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    route(app, &ctx, &req).await.unwrap_or_else(|e| e.into_response(&ctx.request_id))
}

async fn route(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    match ctx.route_key.as_str() {
        "GET /iam/orgs/{orgId}/settings" => get_settings(app, ctx, req).await,
        "PATCH /iam/orgs/{orgId}/settings" => update_settings(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/audit-events" => audit_events(app, ctx, req).await,
        "POST /iam/orgs/{orgId}/authorize" => authorize(app, ctx, req).await,
        "GET /iam/orgs/{orgId}/credential-report" => credential_report(app, ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

fn settings_body(org: &OrgRecord) -> Response<Body> {
    let s = &org.settings;
    let body = serde_json::json!({
        "directApiKeyAuth": s.direct_api_key_auth,
        "accessTokenTtlSeconds": s.access_token_ttl_seconds,
        "maxActiveCredentialsPerPrincipal": s.max_active_credentials_per_principal,
        "maxCredentialLifetimeDays": s.max_credential_lifetime_days,
        "requireCredentialExpiry": s.require_credential_expiry,
        "directApiKeyCacheSeconds": s.direct_api_key_cache_seconds,
        "version": org.version,
    });
    json_with(200, &body, &[etag(org.version)])
}

async fn get_settings(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::SETTINGS_READ, resources::SETTINGS, ctx).await?;
    Ok(settings_body(&settings::get(app, &caller.org_id).await?))
}

async fn update_settings(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::SETTINGS_UPDATE, resources::SETTINGS, ctx).await?;
    let expected = if_match(req)?;
    let input = json_body(req)?;
    let org = settings::update(app, &caller.actor(), &caller.org_id, input, expected, &ctx.request_id).await?;
    Ok(settings_body(&org))
}

async fn audit_events(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::AUDIT_READ, resources::AUDIT, ctx).await?;
    let scope = format!("audit|{}", caller.org_id);
    app.list_page(req, &scope, |params| settings::audit_events(app, &caller.org_id, params)).await
}

async fn authorize(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::AUTHORIZE_SIMULATE, resources::AUTHORIZE, ctx).await?;
    let answer = simulate::simulate(app, &caller, ctx.source_ip.as_deref(), json_body(req)?).await?;
    Ok(json(200, &answer))
}

/// One page of the report, as JSON `{items, nextCursor}` or, when `Accept` prefers it, as CSV with
/// the next cursor in `X-Next-Cursor`.
async fn credential_report(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    app.authorize(&caller, Action::CREDENTIALS_REPORT, resources::API_KEYS, ctx).await?;
    let scope = report::cursor_scope(&caller.org_id);
    let (rows, next) = app.page_of(req, &scope, |params| report::page(app, &caller.org_id, params)).await?;
    if prefers_csv(req) {
        let body = document(&ReportRow::COLUMNS, rows.iter().map(ReportRow::cells));
        return Ok(csv_page(body, next, "credential-report.csv"));
    }
    Ok(json_with(200, &serde_json::json!({"items": rows, "nextCursor": next}), &[("vary", "Accept".into())]))
}
