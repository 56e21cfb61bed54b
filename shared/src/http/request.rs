//! What a handler needs from the API Gateway (HTTP API v2) request around the body.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::ApiError;

/// The request's route, id, source address and parameters.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    /// API Gateway's route key, e.g. `POST /iam/orgs/{orgId}/api-keys`.
    pub route_key: String,
    /// API Gateway's request id: in every problem body, audit event and log line.
    pub request_id: String,
    /// The client address API Gateway saw (never a client-supplied header).
    pub source_ip: Option<String>,
}

impl RequestCtx {
    /// Reads the API Gateway context; a request without one (not from API Gateway) gets a fresh id.
    pub fn of(req: &Request) -> Self {
        match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => Self {
                route_key: ctx.route_key.clone().unwrap_or_default(),
                request_id: ctx.request_id.clone().unwrap_or_else(|| ulid::Ulid::new().to_string()),
                source_ip: ctx.http.source_ip.clone(),
            },
            _ => Self { route_key: String::new(), request_id: ulid::Ulid::new().to_string(), source_ip: None },
        }
    }
}

/// A path parameter parsed into its type; one that cannot be an id names nothing there is: 404.
pub fn path_param<T>(
    req: &Request,
    name: &str,
    what: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, ApiError> {
    req.path_parameters_ref().and_then(|p| p.first(name)).and_then(parse).ok_or(ApiError::NotFound(what))
}

/// The `{principalId}` of an API-key principal's route.
pub fn principal_id(req: &Request) -> Result<crate::domain::PrincipalId, ApiError> {
    path_param(req, "principalId", "API-key principal", |t| {
        crate::domain::PrincipalId::parse(t).ok().filter(|id| id.is_api_key())
    })
}

/// One query-string parameter, if given.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(String::from)
}

/// `If-Match: <version>` (quoted or bare, weak or strong); absent is `None`.
pub fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get("if-match") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| {
        ApiError::InvalidRequest(vec![super::FieldError::new("If-Match", "must be the object's version, e.g. \"3\"")])
    })
}
