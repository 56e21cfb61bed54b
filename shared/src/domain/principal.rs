//! API-key principals and the rules of their status.

use serde::{Deserialize, Serialize};

use super::{Name, OrgId, PrincipalId, RateLimit, Timestamp};

/// The kinds of principal: machine identities (`ApiKey`) and members of an org (`User`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumString, strum::IntoStaticStr)]
pub enum PrincipalType {
    ApiKey,
    User,
}

impl PrincipalType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the wire spelling (exactly: case matters).
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// Active ↔ Suspended; anything → Revoked; Revoked is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::EnumString, strum::IntoStaticStr)]
pub enum PrincipalStatus {
    Active,
    Suspended,
    Revoked,
}

impl PrincipalStatus {
    /// Parses the exact spelling used on the wire.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A change was asked of a principal that its status does not allow.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the principal is revoked; revocation is final")]
pub struct TransitionError;

/// A machine identity in one organisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    pub id: PrincipalId,
    pub org_id: OrgId,
    #[serde(rename = "type")]
    pub principal_type: PrincipalType,
    pub display_name: Name,
    pub status: PrincipalStatus,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
    /// A member's subject (`sub`) at the org's identity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A member's e-mail address, as the org gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Access tokens issued at or before this time are refused (suspension, revocation and
    /// `revoke-tokens` move it to now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_valid_after: Option<Timestamp>,
    /// The networks an API-key principal's calls may come from, directly or by its tokens (empty:
    /// any address; absent on the wire).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_cidrs: Vec<ipnet::IpNet>,
    /// An API-key principal's own rate limit, for its keys and tokens together (`None`: the org's
    /// `defaultRateLimit`, if any; absent on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

impl Principal {
    /// Any change to a revoked principal is refused; every other status may move to any status.
    pub fn check_change_allowed(&self) -> Result<(), TransitionError> {
        if self.status == PrincipalStatus::Revoked { Err(TransitionError) } else { Ok(()) }
    }

    /// True once `expires_at` has passed.
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(status: PrincipalStatus) -> Principal {
        let t = Timestamp::from_unix(1_800_000_000);
        Principal {
            id: PrincipalId::generate(),
            org_id: OrgId::generate(),
            principal_type: PrincipalType::ApiKey,
            display_name: Name::parse("ci").unwrap(),
            status,
            expires_at: Some(t.plus_seconds(10)),
            created_at: t,
            updated_at: t,
            version: 1,
            subject: None,
            email: None,
            tokens_valid_after: None,
            allowed_cidrs: Vec::new(),
            rate_limit: None,
        }
    }

    #[test]
    fn revoked_is_final_and_the_rest_may_change() {
        assert!(principal(PrincipalStatus::Active).check_change_allowed().is_ok());
        assert!(principal(PrincipalStatus::Suspended).check_change_allowed().is_ok());
        assert_eq!(principal(PrincipalStatus::Revoked).check_change_allowed(), Err(TransitionError));
    }

    #[test]
    fn a_principal_expires_at_its_expiry_instant() {
        let p = principal(PrincipalStatus::Active);
        assert!(!p.is_expired_at(Timestamp::from_unix(1_800_000_009)));
        assert!(p.is_expired_at(Timestamp::from_unix(1_800_000_010)));
    }
}
