//! Leak reports from a secret scanner, in GitHub's secret-scanning partner format: the request body
//! is signed with ECDSA P-256 and SHA-256 (an ASN.1 DER signature, base64, in
//! `Github-Public-Key-Signature`) by the key named in `Github-Public-Key-Identifier`. The scanner
//! publishes its keys as `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}` (GitHub:
//! `https://api.github.com/meta/public_keys/secret_scanning`). They are fetched once per container
//! and again, at most once a minute, when a report names a key not seen.

use std::collections::HashMap;
use std::sync::RwLock;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::domain::{ApiError, AuthFailure, Timestamp};

/// The header naming the signing key.
pub const KEY_ID_HEADER: &str = "github-public-key-identifier";
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";
/// A report naming an unknown key re-fetches the scanner's keys at most this often.
pub const KEYS_REFETCH_SECONDS: i64 = 60;

/// The regular expression of this service's keys, as a scanner registers it (GitHub's partner
/// form asks for one): `ik_`, a 20-character base36 key id, `.`, 32 base62 characters and a
/// 6-character base62 CRC32 checksum.
pub const KEY_PATTERN: &str = r"\bik_[0-9a-z]{20}\.[0-9A-Za-z]{38}\b";

#[derive(Deserialize)]
struct Published {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

#[derive(Default)]
struct Keys {
    /// SubjectPublicKeyInfo DER of each key, by identifier.
    by_id: HashMap<String, Vec<u8>>,
    /// When a fetch last started (the first included).
    refetched_at: Option<Timestamp>,
}

/// The scanner's published keys, and the check of a report's signature.
pub struct ScannerKeys {
    url: String,
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for ScannerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScannerKeys").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The DER inside a PEM block of `label`.
pub fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let inner = pem.trim().strip_prefix(&begin)?.trim_end().strip_suffix(&end)?;
    let text: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(text).ok()
}

impl ScannerKeys {
    /// Keys to be fetched from `url` (GitHub's format) when the first report comes.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), keys: RwLock::new(Keys::default()) }
    }

    async fn fetch(&self) -> Result<(), ApiError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            ApiError::ServiceUnavailable(anyhow::anyhow!("the scanner's public keys {what}: {e}"))
        };
        let http = super::outbound_http().map_err(|reason| unavailable("not fetched", &reason))?;
        let response = http.get(&self.url).send().await.map_err(|e| unavailable("not fetched", &e))?;
        let response = response.error_for_status().map_err(|e| unavailable("not served", &e))?;
        let bytes = response.bytes().await.map_err(|e| unavailable("not read", &e))?;
        let published: Published = serde_json::from_slice(&bytes).map_err(|e| unavailable("unreadable", &e))?;
        let by_id = published
            .public_keys
            .into_iter()
            .filter_map(|k| pem_body(&k.key, "PUBLIC KEY").map(|der| (k.key_identifier, der)))
            .collect();
        let mut keys = self.keys.write().expect("scanner keys lock");
        keys.by_id = by_id;
        Ok(())
    }

    /// Checks that `signature` (base64 DER) over `body` verifies with the published key
    /// `key_id`: 401 `invalid_signature` otherwise. Reads nothing of the table. A key id not seen
    /// makes the container fetch the keys, at most once a minute whatever the outcome (so neither
    /// junk ids nor a failing key server make it fetch more); one not seen while that minute runs
    /// is 503 with `Retry-After`, so that a scanner that has just rotated its key sends again.
    pub async fn verify(&self, key_id: &str, signature: &str, body: &[u8], now: Timestamp) -> Result<(), ApiError> {
        let lookup = |keys: &Keys| keys.by_id.get(key_id).cloned();
        let mut found = lookup(&self.keys.read().expect("scanner keys lock"));
        if found.is_none() {
            let may_fetch = {
                let mut keys = self.keys.write().expect("scanner keys lock");
                let due = keys.refetched_at.is_none_or(|at| now.unix() - at.unix() >= KEYS_REFETCH_SECONDS);
                if due {
                    keys.refetched_at = Some(now);
                }
                due
            };
            if !may_fetch {
                return Err(ApiError::ServiceUnavailable(anyhow::anyhow!(
                    "a leak report names a key id not seen; the scanner's keys are fetched again within a minute"
                )));
            }
            self.fetch().await?;
            found = lookup(&self.keys.read().expect("scanner keys lock"));
        }
        let refused = || ApiError::Unauthenticated(AuthFailure::InvalidSignature);
        let der = found.ok_or_else(refused)?;
        let signature = STANDARD.decode(signature.trim()).map_err(|_| refused())?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).verify(body, &signature).map_err(|_| refused())
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        let text = STANDARD.encode(der);
        let lines: Vec<&str> = text.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    #[test]
    fn a_signature_verifies_with_the_published_spki_key_and_no_other() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let spki = pair.public_key().as_der().unwrap();
        let der = pem_body(&pem("PUBLIC KEY", spki.as_ref()), "PUBLIC KEY").unwrap();
        let body = br#"[{"token":"x","type":"t","url":"u","source":"content"}]"#;
        let sig = pair.sign(&SystemRandom::new(), body).unwrap();
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &der);
        assert!(key.verify(body, sig.as_ref()).is_ok());
        assert!(key.verify(b"[]", sig.as_ref()).is_err(), "another body");
        let other = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let other_spki = other.public_key().as_der().unwrap();
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, other_spki.as_ref()).verify(body, sig.as_ref()).is_err()
        );
    }

    #[test]
    fn pem_blocks_are_read_only_under_their_label() {
        assert_eq!(pem_body(&pem("PUBLIC KEY", b"abc"), "PUBLIC KEY").unwrap(), b"abc");
        assert!(pem_body(&pem("PRIVATE KEY", b"abc"), "PUBLIC KEY").is_none());
        assert!(pem_body("garbage", "PUBLIC KEY").is_none());
    }
}
