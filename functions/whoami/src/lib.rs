//! `GET /demo/whoami`: a tenant API behind the authorizer, answering who the authorizer said
//! the caller is. It authenticates nothing itself.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use shared::App;
use shared::http::{ApiError, RequestCtx, json};

/// Serves one API Gateway request.
pub async fn handle(_app: &App, req: Request) -> Response<Body> {
    let ctx = RequestCtx::of(&req);
    let caller = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.authorizer.as_ref().map(|a| a.fields.clone()),
        _ => None,
    };
    match (ctx.route_key.as_str(), caller) {
        ("GET /demo/whoami", Some(caller)) => json(200, &caller),
        ("GET /demo/whoami", None) => {
            ApiError::Internal(anyhow_free("no authorizer context")).into_response(&ctx.request_id)
        }
        _ => ApiError::RouteNotFound.into_response(&ctx.request_id),
    }
}

fn anyhow_free(message: &'static str) -> shared::anyhow::Error {
    shared::anyhow::anyhow!(message)
}
