//! The one error of the service: every way a request can fail. `http` alone renders it (status,
//! `code`, problem+json); everything below it only returns it.

use serde::Serialize;

use super::{AuthFailure, Denial, GrantRefusal};

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
    #[error(
        "grant_type must be client_credentials, urn:ietf:params:oauth:grant-type:token-exchange or urn:ietf:params:oauth:grant-type:jwt-bearer"
    )]
    UnsupportedGrantType,
    /// 400 `invalid_grant` (RFC 6749 §5.2) with the `code` of the check an external token failed.
    #[error("{0}")]
    InvalidGrant(GrantRefusal),
    /// 400 `invalid_scope` (RFC 6749 §5.2): a scope that is not one, or asks for more than the
    /// principal's roles grant.
    #[error("scope: {0}")]
    InvalidScope(String),
    /// 400 `invalid_target` (RFC 8707): a `resource` or `audience` this service issues no token for.
    #[error("resource: tokens are issued for {0} only")]
    InvalidTarget(String),
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
    /// 403 `principal_type_not_allowed`: a route for one kind of principal called by the other (a
    /// members-only route by an API key, introspection by a member); `why` says which and why.
    #[error("this route is not for this kind of principal: {why}")]
    PrincipalTypeNotAllowed { why: &'static str },
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
    /// 409 `trust_audience_taken`: another workload trust of the org has this issuer and audience.
    #[error("another workload trust already accepts this issuer's tokens for the audience {0:?}")]
    TrustAudienceTaken(String),
    /// 409 `trust_limit_reached`.
    #[error("the organisation already has {cap} workload trusts, the limit")]
    TrustLimitReached { cap: usize },
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
    /// 409 `revoked_tokens_limit_reached`: the principal holds this many tokens revoked one by one
    /// that have not yet expired.
    #[error(
        "the principal already has {cap} individually revoked tokens that have not expired; end all its tokens with POST /iam/orgs/{{orgId}}/api-keys/{{principalId}}/revoke-tokens"
    )]
    RevokedTokensLimitReached { cap: usize },
    /// 409 `credential_not_active`: only an Active credential can be rolled or edited.
    #[error("the credential is {why}")]
    CredentialNotActive { why: &'static str },
    /// 429 `too_many_failed_attempts`, with `Retry-After`: the key id failed verification too often
    /// in this container, and the secret presented is not one the container has verified. The same
    /// for a key id that does not exist.
    #[error("too many failed verifications of this key id; retry in {retry_after_seconds} s")]
    TooManyFailedAttempts { retry_after_seconds: u64 },
    /// 429 `rate_limited`, with `Retry-After` and the IETF `RateLimit-Policy` and `RateLimit`
    /// fields: the principal's calls in this window of its rate limit are all used.
    #[error(
        "the principal's rate limit of {} calls per {} s is used up; retry in {retry_after_seconds} s",
        limit.limit,
        limit.period_seconds
    )]
    RateLimited { limit: super::RateLimit, retry_after_seconds: u64 },
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

impl ApiError {
    /// A failure to answer (a dependency, or a bug) rather than a refusal: its cause. A refusal
    /// (any 4xx) comes back as it was. Callers that are not HTTP routes tell the two apart by this,
    /// never by the status.
    pub fn into_failure(self) -> Result<anyhow::Error, Self> {
        match self {
            Self::ServiceUnavailable(cause) | Self::Internal(cause) => Ok(cause),
            refusal => Err(refusal),
        }
    }
}
