//! Rendering the one error: status, stable `code`, problem+json. Handlers never build an error body.

use lambda_http::{Body, Response};
use serde::Serialize;

pub use crate::domain::{ApiError, FieldError};

/// The RFC 9457 body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Problem<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: String,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated(_) => 401,
            Self::OrgMismatch | Self::Forbidden { .. } | Self::PrincipalTypeNotAllowed { .. } => 403,
            Self::NotLinked => 404,
            Self::MemberExists => 409,
            Self::RoleInUse(_) | Self::RoleNameTaken(_) | Self::RoleReadOnly | Self::RoleLimitReached { .. } => 409,
            Self::RoleAssignmentLimitReached { .. } => 409,
            Self::TrustAudienceTaken(_) | Self::TrustLimitReached { .. } => 409,
            Self::InvalidGrant(_) => 400,
            Self::RolePrincipalTypeUnsupported { .. } => 422,
            Self::InvalidRequest(_) | Self::MalformedJson(_) | Self::InvalidCursor | Self::UnsupportedGrantType => 400,
            Self::InvalidScope(_) | Self::InvalidTarget(_) => 400,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::NotFound(_) | Self::RouteNotFound => 404,
            Self::VersionMismatch { .. } => 412,
            Self::PrincipalRevoked | Self::PrincipalExpired | Self::CredentialLimitReached { .. } => 409,
            Self::CredentialNotActive { .. } | Self::RevokedTokensLimitReached { .. } => 409,
            Self::TooManyFailedAttempts { .. } | Self::RateLimited { .. } => 429,
            Self::ServiceUnavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(failure) => failure.code(),
            Self::OrgMismatch => "org_mismatch",
            Self::Forbidden { denial, .. } => denial.code(),
            Self::RoleInUse(_) => "role_in_use",
            Self::PrincipalTypeNotAllowed { .. } => "principal_type_not_allowed",
            Self::NotLinked => "not_linked",
            Self::MemberExists => "member_exists",
            Self::RoleNameTaken(_) => "role_name_taken",
            Self::RoleReadOnly => "role_read_only",
            Self::RoleLimitReached { .. } => "role_limit_reached",
            Self::RoleAssignmentLimitReached { .. } => "role_assignment_limit_reached",
            Self::TrustAudienceTaken(_) => "trust_audience_taken",
            Self::TrustLimitReached { .. } => "trust_limit_reached",
            Self::InvalidGrant(refusal) => refusal.code(),
            Self::RolePrincipalTypeUnsupported { .. } => "role_principal_type_unsupported",
            Self::InvalidRequest(_) => "invalid_request",
            Self::MalformedJson(_) => "malformed_json",
            Self::InvalidCursor => "invalid_cursor",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotFound(_) => "not_found",
            Self::RouteNotFound => "route_not_found",
            Self::VersionMismatch { .. } => "version_mismatch",
            Self::PrincipalRevoked => "principal_revoked",
            Self::PrincipalExpired => "principal_expired",
            Self::CredentialLimitReached { .. } => "credential_limit_reached",
            Self::CredentialNotActive { .. } => "credential_not_active",
            Self::RevokedTokensLimitReached { .. } => "revoked_tokens_limit_reached",
            Self::TooManyFailedAttempts { .. } => "too_many_failed_attempts",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServiceUnavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self.status() {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            412 => "Precondition Failed",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Content",
            429 => "Too Many Requests",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// The problem+json response. Server-side failures are logged here, once, with the request id.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        self.render(request_id, None)
    }

    /// The RFC 6749 §5.2 error (`error`, `error_description`) with the problem fields and our
    /// `code` beside them, as `application/json`. When the client authenticated with HTTP Basic, a
    /// 401 names the Basic scheme in `WWW-Authenticate`, as §5.2 requires.
    pub fn into_oauth_response(self, request_id: &str, used_basic: bool) -> Response<Body> {
        let error = match &self {
            Self::Unauthenticated(_) => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            // Recognised, and not allowed from here (`ip_not_allowed`).
            Self::Forbidden { .. } => "unauthorized_client",
            // Not `invalid_client` (the secret may be right) nor RFC 8628's `slow_down` (polling): the
            // server will not verify this client for a while, as `Retry-After` says.
            Self::ServiceUnavailable(_) | Self::TooManyFailedAttempts { .. } => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
            _ => "invalid_request",
        };
        self.render(request_id, Some((error, used_basic)))
    }

    fn render(self, request_id: &str, oauth: Option<(&'static str, bool)>) -> Response<Body> {
        match &self {
            Self::Internal(source) => {
                tracing::error!(request_id, error = format!("{source:#}"), "internal error")
            }
            Self::ServiceUnavailable(source) => {
                tracing::warn!(request_id, error = format!("{source:#}"), "dependency unavailable")
            }
            _ => tracing::info!(request_id, status = self.status(), code = self.code(), "request refused"),
        }
        let problem = Problem {
            type_uri: format!("urn:infuse:iam:problem:{}", self.code()),
            title: self.title(),
            status: self.status(),
            code: self.code(),
            detail: self.to_string(),
            request_id,
            errors: match &self {
                Self::InvalidRequest(errors) => Some(errors),
                _ => None,
            },
        };
        let (body, content_type) = match oauth {
            None => (serde_json::to_string(&problem).expect("problems serialise"), "application/problem+json"),
            Some((error, _)) => {
                let mut value = serde_json::json!({"error": error, "error_description": problem.detail});
                let fields = serde_json::to_value(&problem).expect("problems serialise");
                value.as_object_mut().expect("object").extend(fields.as_object().expect("object").clone());
                (value.to_string(), "application/json")
            }
        };
        let mut builder = super::response::builder(self.status())
            .header("content-type", content_type)
            .header("cache-control", "no-store");
        match &self {
            Self::Unauthenticated(_) => {
                let challenge = match oauth {
                    Some((_, true)) => r#"Basic realm="iam""#,
                    _ => r#"Bearer realm="iam", ApiKey realm="iam""#,
                };
                builder = builder.header("www-authenticate", challenge)
            }
            Self::ServiceUnavailable(_) => builder = builder.header("retry-after", "1"),
            Self::InvalidGrant(crate::domain::GrantRefusal::IssuerUnavailable) => {
                let seconds = crate::auth::federation::FAILED_FETCH_RETRY_SECONDS;
                builder = builder.header("retry-after", seconds.to_string())
            }
            Self::TooManyFailedAttempts { retry_after_seconds } => {
                builder = builder.header("retry-after", retry_after_seconds.to_string())
            }
            Self::RateLimited { limit, retry_after_seconds } => {
                let (policy, state) = rate_limit_fields(limit, 0, *retry_after_seconds);
                builder = builder
                    .header("retry-after", retry_after_seconds.to_string())
                    .header("ratelimit-policy", policy)
                    .header("ratelimit", state)
            }
            Self::VersionMismatch { current } => builder = builder.header("etag", format!("\"{current}\"")),
            _ => {}
        }
        builder.body(Body::Text(body)).expect("valid response parts")
    }
}

/// The IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers):
/// the quota per window, and what is left of it with the seconds until it resets.
pub fn rate_limit_fields(limit: &crate::domain::RateLimit, remaining: u32, reset_seconds: u64) -> (String, String) {
    (
        format!("\"principal\";q={};w={}", limit.limit, limit.period_seconds),
        format!("\"principal\";r={remaining};t={reset_seconds}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nosniff(response: &Response<Body>) -> Option<&str> {
        response.headers().get("x-content-type-options").and_then(|v| v.to_str().ok())
    }

    #[test]
    fn every_error_answer_carries_nosniff() {
        for error in [ApiError::RouteNotFound, ApiError::InvalidCursor, ApiError::VersionMismatch { current: 3 }] {
            assert_eq!(nosniff(&error.into_response("r")), Some("nosniff"));
        }
        assert_eq!(nosniff(&ApiError::UnsupportedGrantType.into_oauth_response("r", false)), Some("nosniff"));
    }

    #[test]
    fn a_rate_limited_answer_says_when_to_retry_and_the_policy() {
        let limit = crate::domain::RateLimit { limit: 5, period_seconds: 60 };
        let response = ApiError::RateLimited { limit, retry_after_seconds: 17 }.into_response("r");
        assert_eq!(response.status(), 429);
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(header("retry-after"), "17");
        assert_eq!(header("ratelimit-policy"), "\"principal\";q=5;w=60");
        assert_eq!(header("ratelimit"), "\"principal\";r=0;t=17");
    }
}
