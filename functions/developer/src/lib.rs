//! The legacy developer key page: `GET /admin/developer?orgId=` (members only).

use shared::App;
use shared::auth::{Action, Identity, resources};
use shared::http::request::query_param;
use shared::http::routes::{Request, Response};
use shared::http::{ApiError, FieldError, RequestCtx, json_with, no_store};
use shared::service::developer;

shared::routes! {
    "GET /admin/developer" => read, own;
}

/// IAM credentials are not Infuse IoT credentials: API-key principals (by key or IAM token) are
/// refused before the org is even looked at.
async fn read(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response, ApiError> {
    let identity = app.authenticate(req.headers(), ctx).await?;
    if matches!(identity, Identity::Principal(_)) {
        return Err(ApiError::PrincipalTypeNotAllowed {
            why: "IAM API-key principals cannot read it; IAM credentials are not Infuse IoT credentials",
        });
    }
    let org = query_param(req, "orgId")
        .ok_or_else(|| ApiError::InvalidRequest(vec![FieldError::new("orgId", "is required")]))?;
    let caller = app.caller_in_org(identity, &org, ctx).await?;
    app.authorize(&caller, Action::DEVELOPER_READ, resources::DEVELOPER, ctx).await?;
    let link = developer::read(app, &caller, &ctx.request_id).await?;
    Ok(json_with(200, &link, &no_store()))
}
