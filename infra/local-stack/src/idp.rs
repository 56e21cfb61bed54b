//! A development identity provider: an ES256 key whose JWKS the local stack serves, and member
//! tokens signed with it (`make user-token`). Local only: a deployed stack trusts the real provider.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// Where the local stack serves the provider's keys, and the issuer it uses.
pub const JWKS_PATH: &str = "/_local/idp/jwks.json";
/// The issuer path under the stack's base URL.
pub const ISSUER_PATH: &str = "/_local/idp";
/// The audience of the development provider's tokens.
pub const AUDIENCE: &str = "urn:infuse:iam-console";

/// The provider's signing key.
pub struct DevIdp {
    kid: String,
    pkcs8: Vec<u8>,
}

impl DevIdp {
    /// A new P-256 key.
    pub fn generate() -> anyhow::Result<Self> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("generate a P-256 key"))?;
        let mut kid = [0u8; 9];
        getrandom::fill(&mut kid)?;
        Ok(Self { kid: format!("dev-{}", URL_SAFE_NO_PAD.encode(kid)), pkcs8: pkcs8.as_ref().to_vec() })
    }

    /// Saves the key (mode 0600) for `iam-admin user-token`.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let body = json!({"kid": self.kid, "privateKeyPkcs8": STANDARD.encode(&self.pkcs8)}).to_string();
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
        file.write_all(body.as_bytes())?;
        Ok(())
    }

    /// Loads a saved key.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {} (is make dev running?)", path.display()))?;
        let v: Value = serde_json::from_str(&text)?;
        let kid = v["kid"].as_str().context("kid")?.to_string();
        let pkcs8 = STANDARD.decode(v["privateKeyPkcs8"].as_str().context("privateKeyPkcs8")?)?;
        Ok(Self { kid, pkcs8 })
    }

    /// The provider's JWKS document.
    pub fn jwks(&self) -> Value {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8).expect("a P-256 key");
        let point = pair.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }

    /// A member token for `subject`, issued at `now` (unix seconds) and valid for `ttl_seconds`.
    pub fn token(
        &self,
        issuer: &str,
        audience: &str,
        subject: &str,
        now: i64,
        ttl_seconds: i64,
    ) -> anyhow::Result<String> {
        let claims = json!({
            "iss": issuer, "aud": audience, "sub": subject, "iat": now, "nbf": now, "exp": now + ttl_seconds,
        });
        self.sign(jsonwebtoken::Algorithm::ES256, &claims)
    }

    /// Signs arbitrary claims (tests forge tokens with it).
    pub fn sign(&self, alg: jsonwebtoken::Algorithm, claims: &Value) -> anyhow::Result<String> {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8))?)
    }
}

/// Serves one JWKS document at any path, counting requests (the tests' provider).
pub async fn serve_jwks(
    listener: tokio::net::TcpListener,
    jwks: Arc<std::sync::RwLock<Value>>,
    hits: Arc<AtomicUsize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let (jwks, hits) = (jwks.clone(), hits.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req| {
                hits.fetch_add(1, Ordering::SeqCst);
                let body = jwks.read().expect("jwks lock").to_string();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        http::Response::builder()
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                            .expect("valid response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
