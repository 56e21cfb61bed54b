//! Identifiers: prefixed ULIDs for orgs and principals, random base36 for key ids.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An identifier was not of its type's form.
#[derive(Debug, thiserror::Error)]
#[error("not a valid {0}")]
pub struct IdError(&'static str);

fn is_ulid(text: &str) -> bool {
    text.len() == 26 && ulid::Ulid::from_string(text).is_ok_and(|u| u.to_string() == text)
}

macro_rules! prefixed_ulid {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("`", $prefix, "<ULID>`: ", $what, ".")]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, ulid::Ulid::new()))
            }

            /// Accepts only the exact canonical form.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                match text.strip_prefix($prefix) {
                    Some(rest) if is_ulid(rest) => Ok(Self(text.to_string())),
                    _ => Err(IdError($what)),
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_ulid!(OrgId, "org_", "organisation id");
prefixed_ulid!(TrustId, "wit_", "workload trust id");

/// A principal's id: `akp_<ULID>` for an API-key principal, `usr_<ULID>` for a member.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrincipalId(String);

impl PrincipalId {
    /// A new API-key principal id.
    pub fn generate() -> Self {
        Self(format!("akp_{}", ulid::Ulid::new()))
    }

    /// A new member (User) principal id.
    pub fn generate_user() -> Self {
        Self(format!("usr_{}", ulid::Ulid::new()))
    }

    /// Accepts only the exact canonical form of either kind.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        match text.strip_prefix("akp_").or_else(|| text.strip_prefix("usr_")) {
            Some(rest) if is_ulid(rest) => Ok(Self(text.to_string())),
            _ => Err(IdError("principal id")),
        }
    }

    /// Is this an API-key principal's id?
    pub fn is_api_key(&self) -> bool {
        self.0.starts_with("akp_")
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PrincipalId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PrincipalId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A credential's public id: 20 characters of `[0-9a-z]`, drawn from the OS CSPRNG.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Length of every key id.
    pub const LEN: usize = 20;

    /// Accepts exactly 20 characters of `[0-9a-z]`.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.len() == Self::LEN && text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()) {
            Ok(Self(text.to_string()))
        } else {
            Err(IdError("key id"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_only_their_canonical_form() {
        let org = OrgId::generate();
        assert!(OrgId::parse(org.as_str()).is_ok());
        assert!(OrgId::parse(&org.as_str().to_lowercase()).is_err());
        assert!(PrincipalId::parse(org.as_str()).is_err());
        assert!(PrincipalId::generate().is_api_key());
        assert!(!PrincipalId::parse(PrincipalId::generate_user().as_str()).unwrap().is_api_key());
        assert!(OrgId::parse("org_").is_err());
        assert!(KeyId::parse("abcdefghij0123456789").is_ok());
        assert!(KeyId::parse("ABCDEFGHIJ0123456789").is_err());
        assert!(KeyId::parse("abc").is_err());
    }
}
