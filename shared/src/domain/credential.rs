//! Credentials: the issued API keys of a principal (their public part; never the secret).

use serde::{Deserialize, Serialize};

use super::{KeyId, Name, PrincipalId, Timestamp};

/// A credential is Active until revoked (final) or past its expiry (marked by the sweep).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::EnumString, strum::IntoStaticStr)]
pub enum CredentialStatus {
    Active,
    Revoked,
    Expired,
}

impl CredentialStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// `?status=` on the credential list: one status, or `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialStatusFilter {
    Only(CredentialStatus),
    All,
}

impl CredentialStatusFilter {
    /// Parses `Active`, `Revoked`, `Expired` or `all`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "all" => Some(Self::All),
            status => status.parse().ok().map(Self::Only),
        }
    }

    /// The spelling that binds a cursor to this filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Only(s) => s.as_str(),
            Self::All => "all",
        }
    }
}

/// What a client may see of a credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub id: KeyId,
    pub principal_id: PrincipalId,
    pub name: Name,
    pub status: CredentialStatus,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    /// The client address API Gateway saw at `last_used_at` (written with it, by the same update).
    #[serde(default)]
    pub last_used_ip: Option<String>,
    /// The API Gateway route key called at `last_used_at`, e.g. `POST /iam/auth/token`.
    #[serde(default)]
    pub last_used_route: Option<String>,
    pub revoked_at: Option<Timestamp>,
    /// The credential that replaced this one when it was rolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<KeyId>,
}

impl Credential {
    /// True when marked expired, or once `expires_at` has passed whether or not the sweep has run.
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.status == CredentialStatus::Expired || self.expires_at.is_some_and(|e| e <= now)
    }
}
