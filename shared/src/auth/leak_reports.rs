//! Leak reports from a secret scanner, in GitHub's secret-scanning partner format: the request body
//! is signed with ECDSA P-256 and SHA-256 (an ASN.1 DER signature, base64, in
//! `Github-Public-Key-Signature`) by the key named in `Github-Public-Key-Identifier`. The scanner
//! publishes its keys as `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}` (GitHub:
//! `https://api.github.com/meta/public_keys/secret_scanning`). They are fetched once per container
//! and again, at most once a minute, when a report names a key not seen; an unknown key is 401
//! whether or not it may be fetched again, and only keys never fetched are 503.

use std::collections::HashMap;
use std::sync::RwLock;

use anyhow::Context;
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
    /// Whether a fetch has succeeded in this container: until one has, the keys are unavailable.
    fetched: bool,
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

    async fn fetch(&self) -> anyhow::Result<()> {
        let http = super::outbound_http()
            .map_err(|reason| anyhow::anyhow!("the scanner's public keys not fetched: {reason}"))?;
        let response = http.get(&self.url).send().await.context("the scanner's public keys not fetched")?;
        let response = response.error_for_status().context("the scanner's public keys not served")?;
        let bytes = response.bytes().await.context("the scanner's public keys not read")?;
        let published: Published = serde_json::from_slice(&bytes).context("the scanner's public keys unreadable")?;
        let by_id = published
            .public_keys
            .into_iter()
            .filter_map(|k| pem_body(&k.key, "PUBLIC KEY").map(|der| (k.key_identifier, der)))
            .collect();
        let mut keys = self.keys.write().expect("scanner keys lock");
        keys.by_id = by_id;
        keys.fetched = true;
        Ok(())
    }

    /// Checks that `signature` (base64 DER) over `body` verifies with the published key
    /// `key_id`: 401 `invalid_signature` otherwise. Reads nothing of the table. A key id not seen
    /// makes the container fetch the keys, at most once a minute whatever the outcome (so neither
    /// junk ids nor a failing key server make it fetch more). An id still unknown, or one not seen
    /// while that minute runs, is 401 like any unknown key: anyone can send a report, and a 5xx
    /// would let them set off the API's alarm (a scanner that has just rotated its key sends again
    /// later). Only keys this container has never fetched are 503 with `Retry-After`: none can
    /// be checked.
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
            let failed = if may_fetch { self.fetch().await.err() } else { None };
            let fetched = {
                let keys = self.keys.read().expect("scanner keys lock");
                found = lookup(&keys);
                keys.fetched
            };
            if !fetched {
                let cause = failed.unwrap_or_else(|| {
                    anyhow::anyhow!(
                        "the scanner's public keys are not fetched yet; they are fetched again within a minute"
                    )
                });
                return Err(ApiError::ServiceUnavailable(cause));
            }
            if let Some(cause) = failed {
                // The keys fetched before still stand; the report is judged with them.
                tracing::warn!(error = %format!("{cause:#}"), "the scanner's public keys were not fetched again");
            }
        }
        let refused = || ApiError::Unauthenticated(AuthFailure::InvalidSignature);
        let der = found.ok_or_else(refused)?;
        let signature = STANDARD.decode(signature.trim()).map_err(|_| refused())?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).verify(body, &signature).map_err(|_| refused())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A scanner's key list on 127.0.0.1: what it publishes (a 500 while nothing), and how often
    /// it was fetched.
    struct KeyServer {
        url: String,
        published: Arc<RwLock<Option<String>>>,
        fetches: Arc<AtomicUsize>,
    }

    impl KeyServer {
        async fn start() -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/meta/public_keys/secret_scanning", listener.local_addr().unwrap());
            let published: Arc<RwLock<Option<String>>> = Arc::default();
            let fetches = Arc::new(AtomicUsize::new(0));
            let (served, counted) = (published.clone(), fetches.clone());
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    // A GET is its head alone.
                    let mut head = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = served.read().unwrap().clone();
                    let (status, body) = match body {
                        Some(body) => ("200 OK", body),
                        None => ("500 Internal Server Error", String::new()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                }
            });
            Self { url, published, fetches }
        }

        /// Publishes these keys, in GitHub's format.
        fn publish(&self, keys: &[(&str, &EcdsaKeyPair)]) {
            let public_keys: Vec<serde_json::Value> = keys
                .iter()
                .map(|(id, pair)| {
                    let key = pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref());
                    serde_json::json!({"key_identifier": id, "key": key, "is_current": true})
                })
                .collect();
            *self.published.write().unwrap() = Some(serde_json::json!({"public_keys": public_keys}).to_string());
        }

        /// Answers 500 from now on.
        fn fail(&self) {
            *self.published.write().unwrap() = None;
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    fn sign(pair: &EcdsaKeyPair, body: &[u8]) -> String {
        STANDARD.encode(pair.sign(&SystemRandom::new(), body).unwrap().as_ref())
    }

    fn is_invalid_signature(err: &ApiError) -> bool {
        matches!(err, ApiError::Unauthenticated(AuthFailure::InvalidSignature))
    }

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

    #[tokio::test]
    async fn an_unknown_key_id_is_401_whether_or_not_the_keys_may_be_fetched_again() {
        let server = KeyServer::start().await;
        let scanner = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let stranger = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        server.publish(&[("scanner-1", &scanner)]);
        let keys = ScannerKeys::new(&server.url);
        let body = br#"[{"token":"x","type":"t","url":"u"}]"#;
        let t0 = Timestamp::from_unix(1_800_000_000);
        keys.verify("scanner-1", &sign(&scanner, body), body, t0).await.unwrap();
        assert_eq!(server.fetches(), 1, "fetched for the first report");

        // Within the minute the keys are not fetched again: the id is refused as any unknown one,
        // never 503 (anyone may send a report).
        for later in [0, 10, 59] {
            let err = keys.verify("stranger", &sign(&stranger, body), body, t0.plus_seconds(later)).await.unwrap_err();
            assert!(is_invalid_signature(&err), "{later} s on: {err:?}");
        }
        assert_eq!(server.fetches(), 1);
        // A minute on the keys are fetched again, and the id is still unknown.
        let err = keys.verify("stranger", &sign(&stranger, body), body, t0.plus_seconds(60)).await.unwrap_err();
        assert!(is_invalid_signature(&err), "{err:?}");
        assert_eq!(server.fetches(), 2);
        // A failing key server after a fetch that succeeded: the keys fetched stand.
        server.fail();
        let err = keys.verify("stranger", &sign(&stranger, body), body, t0.plus_seconds(120)).await.unwrap_err();
        assert!(is_invalid_signature(&err), "{err:?}");
        assert_eq!(server.fetches(), 3);
        keys.verify("scanner-1", &sign(&scanner, body), body, t0.plus_seconds(121)).await.unwrap();
        assert_eq!(server.fetches(), 3, "a known key fetches nothing");
    }

    #[tokio::test]
    async fn keys_never_fetched_are_503_until_a_fetch_succeeds_and_are_fetched_at_most_once_a_minute() {
        let server = KeyServer::start().await;
        let scanner = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let keys = ScannerKeys::new(&server.url);
        let body = b"[]";
        let signature = sign(&scanner, body);
        let t0 = Timestamp::from_unix(1_800_000_000);
        for (later, fetches) in [(0, 1), (30, 1), (59, 1)] {
            let err = keys.verify("scanner-1", &signature, body, t0.plus_seconds(later)).await.unwrap_err();
            assert!(matches!(err, ApiError::ServiceUnavailable(_)), "{later} s on: {err:?}");
            assert_eq!(server.fetches(), fetches, "{later} s on");
        }
        server.publish(&[("scanner-1", &scanner)]);
        keys.verify("scanner-1", &signature, body, t0.plus_seconds(60)).await.unwrap();
        assert_eq!(server.fetches(), 2);
    }

    #[test]
    fn pem_blocks_are_read_only_under_their_label() {
        assert_eq!(pem_body(&pem("PUBLIC KEY", b"abc"), "PUBLIC KEY").unwrap(), b"abc");
        assert!(pem_body(&pem("PRIVATE KEY", b"abc"), "PUBLIC KEY").is_none());
        assert!(pem_body("garbage", "PUBLIC KEY").is_none());
    }
}
