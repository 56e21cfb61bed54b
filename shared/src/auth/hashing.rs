//! argon2id with a pepper (argon2's secret input), parameters carried in the PHC string.
//!
//! The key secret has ~190 bits of entropy, so the hash guards a leaked table, not a guessable
//! password: cheap parameters (see docs/security.md) keep verification under a millisecond.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use secrecy::{ExposeSecret, SecretSlice};

use super::ApiKey;

/// The pepper, loaded from Secrets Manager once per container; never printed, zeroed when dropped.
#[derive(Clone, Debug)]
pub struct Pepper(SecretSlice<u8>);

impl Pepper {
    /// At least 32 bytes; argon2 accepts secrets up to 2^32 − 1 bytes.
    pub fn new(bytes: Vec<u8>) -> anyhow::Result<Self> {
        anyhow::ensure!(bytes.len() >= 32, "the pepper must be at least 32 bytes");
        Ok(Self(bytes.into()))
    }

    /// The bytes, for keyed derivations (the cursor MAC key).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

/// Hashes new secrets and verifies presented ones.
#[derive(Clone, Debug)]
pub struct KeyHasher {
    pepper: Pepper,
    params: Params,
    /// A hash of a random value, verified against when the key id is unknown, so that an unknown
    /// key id costs the same as a wrong secret.
    dummy_hash: String,
    /// Verifications run (shared by clones): what the failure limit saves is counted with it.
    verifications: Arc<AtomicU64>,
}

impl KeyHasher {
    /// m = 1 MiB, t = 1, p = 1: see docs/security.md for the measurement and the reasoning.
    pub const M_COST_KIB: u32 = 1024;
    /// Passes over memory.
    pub const T_COST: u32 = 1;
    /// Lanes.
    pub const P_COST: u32 = 1;

    /// A hasher with the service's parameters.
    pub fn new(pepper: Pepper) -> anyhow::Result<Self> {
        let params = Params::new(Self::M_COST_KIB, Self::T_COST, Self::P_COST, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let mut hasher = Self { pepper, params, dummy_hash: String::new(), verifications: Arc::default() };
        hasher.dummy_hash = hasher.hash(&ApiKey::generate().key)?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'_> {
        Argon2::new_with_secret(self.pepper.bytes(), Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .expect("a pepper is far below argon2's secret limit")
    }

    /// The PHC string of a fresh salt and the key's secret.
    pub fn hash(&self, key: &ApiKey) -> anyhow::Result<String> {
        let hash = self.argon2().hash_password(key.secret().as_bytes()).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(hash.to_string())
    }

    /// Verifies in constant time against a stored PHC string (its own parameters are used).
    pub fn verify(&self, key: &ApiKey, phc: &str) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.argon2().verify_password(key.secret().as_bytes(), phc).is_ok()
    }

    /// The PHC string an unknown key id is verified against (a hash of a random secret).
    pub fn dummy_hash(&self) -> &str {
        &self.dummy_hash
    }

    /// How many verifications this hasher has run since the container started.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(byte: u8) -> KeyHasher {
        KeyHasher::new(Pepper::new(vec![byte; 32]).unwrap()).unwrap()
    }

    #[test]
    fn the_right_secret_verifies_and_a_wrong_one_does_not() {
        let h = hasher(7);
        let key = ApiKey::generate().key;
        let phc = h.hash(&key).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(h.verify(&key, &phc));
        assert!(!h.verify(&ApiKey::generate().key, &phc));
        assert!(!h.verify(&key, h.dummy_hash()));
    }

    #[test]
    fn the_pepper_is_part_of_the_hash() {
        let key = ApiKey::generate().key;
        let phc = hasher(1).hash(&key).unwrap();
        assert!(!hasher(2).verify(&key, &phc));
    }

    #[test]
    fn stronger_parameters_in_an_old_hash_still_verify() {
        let h = hasher(3);
        let key = ApiKey::generate().key;
        let strong = Argon2::new_with_secret(
            h.pepper.bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 2, 1, None).unwrap(),
        )
        .unwrap()
        .hash_password(key.secret().as_bytes())
        .unwrap()
        .to_string();
        assert!(h.verify(&key, &strong));
    }

    #[test]
    fn short_peppers_are_refused() {
        assert!(Pepper::new(vec![0; 16]).is_err());
    }
}
