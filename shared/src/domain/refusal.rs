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
        }
    }
}
