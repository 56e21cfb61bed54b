//! One error type owns every status and `code`; handlers never build an error body themselves.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::auth::AuthFailure;
use crate::auth::policy::Denial;
use crate::store::StoreError;

/// One field that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// `field` failed with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Every way a request can fail, with its status and stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the caller is not recognised.
    #[error("{0}")]
    Unauthenticated(AuthFailure),
    /// 403 `org_mismatch`.
    #[error("the caller belongs to another organisation")]
    OrgMismatch,
    /// 403 `no_role_assignment`, `permission_denied`, `scope_mismatch` or `condition_not_met`.
    #[error("{detail}")]
    Forbidden { denial: Denial, detail: String },
    /// 400 `invalid_request`.
    #[error("the request is invalid")]
    InvalidRequest(Vec<FieldError>),
    /// 400 `malformed_json`.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 400 `unsupported_grant_type` (OAuth 2.0 token requests).
    #[error("only grant_type=client_credentials is supported")]
    UnsupportedGrantType,
    /// 400 `invalid_cursor`.
    #[error("the cursor is not one this query issued")]
    InvalidCursor,
    /// 413 `payload_too_large`.
    #[error("the body is larger than 64 KiB")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// 404 `not_found`.
    #[error("no such {0} in this organisation")]
    NotFound(&'static str),
    /// 404 `route_not_found`: the function was invoked for a route it does not serve.
    #[error("no such route")]
    RouteNotFound,
    /// 412 `version_mismatch`.
    #[error("the object has changed: its version is {current}")]
    VersionMismatch { current: u64 },
    /// 409 `principal_revoked`: revoked principals are final.
    #[error("the principal is revoked; revocation is final")]
    PrincipalRevoked,
    /// 409 `principal_expired`: the principal is past its expiry, so a credential could never work.
    #[error("the principal is past its expiry; extend or clear its expiresAt first")]
    PrincipalExpired,
    /// 403 `principal_type_not_allowed`.
    #[error("IAM API-key principals cannot use this route: IAM credentials are not Infuse IoT credentials")]
    PrincipalTypeNotAllowed,
    /// 404 `not_linked`.
    #[error("the organisation has no linked Infuse IoT organisation")]
    NotLinked,
    /// 409 `member_exists`.
    #[error("the subject is already a member of this organisation")]
    MemberExists,
    /// 409 `role_in_use`.
    #[error("the role is assigned to {0} principal(s); remove the assignments first")]
    RoleInUse(u64),
    /// 409 `role_name_taken`.
    #[error("a role named {0:?} already exists in this organisation")]
    RoleNameTaken(String),
    /// 409 `role_limit_reached`.
    #[error("the organisation already has {cap} custom roles, the limit")]
    RoleLimitReached { cap: usize },
    /// 409 `role_assignment_limit_reached`.
    #[error("the principal already holds {cap} roles, the limit")]
    RoleAssignmentLimitReached { cap: usize },
    /// 409 `role_read_only`.
    #[error("built-in roles cannot be changed or deleted")]
    RoleReadOnly,
    /// 422 `role_principal_type_unsupported`.
    #[error("role {role} does not support {principal_type} principals")]
    RolePrincipalTypeUnsupported { role: String, principal_type: &'static str },
    /// 409 `credential_limit_reached`.
    #[error("the principal already has {cap} active credentials, the organisation's limit")]
    CredentialLimitReached { cap: u32 },
    /// 503 `service_unavailable`, with `Retry-After`.
    #[error("a dependency is unavailable; retry shortly")]
    ServiceUnavailable(#[source] anyhow::Error),
    /// 500 `internal_error`: logged with the request id, never described to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> Self {
        Self::Unauthenticated(failure)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => Self::ServiceUnavailable(source),
            StoreError::Contention => Self::ServiceUnavailable(anyhow::anyhow!("write contention persisted")),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

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
            Self::OrgMismatch | Self::Forbidden { .. } | Self::PrincipalTypeNotAllowed => 403,
            Self::NotLinked => 404,
            Self::MemberExists => 409,
            Self::RoleInUse(_) | Self::RoleNameTaken(_) | Self::RoleReadOnly | Self::RoleLimitReached { .. } => 409,
            Self::RoleAssignmentLimitReached { .. } => 409,
            Self::RolePrincipalTypeUnsupported { .. } => 422,
            Self::InvalidRequest(_) | Self::MalformedJson(_) | Self::InvalidCursor | Self::UnsupportedGrantType => 400,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::NotFound(_) | Self::RouteNotFound => 404,
            Self::VersionMismatch { .. } => 412,
            Self::PrincipalRevoked | Self::PrincipalExpired | Self::CredentialLimitReached { .. } => 409,
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
            Self::PrincipalTypeNotAllowed => "principal_type_not_allowed",
            Self::NotLinked => "not_linked",
            Self::MemberExists => "member_exists",
            Self::RoleNameTaken(_) => "role_name_taken",
            Self::RoleReadOnly => "role_read_only",
            Self::RoleLimitReached { .. } => "role_limit_reached",
            Self::RoleAssignmentLimitReached { .. } => "role_assignment_limit_reached",
            Self::RolePrincipalTypeUnsupported { .. } => "role_principal_type_unsupported",
            Self::InvalidRequest(_) => "invalid_request",
            Self::MalformedJson(_) => "malformed_json",
            Self::InvalidCursor => "invalid_cursor",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotFound(_) => "not_found",
            Self::RouteNotFound => "route_not_found",
            Self::VersionMismatch { .. } => "version_mismatch",
            Self::PrincipalRevoked => "principal_revoked",
            Self::PrincipalExpired => "principal_expired",
            Self::CredentialLimitReached { .. } => "credential_limit_reached",
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
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// The problem+json response. Server-side failures are logged here, once, with the request id.
    /// A failure to answer (a dependency, or a bug) rather than a refusal: its cause. A refusal
    /// (any 4xx) comes back as it was. Callers that are not HTTP routes tell the two apart by this,
    /// never by the status.
    pub fn into_failure(self) -> Result<anyhow::Error, Self> {
        match self {
            Self::ServiceUnavailable(cause) | Self::Internal(cause) => Ok(cause),
            refusal => Err(refusal),
        }
    }

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
            Self::ServiceUnavailable(_) => "temporarily_unavailable",
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
        let mut builder = Response::builder()
            .status(self.status())
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
            Self::VersionMismatch { current } => builder = builder.header("etag", format!("\"{current}\"")),
            _ => {}
        }
        builder.body(Body::Text(body)).expect("valid response parts")
    }
}
