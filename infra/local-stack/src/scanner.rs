//! The development secret scanner: a P-256 key that signs leak reports as GitHub's secret scanning
//! does, its public key published at [`KEYS_PATH`] in GitHub's format, and the key saved to
//! `.local/secret-scanning.json` so that anyone can send a signed report to `make dev`
//! (`scripts/leak-report`). The local stack trusts this key and no other.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// Where the local stack publishes the development scanner's public key.
pub const KEYS_PATH: &str = "/_local/secret-scanning/public-keys";

/// The development scanner's signing key.
pub struct DevScanner {
    key_identifier: String,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for DevScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevScanner").field("key_identifier", &self.key_identifier).finish_non_exhaustive()
    }
}

/// `der` as a PEM block of `label`, 64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    let text = STANDARD.encode(der);
    let lines: Vec<&str> = text.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

impl DevScanner {
    /// A new key, with an identifier shaped like GitHub's (hex).
    pub fn generate() -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| anyhow::anyhow!("generate a P-256 key"))?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| anyhow::anyhow!("encode the key"))?.as_ref().to_vec();
        let mut id = [0u8; 32];
        getrandom::fill(&mut id)?;
        let key_identifier = id.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { key_identifier, pkcs8 })
    }

    fn pair(&self) -> EcdsaKeyPair {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.pkcs8).expect("a P-256 key")
    }

    /// The key's identifier (`Github-Public-Key-Identifier`).
    pub fn key_identifier(&self) -> &str {
        &self.key_identifier
    }

    /// The public key, PEM (SubjectPublicKeyInfo).
    pub fn public_key_pem(&self) -> String {
        pem("PUBLIC KEY", self.pair().public_key().as_der().expect("an SPKI encoding").as_ref())
    }

    /// The published keys, in GitHub's `meta/public_keys/secret_scanning` format.
    pub fn public_keys(&self) -> Value {
        json!({"public_keys": [{
            "key_identifier": self.key_identifier, "key": self.public_key_pem(), "is_current": true,
        }]})
    }

    /// `Github-Public-Key-Signature` of `body`: ECDSA P-256 SHA-256, ASN.1 DER, base64.
    pub fn sign(&self, body: &[u8]) -> String {
        let signature = self.pair().sign(&SystemRandom::new(), body).expect("sign");
        STANDARD.encode(signature.as_ref())
    }

    /// Saves `keyIdentifier`, `privateKeyPem` (PKCS #8) and `publicKeyPem` (mode 0600), with the
    /// URL reports go to.
    pub fn save(&self, path: &Path, reports_url: &str) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let body = json!({
            "keyIdentifier": self.key_identifier,
            "privateKeyPem": pem("PRIVATE KEY", &self.pkcs8),
            "publicKeyPem": self.public_key_pem(),
            "reportsUrl": reports_url,
        });
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
        file.write_all(serde_json::to_string_pretty(&body)?.as_bytes())?;
        Ok(())
    }

    /// A key id nobody publishes (tests name it to be refused).
    pub fn unknown_key_identifier() -> String {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).expect("random bytes");
        URL_SAFE_NO_PAD.encode(id)
    }
}
