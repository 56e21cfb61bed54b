//! Per-organisation settings.

use serde::{Deserialize, Serialize};

/// The settings of one organisation; every field has the contract's default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgSettings {
    /// May this org's API keys call routes directly with `Authorization: ApiKey`?
    pub direct_api_key_auth: bool,
    /// Lifetime of exchanged access tokens.
    pub access_token_ttl_seconds: u32,
    /// Cap on Active credentials per principal.
    pub max_active_credentials_per_principal: u32,
}

impl OrgSettings {
    /// Accepted access-token lifetimes, in seconds.
    pub const TOKEN_TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=3600;
    /// Accepted credential caps. The top is 98, not 100: a principal's status change updates each of
    /// its Active credentials, the principal and one audit item in one `TransactWriteItems`, whose
    /// limit is 100 actions.
    pub const CREDENTIAL_CAP_RANGE: std::ops::RangeInclusive<i64> = 1..=98;

    /// The access-token lifetime, held to its range whatever was stored.
    pub fn token_ttl_seconds(&self) -> u32 {
        (self.access_token_ttl_seconds as i64).clamp(*Self::TOKEN_TTL_RANGE.start(), *Self::TOKEN_TTL_RANGE.end())
            as u32
    }

    /// The credential cap, held to its range whatever was stored.
    pub fn credential_cap(&self) -> u32 {
        (self.max_active_credentials_per_principal as i64)
            .clamp(*Self::CREDENTIAL_CAP_RANGE.start(), *Self::CREDENTIAL_CAP_RANGE.end()) as u32
    }
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self { direct_api_key_auth: false, access_token_ttl_seconds: 900, max_active_credentials_per_principal: 10 }
    }
}
