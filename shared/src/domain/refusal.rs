//! Why a request was refused: not recognised (401) or not allowed (403), each with its stable code.

use serde::Serialize;

/// Why a caller was not recognised; each is a 401 with its own `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("send Authorization: ApiKey ik_<keyId>.<keySecret> or Authorization: Bearer <accessToken>")]
    MissingCredentials,
    #[error("the API key is not the full ik_<keyId>.<keySecret> value, or its checksum is wrong")]
    ApiKeyMalformed,
    #[error("the API key is not valid")]
    InvalidApiKey,
    #[error("the credential has been revoked")]
    CredentialRevoked,
    #[error("the credential has expired")]
    CredentialExpired,
    #[error("the principal is suspended")]
    PrincipalSuspended,
    #[error("the principal has been revoked")]
    PrincipalRevoked,
    #[error("the principal has expired")]
    PrincipalExpired,
    #[error(
        "direct API-key authentication is disabled for this organisation; exchange the key at POST /iam/auth/token"
    )]
    DirectApiKeyAuthDisabled,
    #[error("the bearer token is not valid")]
    InvalidToken,
    #[error("the bearer token has expired")]
    TokenExpired,
    #[error("the bearer token was issued before its principal's tokens were revoked; exchange the key again")]
    TokenRevoked,
    #[error(
        "the leak report's signature does not verify against the scanner's published key named by Github-Public-Key-Identifier"
    )]
    InvalidSignature,
}

impl AuthFailure {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::ApiKeyMalformed => "api_key_malformed",
            Self::InvalidApiKey => "invalid_api_key",
            Self::CredentialRevoked => "credential_revoked",
            Self::CredentialExpired => "credential_expired",
            Self::PrincipalSuspended => "principal_suspended",
            Self::PrincipalRevoked => "principal_revoked",
            Self::PrincipalExpired => "principal_expired",
            Self::DirectApiKeyAuthDisabled => "direct_api_key_auth_disabled",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::InvalidSignature => "invalid_signature",
        }
    }
}

/// Why a request was refused; each is a 403 with its own code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Denial {
    NoRoleAssignment,
    PermissionDenied,
    ScopeMismatch,
    ConditionNotMet,
    /// The caller would grant a permission it does not hold itself (the grant rule).
    EscalationDenied,
    /// The caller's roles allow it, but its down-scoped token's `scope` does not.
    ScopeNotGranted,
    /// The call came from an address outside its API-key principal's `allowedCidrs` (or the
    /// allowlist its access token carries).
    IpNotAllowed,
}

impl Denial {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::NoRoleAssignment => "no_role_assignment",
            Self::PermissionDenied => "permission_denied",
            Self::ScopeMismatch => "scope_mismatch",
            Self::ConditionNotMet => "condition_not_met",
            Self::EscalationDenied => "escalation_denied",
            Self::ScopeNotGranted => "scope_not_granted",
            Self::IpNotAllowed => "ip_not_allowed",
        }
    }
}

/// Why an external token was not accepted for an access token (RFC 8693 token exchange, RFC 7523
/// JWT bearer): each is 400 `invalid_grant` with its own `code`. The message names the check that
/// failed and never the trust's configuration (the caller is not authenticated); an administrator
/// sees every check of a token against a trust at `POST .../workload-trusts/{trustId}/test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("the subject token is not a signed JWT with iss, sub, aud, exp and iat")]
    MalformedToken,
    #[error("no enabled workload trust accepts tokens of this issuer for this audience")]
    TrustNotFound,
    #[error("the workload trust for this issuer and audience is disabled")]
    TrustDisabled,
    #[error(
        "the token's algorithm is refused: asymmetric signatures only (RS, PS, ES, EdDSA), as the issuer's key says"
    )]
    AlgorithmRefused,
    #[error("the issuer publishes no key with the token's kid")]
    UnknownKey,
    #[error("the token's signature does not verify against the issuer's key")]
    BadSignature,
    #[error("the subject token has expired")]
    TokenExpired,
    #[error("the subject token is not valid yet (nbf or iat in the future)")]
    TokenNotYetValid,
    #[error("the subject token was issued too long ago")]
    TokenTooOld,
    #[error("the token's claims do not meet the workload trust's conditions")]
    ConditionNotMet,
    #[error("the issuer's discovery document or keys could not be fetched; retry later")]
    IssuerUnavailable,
    #[error("the principal the workload trust maps to is suspended")]
    PrincipalSuspended,
    #[error("the principal the workload trust maps to has been revoked")]
    PrincipalRevoked,
    #[error("the principal the workload trust maps to has expired")]
    PrincipalExpired,
}

impl GrantRefusal {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::MalformedToken => "subject_token_malformed",
            Self::TrustNotFound => "trust_not_found",
            Self::TrustDisabled => "trust_disabled",
            Self::AlgorithmRefused => "algorithm_refused",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::TokenExpired => "subject_token_expired",
            Self::TokenNotYetValid => "subject_token_not_yet_valid",
            Self::TokenTooOld => "subject_token_too_old",
            Self::ConditionNotMet => "trust_condition_not_met",
            Self::IssuerUnavailable => "issuer_unavailable",
            Self::PrincipalSuspended => "principal_suspended",
            Self::PrincipalRevoked => "principal_revoked",
            Self::PrincipalExpired => "principal_expired",
        }
    }

    /// Every refusal, for the tests and the docs that list them.
    pub const ALL: [Self; 14] = [
        Self::MalformedToken,
        Self::TrustNotFound,
        Self::TrustDisabled,
        Self::AlgorithmRefused,
        Self::UnknownKey,
        Self::BadSignature,
        Self::TokenExpired,
        Self::TokenNotYetValid,
        Self::TokenTooOld,
        Self::ConditionNotMet,
        Self::IssuerUnavailable,
        Self::PrincipalSuspended,
        Self::PrincipalRevoked,
        Self::PrincipalExpired,
    ];
}
