//! The organisation: `GET|PATCH /iam/orgs/{orgId}/settings`, `GET .../audit-events`,
//! `POST .../authorize` (the troubleshooting page as an API), `GET .../credential-report` and
//! `GET .../usage/top-keys`.

use shared::App;
use shared::http::csv::{csv_page, document, prefers_csv};
use shared::http::request::if_match;
use shared::http::routes::{Call, Response};
use shared::http::{ApiError, etag, json, json_body, json_with};
use shared::service::report::{self, ReportRow};
use shared::service::{settings, simulate};
use shared::store::OrgRecord;

shared::routes! {
    "GET /iam/orgs/{orgId}/settings" => get_settings, org(SETTINGS_READ, SETTINGS);
    "PATCH /iam/orgs/{orgId}/settings" => update_settings, org(SETTINGS_UPDATE, SETTINGS);
    "GET /iam/orgs/{orgId}/audit-events" => audit_events, org(AUDIT_READ, AUDIT);
    "POST /iam/orgs/{orgId}/authorize" => authorize, org(AUTHORIZE_SIMULATE, AUTHORIZE);
    "GET /iam/orgs/{orgId}/credential-report" => credential_report, org(CREDENTIALS_REPORT, API_KEYS);
    "GET /iam/orgs/{orgId}/usage/top-keys" => top_keys, org(API_KEYS_LIST, API_KEYS);
}

fn settings_body(org: &OrgRecord) -> Response {
    let s = &org.settings;
    let body = serde_json::json!({
        "directApiKeyAuth": s.direct_api_key_auth,
        "accessTokenTtlSeconds": s.access_token_ttl_seconds,
        "maxActiveCredentialsPerPrincipal": s.max_active_credentials_per_principal,
        "maxCredentialLifetimeDays": s.max_credential_lifetime_days,
        "requireCredentialExpiry": s.require_credential_expiry,
        "directApiKeyCacheSeconds": s.direct_api_key_cache_seconds,
        "defaultRateLimit": s.default_rate_limit,
        "version": org.version,
    });
    json_with(200, &body, &[etag(org.version)])
}

async fn get_settings(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    Ok(settings_body(&settings::get(app, &call.caller.org_id).await?))
}

async fn update_settings(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let caller = &call.caller;
    let expected = if_match(call.req)?;
    let input = json_body(call.req)?;
    let org = settings::update(app, &caller.actor(), &caller.org_id, input, expected, &call.ctx.request_id).await?;
    Ok(settings_body(&org))
}

async fn audit_events(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let org = &call.caller.org_id;
    let scope = format!("audit|{org}");
    app.list_page(call.req, &scope, |params| settings::audit_events(app, org, params)).await
}

async fn authorize(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let answer = simulate::simulate(app, &call.caller, call.ctx.source_ip.as_deref(), json_body(call.req)?).await?;
    Ok(json(200, &answer))
}

/// One page of the report, as JSON `{items, nextCursor}` or, when `Accept` prefers it, as CSV with
/// the next cursor in `X-Next-Cursor`.
async fn credential_report(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let (org, req) = (&call.caller.org_id, call.req);
    let scope = report::cursor_scope(org);
    let (rows, next) = app.page_of(req, &scope, |params| report::page(app, org, params)).await?;
    if prefers_csv(req) {
        let body = document(&ReportRow::COLUMNS, rows.iter().map(ReportRow::cells));
        return Ok(csv_page(body, next, "credential-report.csv"));
    }
    Ok(json_with(200, &serde_json::json!({"items": rows, "nextCursor": next}), &[("vary", "Accept".into())]))
}

/// The org's busiest and most-refused keys over the last `days` days.
async fn top_keys(app: &App, call: Call<'_>) -> Result<Response, ApiError> {
    let days = shared::service::org_usage::parse_days(shared::http::request::query_param(call.req, "days").as_deref())?;
    let body = shared::service::org_usage::top_keys(app, &call.caller.org_id, days, app.clock.now()).await?;
    Ok(shared::http::json(200, &body))
}
