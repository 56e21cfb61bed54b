//! `GET /demo/whoami`: a tenant API behind the authorizer, answering who the authorizer said
//! the caller is. It authenticates nothing itself.

use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use shared::App;
use shared::http::routes::{Request, Response};
use shared::http::{ApiError, RequestCtx, json};

shared::routes! {
    "GET /demo/whoami" => whoami, tenant("demo:whoami:read");
}

async fn whoami(_app: &App, _ctx: &RequestCtx, req: &Request) -> Result<Response, ApiError> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => match &c.authorizer {
            Some(authorizer) => Ok(json(200, &authorizer.fields)),
            None => Err(ApiError::Internal(shared::anyhow::anyhow!("no authorizer context"))),
        },
        _ => Err(ApiError::Internal(shared::anyhow::anyhow!("no authorizer context"))),
    }
}
