//! What a handler needs from the API Gateway (HTTP API v2) request around the body.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::ApiError;
use crate::auth::RequestCtx;

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

/// `If-Match`: `*` (any current version, RFC 9110 §13.1.1) or the version as the `ETag` gives
/// it, `"3"`, also bare (`3`) or weak (`W/"3"`); absent or `*` is `None`. Anything else is 400.
pub fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get("if-match") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let digits = text.strip_prefix("W/").unwrap_or(text);
    let digits = digits.strip_prefix('"').and_then(|d| d.strip_suffix('"')).unwrap_or(digits);
    let well_formed = (1..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if !well_formed || (text.starts_with("W/") && !text.ends_with('"')) {
        return Err(ApiError::InvalidRequest(vec![super::FieldError::new(
            "If-Match",
            "must be the object's version as its ETag gives it, e.g. \"3\", or *",
        )]));
    }
    Ok(Some(digits.parse().expect("at most 19 digits fit a u64")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(value: &str) -> Request {
        http::Request::builder().header("if-match", value).body(lambda_http::Body::Empty).unwrap()
    }

    #[test]
    fn if_match_takes_the_etag_forms_and_star() {
        for (value, expected) in
            [("3", Some(3)), ("\"3\"", Some(3)), ("W/\"3\"", Some(3)), (" \"12\" ", Some(12)), ("*", None)]
        {
            assert_eq!(if_match(&with_if_match(value)).unwrap(), expected, "{value}");
        }
        assert_eq!(if_match(&http::Request::builder().body(lambda_http::Body::Empty).unwrap()).unwrap(), None);
    }

    #[test]
    fn if_match_refuses_everything_else() {
        for value in ["", "+3", "-3", "W/3", "\"3", "3\"", "\"\"3\"\"", "3.0", "x", "99999999999999999999", "\"*\""] {
            let err = if_match(&with_if_match(value)).unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{value}");
        }
    }
}
