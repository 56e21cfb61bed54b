//! The Lambda authorizer of the tenant APIs behind the same HTTP API (payload 2.0, simple
//! responses): Bearer access tokens, member tokens and, where the org allows it, `ApiKey`; each
//! route's action comes from configuration; the caller's identity goes to the route in `context`.
//! IAM's own routes do not use it: they answer one precise code per failed check themselves.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use serde_json::{Value, json};
use shared::App;
use shared::http::{ApiError, RequestCtx};

/// Route key (`GET /demo/whoami`) → the action it needs (`demo:whoami:read`).
#[derive(Clone, Debug, Default)]
pub struct RouteActions(HashMap<String, String>);

impl RouteActions {
    /// Parses the JSON object of `AUTHORIZER_ROUTE_ACTIONS`.
    pub fn parse(json: &str) -> anyhow::Result<Self> {
        Ok(Self(serde_json::from_str(json)?))
    }

    /// From the environment; a route missing from the map is never authorized.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::parse(&std::env::var("AUTHORIZER_ROUTE_ACTIONS").unwrap_or_else(|_| "{}".into()))
    }
}

/// The authorizer could not decide: a dependency (DynamoDB, Secrets Manager) failed. API Gateway
/// answers 500, never the 403 of a denial; the cause is kept for the one log line.
#[derive(Debug, thiserror::Error)]
#[error("the authorizer could not decide")]
pub struct CouldNotDecide(#[source] pub anyhow::Error);

/// A refusal, to be answered with a denial; a failure, to be returned as [`CouldNotDecide`].
fn refusal(err: ApiError) -> Result<ApiError, CouldNotDecide> {
    err.into_failure().map(CouldNotDecide).map_or_else(Ok, Err)
}

fn deny() -> ApiGatewayV2CustomAuthorizerSimpleResponse<Value> {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = false;
    response.context = json!({});
    response
}

/// Decides one request. Allowed: the caller's principal id and type, org and key id in `context`.
/// The org is the route's `{orgId}` when it has one (members act in it), else the principal's own.
/// A dependency that fails (DynamoDB, Secrets Manager) is an error, not a denial: API Gateway then
/// answers 500, which the API's 5xx alarm sees, instead of a 403 that says "not allowed".
pub async fn handle(
    app: &App,
    routes: &RouteActions,
    request: ApiGatewayV2CustomAuthorizerV2Request,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse<Value>, CouldNotDecide> {
    let route_key = request.route_key.clone().unwrap_or_default();
    let ctx = RequestCtx {
        route_key: route_key.clone(),
        request_id: request.request_context.request_id.clone().unwrap_or_default(),
        source_ip: request.request_context.http.source_ip.clone(),
    };
    let Some(action) = routes.0.get(&route_key) else {
        tracing::warn!(route_key, "no action configured for the route: denied");
        return Ok(deny());
    };
    let identity = match app.authenticate(&request.headers, &ctx).await {
        Ok(identity) => identity,
        Err(err) => {
            let refused = refusal(err)?;
            tracing::info!(request_id = ctx.request_id, code = refused.code(), "tenant API caller not authenticated");
            return Ok(deny());
        }
    };
    let org = match (request.path_parameters.get("orgId"), &identity) {
        (Some(org), _) => org.clone(),
        (None, shared::auth::Identity::Principal(caller)) => caller.org_id.to_string(),
        (None, shared::auth::Identity::Member { .. }) => return Ok(deny()),
    };
    let caller = match app.caller_in_org(identity, &org, &ctx).await {
        Ok(caller) => caller,
        Err(err) => {
            refusal(err)?;
            return Ok(deny());
        }
    };
    let resource = format!("route:{}", request.raw_path.clone().unwrap_or_default());
    match app.authorize_named(&caller, action, &resource, &ctx).await {
        Ok(_) => {}
        Err(err) => {
            let refused = refusal(err)?;
            tracing::info!(request_id = ctx.request_id, code = refused.code(), action, "tenant API call denied");
            return Ok(deny());
        }
    }
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = true;
    let mut context = json!({
        "principalId": caller.principal_id,
        "principalType": caller.principal_type.as_str(),
        "orgId": caller.org_id,
        "keyId": caller.key_id,
    });
    // The caller's standing against its rate limit, as the IETF fields' values: a tenant route
    // may answer them as its `RateLimit-Policy` and `RateLimit` headers.
    if let Some(rate) = caller.rate {
        let (policy, state) =
            shared::http::rate_limit_fields(&rate.limit, rate.remaining, rate.seconds_left(app.clock.now()));
        context["rateLimitPolicy"] = json!(policy);
        context["rateLimit"] = json!(state);
    }
    response.context = context;
    Ok(response)
}
