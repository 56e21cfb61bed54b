//! Access tokens: RFC 9068 JWTs signed with Ed25519 (EdDSA), keys held in one Secrets Manager
//! secret (current and previous), verified without any network call.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::AuthFailure;
use crate::domain::Timestamp;

/// The `typ` of our access tokens (RFC 9068 §2.1).
pub const TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp`, `iat` and `nbf` (access and member tokens alike).
pub const LEEWAY_SECONDS: i64 = 30;
/// The longest access-token lifetime an org may set; a retired key stays published this long
/// (plus the leeway) after it stopped signing.
pub const MAX_TOKEN_TTL_SECONDS: i64 = 3600;
/// The key set is re-read from Secrets Manager at most this often per container.
pub const KEY_REFRESH_SECONDS: i64 = 300;
/// How long verifiers may cache the JWKS document (`Cache-Control: max-age`).
pub const JWKS_MAX_AGE_SECONDS: i64 = 300;
/// A token naming a `kid` this container does not know triggers a re-read at most this often.
pub const UNKNOWN_KID_REFRESH_SECONDS: i64 = 60;
/// A retired key stays published and verifying this long after it stopped being current: a
/// container that has not re-read the set may sign with it for up to the refresh interval, its
/// tokens live up to the longest lifetime plus leeway, and verifiers may hold the JWKS that long.
pub const RETIRED_KEY_LIFETIME_SECONDS: i64 =
    KEY_REFRESH_SECONDS + MAX_TOKEN_TTL_SECONDS + LEEWAY_SECONDS + JWKS_MAX_AGE_SECONDS;

/// One key as the secret stores it. Its `Debug` never prints the private key (`secrecy`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredKey {
    pub kid: String,
    /// PKCS#8 v2 DER of the Ed25519 key pair, base64.
    #[serde(serialize_with = "expose_secret_string")]
    pub private_key_pkcs8: SecretString,
    pub created_at: Timestamp,
    /// When it stopped signing (set on the previous key by rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<Timestamp>,
}

fn expose_secret_string<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// The signing-keys secret: the key that signs now and the one before it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredKeySet {
    pub current: StoredKey,
    #[serde(default)]
    pub previous: Option<StoredKey>,
}

impl StoredKey {
    /// The key pair's PKCS#8 DER, decoded from the secret.
    pub fn pkcs8_der(&self) -> anyhow::Result<Vec<u8>> {
        Ok(STANDARD.decode(self.private_key_pkcs8.expose_secret())?)
    }

    /// A new Ed25519 key from aws-lc-rs's CSPRNG, with a random `kid`.
    pub fn generate(now: Timestamp) -> anyhow::Result<Self> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| anyhow::anyhow!("generate Ed25519"))?;
        let mut kid = [0u8; 12];
        getrandom::fill(&mut kid)?;
        Ok(Self {
            kid: format!("ed25519-{}", URL_SAFE_NO_PAD.encode(kid)),
            private_key_pkcs8: STANDARD.encode(pkcs8.as_ref()).into(),
            created_at: now,
            retired_at: None,
        })
    }
}

/// The verification-keys secret: the public half of the signing keys (what every function that
/// verifies access tokens reads; only token-exchange and the rotation function read the private
/// half). The rotation function writes it from the signing-key set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublishedKeySet {
    pub keys: Vec<PublishedKey>,
}

/// One public key: its `kid`, the Ed25519 public key (`x`, base64url, as in a JWK), and when it
/// stopped signing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublishedKey {
    pub kid: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<Timestamp>,
}

impl StoredKeySet {
    /// The public half of the set: what verifiers need, and nothing that signs.
    pub fn published(&self) -> anyhow::Result<PublishedKeySet> {
        let keys = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(|stored| {
                let der = stored.pkcs8_der()?;
                let pair = Ed25519KeyPair::from_pkcs8(&der)
                    .map_err(|_| anyhow::anyhow!("key {} is not Ed25519 PKCS#8", stored.kid))?;
                Ok(PublishedKey {
                    kid: stored.kid.clone(),
                    x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
                    retired_at: stored.retired_at,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(PublishedKeySet { keys })
    }
}

/// A key ready to verify, and to sign where the private half was loaded.
struct LoadedKey {
    kid: String,
    /// `None` in a set loaded from the public half: it cannot sign.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// The public key as a JWK (RFC 8037 OKP).
    jwk: serde_json::Value,
    retired_at: Option<Timestamp>,
}

impl LoadedKey {
    fn load(stored: &StoredKey) -> anyhow::Result<Self> {
        let der = stored.pkcs8_der()?;
        let pair = Ed25519KeyPair::from_pkcs8(&der)
            .map_err(|_| anyhow::anyhow!("key {} is not Ed25519 PKCS#8", stored.kid))?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        Ok(Self { encoding: Some(EncodingKey::from_ed_der(&der)), ..Self::public(&stored.kid, &x, stored.retired_at)? })
    }

    fn public(kid: &str, x: &str, retired_at: Option<Timestamp>) -> anyhow::Result<Self> {
        Ok(Self {
            kid: kid.to_string(),
            encoding: None,
            decoding: DecodingKey::from_ed_components(x)?,
            jwk: serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}),
            retired_at,
        })
    }

    /// A retired key verifies (and is published) until every token it signed has expired.
    fn live_at(&self, now: Timestamp) -> bool {
        self.retired_at.is_none_or(|r| r.plus_seconds(RETIRED_KEY_LIFETIME_SECONDS) > now)
    }
}

/// The keys of one load of the secret.
pub struct KeySet {
    current: LoadedKey,
    previous: Option<LoadedKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("current", &self.current.kid)
            .field("previous", &self.previous.as_ref().map(|k| &k.kid))
            .finish()
    }
}

/// The claims of our access tokens (RFC 9068 §2.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    pub org_id: String,
    pub principal_type: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// A down-scoped token's action patterns, space-separated (RFC 8693 `scope`); absent: all its
    /// principal's roles grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The external workload a workload trust accepted (RFC 8693 §4.1 `act`): `{"iss", "sub"}` of
    /// its token. Absent on tokens exchanged for an API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
    /// The networks the token may be used from: its principal's `allowedCidrs` when it was issued
    /// (absent: any). Every Bearer call checks it, and the principal's allowlist of now too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_cidrs: Vec<ipnet::IpNet>,
}

/// What verification decodes: the claims, and `nbf`, which our tokens never carry but a token
/// may (one that is not valid yet is refused, whoever signed it).
#[derive(Deserialize)]
struct VerifiedClaims {
    #[serde(flatten)]
    claims: AccessClaims,
    #[serde(default)]
    nbf: Option<i64>,
}

impl KeySet {
    /// Parses the signing-keys secret's JSON (it signs and verifies).
    pub fn from_secret(text: &str) -> anyhow::Result<Self> {
        let stored: StoredKeySet = serde_json::from_str(text)?;
        Ok(Self {
            current: LoadedKey::load(&stored.current)?,
            previous: stored.previous.as_ref().map(LoadedKey::load).transpose()?,
        })
    }

    /// Parses the verification-keys secret's JSON (it verifies; it cannot sign). The first key is
    /// the current one.
    pub fn from_published(text: &str) -> anyhow::Result<Self> {
        let published: PublishedKeySet = serde_json::from_str(text)?;
        let mut keys = published.keys.iter().map(|k| LoadedKey::public(&k.kid, &k.x, k.retired_at));
        let current = keys.next().ok_or_else(|| anyhow::anyhow!("the verification keys are empty"))??;
        Ok(Self { current, previous: keys.next().transpose()? })
    }

    /// The JWKS document: every key that may still verify a live token.
    pub fn jwks(&self, now: Timestamp) -> serde_json::Value {
        let keys: Vec<_> = self.live_keys(now).map(|k| k.jwk.clone()).collect();
        serde_json::json!({ "keys": keys })
    }

    fn live_keys(&self, now: Timestamp) -> impl Iterator<Item = &LoadedKey> {
        std::iter::once(&self.current).chain(self.previous.iter().filter(move |k| k.live_at(now)))
    }

    /// Does this set hold a live key with this `kid`?
    pub fn knows(&self, kid: &str, now: Timestamp) -> bool {
        self.live_keys(now).any(|k| k.kid == kid)
    }

    /// Signs `claims` with the current key.
    pub fn sign(&self, claims: &AccessClaims) -> anyhow::Result<String> {
        let encoding = self
            .current
            .encoding
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("this function holds the verification keys only: it cannot sign"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = Some(self.current.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, encoding)?)
    }

    /// Verifies a token: EdDSA only, `typ` at+jwt, a `kid` of this set (never a key named by the
    /// token itself), signature, `iss`, `aud`, `exp`, and `iat` and `nbf` not in the future (each
    /// with the leeway) against `now`, the service's clock.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::InvalidToken)?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(TOKEN_TYPE) || t.eq_ignore_ascii_case("application/at+jwt"));
        if header.alg != Algorithm::EdDSA
            || !typ_ok
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(AuthFailure::InvalidToken);
        }
        let kid = header.kid.ok_or(AuthFailure::InvalidToken)?;
        let key = self.live_keys(now).find(|k| k.kid == kid).ok_or(AuthFailure::InvalidToken)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Times are checked below against the service's clock, never the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<VerifiedClaims>(token, &key.decoding, &validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthFailure::TokenExpired,
                _ => AuthFailure::InvalidToken,
            })?;
        let VerifiedClaims { claims, nbf } = data.claims;
        if claims.exp + LEEWAY_SECONDS <= now.unix() {
            return Err(AuthFailure::TokenExpired);
        }
        // A token issued, or valid only from, later than now (past the leeway) is no token at all:
        // a container whose clock runs ahead, or a key in the wrong hands, must not mint tokens
        // that outlive their lifetime. The same rule as for member tokens (`oidc.rs`).
        let latest = now.unix() + LEEWAY_SECONDS;
        if claims.iat > latest || nbf.is_some_and(|nbf| nbf > latest) {
            return Err(AuthFailure::InvalidToken);
        }
        Ok(claims)
    }
}

mod container;
pub use container::{KeySource, TokenKeys};

#[cfg(test)]
mod tests;
