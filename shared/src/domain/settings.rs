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
    /// The highest cap accepted: a principal's status change updates each of its active credentials,
    /// the principal and one audit item in one `TransactWriteItems`, whose limit is 100 actions.
    pub const MAX_CREDENTIAL_CAP: u32 = 98;
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self { direct_api_key_auth: false, access_token_ttl_seconds: 900, max_active_credentials_per_principal: 10 }
    }
}
