//! Per-organisation settings.

use serde::{Deserialize, Serialize};

use super::{ApiError, FieldError, RateLimit, Timestamp};

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
    /// The longest a new credential may live, in days from its issuance (`None`: no limit). Set,
    /// it also requires an expiry: a credential without one would live for ever.
    pub max_credential_lifetime_days: Option<u32>,
    /// Must every new credential have an expiry (of any length within the maximum lifetime)?
    pub require_credential_expiry: bool,
    /// How long a container may answer a direct `ApiKey` call from what it read of the key on an
    /// earlier call (0: every call reads the credential, so the next request sees a revocation).
    pub direct_api_key_cache_seconds: u32,
    /// The rate limit of each API-key principal that has none of its own (`None`: unlimited).
    pub default_rate_limit: Option<RateLimit>,
}

impl OrgSettings {
    /// Accepted access-token lifetimes, in seconds.
    pub const TOKEN_TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=3600;
    /// Accepted credential caps. The cap is a condition on the size of the principal's set of
    /// Active key ids, and a status change writes the principal item alone, so no transaction grows
    /// with it.
    pub const CREDENTIAL_CAP_RANGE: std::ops::RangeInclusive<i64> = 1..=100;
    /// Accepted `directApiKeyCacheSeconds`.
    pub const DIRECT_CACHE_RANGE: std::ops::RangeInclusive<i64> = 0..=60;
    /// Accepted maximum credential lifetimes, in days (up to about ten years).
    pub const CREDENTIAL_LIFETIME_RANGE: std::ops::RangeInclusive<i64> = 1..=3650;

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

    /// How a credential expiring at `expires_at`, issued (or given that expiry) at `now`, breaks
    /// the org's lifetime policy, in words that name the setting; `None` when it keeps it. With a
    /// maximum lifetime the expiry must be at most that many days after `now`; with
    /// `requireCredentialExpiry` (or a maximum lifetime) it must be there at all.
    pub fn lifetime_violation(&self, expires_at: Option<Timestamp>, now: Timestamp) -> Option<String> {
        let within = |days: u32| {
            format!(
                "the organisation's policy requires an expiry at most {days} day{} away (maxCredentialLifetimeDays)",
                if days == 1 { "" } else { "s" }
            )
        };
        match (self.max_credential_lifetime_days, expires_at) {
            (Some(days), None) => Some(within(days)),
            (Some(days), Some(at)) if at > now.plus_seconds(i64::from(days) * 86_400) => Some(within(days)),
            (None, None) if self.require_credential_expiry => {
                Some("the organisation's policy requires an expiry (requireCredentialExpiry)".into())
            }
            _ => None,
        }
    }

    /// [`Self::lifetime_violation`] as the refusal of a body's `expiresAt`: 400 `invalid_request`.
    pub fn check_lifetime(&self, expires_at: Option<Timestamp>, now: Timestamp) -> Result<(), ApiError> {
        match self.lifetime_violation(expires_at, now) {
            None => Ok(()),
            Some(message) => Err(ApiError::InvalidRequest(vec![FieldError::new("expiresAt", message)])),
        }
    }
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            direct_api_key_auth: false,
            access_token_ttl_seconds: 900,
            max_active_credentials_per_principal: 10,
            max_credential_lifetime_days: None,
            require_credential_expiry: false,
            direct_api_key_cache_seconds: 0,
            default_rate_limit: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn policy(days: Option<u32>, required: bool) -> OrgSettings {
        OrgSettings { max_credential_lifetime_days: days, require_credential_expiry: required, ..Default::default() }
    }

    #[test]
    fn no_policy_takes_any_expiry_or_none() {
        let now = Timestamp::from_unix(1_800_000_000);
        assert_eq!(policy(None, false).lifetime_violation(None, now), None);
        assert_eq!(policy(None, false).lifetime_violation(Some(now.plus_seconds(9_000 * DAY)), now), None);
    }

    #[test]
    fn a_required_expiry_may_be_any_length() {
        let now = Timestamp::from_unix(1_800_000_000);
        let required = policy(None, true);
        let refused = required.lifetime_violation(None, now).unwrap();
        assert!(refused.contains("requireCredentialExpiry"), "{refused}");
        assert_eq!(required.lifetime_violation(Some(now.plus_seconds(9_000 * DAY)), now), None);
    }

    #[test]
    fn a_maximum_lifetime_counts_from_now_to_the_second_and_needs_an_expiry() {
        let now = Timestamp::from_unix(1_800_000_000);
        for required in [false, true] {
            let capped = policy(Some(90), required);
            assert_eq!(capped.lifetime_violation(Some(now.plus_seconds(90 * DAY)), now), None);
            let late = capped.lifetime_violation(Some(now.plus_seconds(90 * DAY + 1)), now).unwrap();
            assert_eq!(
                late,
                "the organisation's policy requires an expiry at most 90 days away (maxCredentialLifetimeDays)"
            );
            assert_eq!(capped.lifetime_violation(None, now), Some(late));
        }
        let err = policy(Some(1), false).check_lifetime(None, now).unwrap_err();
        let ApiError::InvalidRequest(fields) = err else { panic!("invalid_request") };
        assert_eq!(fields[0].field, "expiresAt");
        assert!(fields[0].message.contains("at most 1 day away"), "{}", fields[0].message);
    }

    #[test]
    fn settings_stored_before_the_policy_read_as_no_policy() {
        let stored = serde_json::json!({"directApiKeyAuth": true, "accessTokenTtlSeconds": 600});
        let settings: OrgSettings = serde_json::from_value(stored).unwrap();
        assert_eq!((settings.max_credential_lifetime_days, settings.require_credential_expiry), (None, false));
    }
}
