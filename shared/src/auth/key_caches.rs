//! What a container remembers of the keys it has seen: [`VerifiedKeys`] (so a warm request skips
//! argon2) and [`DirectKeys`] (direct `ApiKey` calls answered from an earlier read, for orgs that
//! allow it).

use std::collections::HashMap;
use std::sync::Mutex;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::ApiKey;
use crate::domain::{OrgId, PrincipalId, Timestamp};
use crate::store::{CredentialRecord, KeyStanding};

/// Keys verified in this container, by SHA-256 of the whole presented key, with the hash they
/// verified against and where their principal is: a warm request skips argon2 and reads the
/// credential's and the principal's current state in one round trip.
#[derive(Debug, Default)]
pub struct VerifiedKeys {
    entries: Mutex<HashMap<[u8; 32], Verified>>,
}

/// What a container remembers of a key it verified (a credential never moves: this never goes stale).
#[derive(Clone, Debug)]
struct Verified {
    phc: String,
    org: OrgId,
    principal: PrincipalId,
}

impl VerifiedKeys {
    /// Bound on entries; the cache starts afresh beyond it (a container serves few keys).
    pub const CAPACITY: usize = 10_000;

    pub(super) fn digest(key: &ApiKey) -> [u8; 32] {
        Sha256::digest(key.full().as_bytes()).into()
    }

    /// Whether this exact key verified here (against whatever hash): what lets it past the
    /// failure limit of its key id.
    pub(super) fn knows(&self, key: &ApiKey) -> bool {
        self.entries.lock().expect("cache lock").contains_key(&Self::digest(key))
    }

    pub(super) fn contains(&self, key: &ApiKey, phc: &str) -> bool {
        let digest = Self::digest(key);
        self.entries.lock().expect("cache lock").get(&digest).is_some_and(|known| known.phc == phc)
    }

    /// Where the principal of a key verified here is.
    pub(super) fn location(&self, key: &ApiKey) -> Option<(OrgId, PrincipalId)> {
        let entries = self.entries.lock().expect("cache lock");
        entries.get(&Self::digest(key)).map(|v| (v.org.clone(), v.principal.clone()))
    }

    pub(super) fn insert(&self, key: &ApiKey, record: &CredentialRecord) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        let verified = Verified {
            phc: record.secret_hash.expose_secret().to_string(),
            org: record.org_id.clone(),
            principal: record.credential.principal_id.clone(),
        };
        entries.insert(Self::digest(key), verified);
    }
}

/// Direct `ApiKey` calls answered from an earlier read of the key, for orgs that allow it
/// (`directApiKeyCacheSeconds` > 0): by SHA-256 of the whole key, so only the exact key finds its
/// entry; each entry says when it was read. At most 60 s old (the setting's maximum).
#[derive(Debug, Default)]
pub struct DirectKeys {
    entries: Mutex<HashMap<[u8; 32], (KeyStanding, Timestamp)>>,
}

impl DirectKeys {
    /// Bound on entries; the cache starts afresh beyond it (a container serves few keys).
    pub const CAPACITY: usize = 10_000;
    /// No entry is used past this age, whatever a setting says.
    pub const MAX_SECONDS: i64 = 60;

    pub(super) fn get(&self, key: &ApiKey, now: Timestamp) -> Option<(KeyStanding, i64)> {
        let entries = self.entries.lock().expect("cache lock");
        let (record, read_at) = entries.get(&VerifiedKeys::digest(key))?;
        let age = now.unix() - read_at.unix();
        (age < Self::MAX_SECONDS).then(|| (record.clone(), age))
    }

    pub(super) fn insert(&self, key: &ApiKey, record: KeyStanding, now: Timestamp) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(VerifiedKeys::digest(key), (record, now));
    }

    /// Forgets what this container read of a credential or of a principal's credentials (a write
    /// here has just changed them: the change applies here at once).
    pub fn forget(&self, matches: impl Fn(&KeyStanding) -> bool) {
        self.entries.lock().expect("cache lock").retain(|_, (record, _)| !matches(record));
    }
}
