//! Access tokens: RFC 9068 JWTs signed with Ed25519 (EdDSA), keys held in one Secrets Manager
//! secret (current and previous), verified without any network call.

use crate::store::SecretStore;
use std::sync::{Arc, RwLock};

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

/// The key set of this container: loaded on first use, re-read at most every five minutes, or sooner
/// (at most once a minute) when a token names a `kid` the container does not know yet.
pub struct TokenKeys {
    secrets: SecretStore,
    source: KeySource,
    state: RwLock<KeyState>,
}

struct KeyState {
    set: Arc<KeySet>,
    /// When the set was read (or, after a failed re-read, when to count the next attempt from).
    loaded_at: Timestamp,
    /// When an unknown `kid` last caused a re-read.
    forced_at: Option<Timestamp>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("source", &self.source).finish_non_exhaustive()
    }
}

/// Where a container's token keys come from: the signing keys (private and public: token-exchange,
/// which signs), or their public half alone (every function that only verifies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Signing(String),
    Verification(String),
}

async fn fetch(secrets: &SecretStore, source: &KeySource) -> anyhow::Result<KeySet> {
    // The stage is named explicitly: moto answers an unstaged read with the secret's first version
    // even after a rotation moved AWSCURRENT (AWS answers AWSCURRENT either way).
    match source {
        KeySource::Signing(id) => KeySet::from_secret(&secrets.read(id, Some("AWSCURRENT")).await?),
        KeySource::Verification(id) => KeySet::from_published(&secrets.read(id, Some("AWSCURRENT")).await?),
    }
}

impl TokenKeys {
    /// Loads the key set once (the first request that needs it).
    pub async fn load(secrets: SecretStore, source: KeySource, now: Timestamp) -> anyhow::Result<Self> {
        let set = fetch(&secrets, &source).await.map_err(|e| e.context(format!("load token keys {source:?}")))?;
        let state = KeyState { set: Arc::new(set), loaded_at: now, forced_at: None };
        Ok(Self { secrets, source, state: RwLock::new(state) })
    }

    /// The key set, re-read when older than five minutes.
    pub async fn get(&self, now: Timestamp) -> Arc<KeySet> {
        let (set, loaded_at) = {
            let state = self.state.read().expect("key set lock");
            (state.set.clone(), state.loaded_at)
        };
        if now.unix() - loaded_at.unix() < KEY_REFRESH_SECONDS {
            return set;
        }
        self.refresh(set, now).await
    }

    /// The key set for verifying a token signed with `kid`: when the set does not know it (a key
    /// another container already signs with), re-read it, at most once a minute.
    pub async fn get_for(&self, kid: &str, now: Timestamp) -> Arc<KeySet> {
        let set = self.get(now).await;
        if set.knows(kid, now) {
            return set;
        }
        {
            let mut state = self.state.write().expect("key set lock");
            if state.forced_at.is_some_and(|at| now.unix() - at.unix() < UNKNOWN_KID_REFRESH_SECONDS) {
                return set;
            }
            state.forced_at = Some(now);
        }
        self.refresh(set, now).await
    }

    /// Re-reads the set. A failed re-read keeps the set it has and tries again in 30 s, so tokens
    /// keep verifying through a Secrets Manager outage without every request waiting on it.
    async fn refresh(&self, set: Arc<KeySet>, now: Timestamp) -> Arc<KeySet> {
        match fetch(&self.secrets, &self.source).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                let mut state = self.state.write().expect("key set lock");
                state.set = fresh.clone();
                state.loaded_at = now;
                fresh
            }
            Err(err) => {
                tracing::warn!(error = %err, "signing keys not refreshed; keeping the loaded set");
                self.state.write().expect("key set lock").loaded_at = now.plus_seconds(30 - KEY_REFRESH_SECONDS);
                set
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://iam.test";
    const AUD: &str = "urn:test";

    fn set(now: Timestamp) -> (KeySet, StoredKeySet) {
        let stored = StoredKeySet { current: StoredKey::generate(now).unwrap(), previous: None };
        (KeySet::from_secret(&serde_json::to_string(&stored).unwrap()).unwrap(), stored)
    }

    fn claims(now: Timestamp) -> AccessClaims {
        AccessClaims {
            iss: ISS.into(),
            aud: AUD.into(),
            sub: "akp_x".into(),
            client_id: "k".into(),
            org_id: "org_x".into(),
            principal_type: "ApiKey".into(),
            iat: now.unix(),
            exp: now.unix() + 900,
            jti: "j".into(),
            scope: None,
        }
    }

    fn now() -> Timestamp {
        Timestamp::now()
    }

    #[test]
    fn a_signed_token_verifies_and_carries_its_claims() {
        let (keys, _) = set(now());
        let token = keys.sign(&claims(now())).unwrap();
        assert_eq!(keys.verify(&token, ISS, AUD, now()).unwrap(), claims(now()));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert!(keys.knows(&header.kid.unwrap(), now()));
    }

    #[test]
    fn issuer_audience_and_expiry_are_enforced() {
        let (keys, _) = set(now());
        let token = keys.sign(&claims(now())).unwrap();
        assert_eq!(keys.verify(&token, "https://other", AUD, now()), Err(AuthFailure::InvalidToken));
        assert_eq!(keys.verify(&token, ISS, "urn:other", now()), Err(AuthFailure::InvalidToken));
        assert_eq!(keys.verify(&token, ISS, AUD, now().plus_seconds(900 + 30)), Err(AuthFailure::TokenExpired));
        assert!(keys.verify(&token, ISS, AUD, now().plus_seconds(900 + 29)).is_ok(), "30 s of leeway");
    }

    /// `claims` with `nbf` added, signed with the set's current key as `sign` would.
    fn sign_with_nbf(keys: &KeySet, claims: &AccessClaims, nbf: i64) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = Some(keys.current.kid.clone());
        let mut body = serde_json::to_value(claims).unwrap();
        body["nbf"] = nbf.into();
        jsonwebtoken::encode(&header, &body, keys.current.encoding.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_beyond_the_leeway() {
        let t0 = Timestamp::from_unix(1_795_000_000);
        let (keys, _) = set(t0);
        for (ahead, verifies) in [(0, true), (LEEWAY_SECONDS, true), (LEEWAY_SECONDS + 1, false), (3600, false)] {
            let mut issued = claims(t0);
            issued.iat = t0.unix() + ahead;
            issued.exp = issued.iat + 900;
            let token = keys.sign(&issued).unwrap();
            let verified = keys.verify(&token, ISS, AUD, t0);
            if verifies {
                assert_eq!(verified, Ok(issued), "iat {ahead} s ahead");
            } else {
                assert_eq!(verified, Err(AuthFailure::InvalidToken), "iat {ahead} s ahead");
            }
        }
    }

    #[test]
    fn a_token_not_valid_yet_is_refused_beyond_the_leeway() {
        let t0 = Timestamp::from_unix(1_795_000_000);
        let (keys, _) = set(t0);
        for (ahead, verifies) in [(-60, true), (LEEWAY_SECONDS, true), (LEEWAY_SECONDS + 1, false), (3600, false)] {
            let token = sign_with_nbf(&keys, &claims(t0), t0.unix() + ahead);
            let verified = keys.verify(&token, ISS, AUD, t0);
            if verifies {
                assert_eq!(verified, Ok(claims(t0)), "nbf {ahead} s ahead");
            } else {
                assert_eq!(verified, Err(AuthFailure::InvalidToken), "nbf {ahead} s ahead");
            }
        }
    }

    #[test]
    fn the_time_claims_are_judged_by_the_clock_passed_in() {
        // A token issued an hour ahead of the system clock verifies for a service clock an hour
        // ahead too, and is refused for one standing at the system's now.
        let later = Timestamp::now().plus_seconds(3600);
        let (keys, _) = set(later);
        let token = keys.sign(&claims(later)).unwrap();
        assert_eq!(keys.verify(&token, ISS, AUD, later), Ok(claims(later)));
        assert_eq!(keys.verify(&token, ISS, AUD, later.plus_seconds(-3600)), Err(AuthFailure::InvalidToken));
    }

    #[test]
    fn a_token_of_another_key_set_is_invalid() {
        let (ours, _) = set(now());
        let (theirs, _) = set(now());
        let token = theirs.sign(&claims(now())).unwrap();
        assert_eq!(ours.verify(&token, ISS, AUD, now()), Err(AuthFailure::InvalidToken));
    }

    #[test]
    fn a_retired_key_verifies_until_its_last_token_expires_then_leaves_the_jwks() {
        let t0 = now();
        let (old, old_stored) = set(t0);
        let token = old.sign(&claims(t0)).unwrap();
        let mut retired = old_stored.current.clone();
        retired.retired_at = Some(t0);
        let rotated = StoredKeySet { current: StoredKey::generate(t0).unwrap(), previous: Some(retired) };
        let keys = KeySet::from_secret(&serde_json::to_string(&rotated).unwrap()).unwrap();
        assert!(keys.verify(&token, ISS, AUD, t0.plus_seconds(60)).is_ok());
        assert_eq!(keys.jwks(t0)["keys"].as_array().unwrap().len(), 2);
        assert!(keys.knows(&old_stored.current.kid, t0.plus_seconds(RETIRED_KEY_LIFETIME_SECONDS - 1)));
        let later = t0.plus_seconds(RETIRED_KEY_LIFETIME_SECONDS);
        assert_eq!(keys.jwks(later)["keys"].as_array().unwrap().len(), 1);
        assert_eq!(keys.verify(&token, ISS, AUD, later), Err(AuthFailure::InvalidToken));
    }

    #[test]
    fn the_published_half_verifies_what_the_signing_keys_sign_and_cannot_sign() {
        let now = Timestamp::from_unix(1_800_000_000);
        let (signing, stored) = set(now);
        let published = serde_json::to_string(&stored.published().unwrap()).unwrap();
        assert!(!published.contains(stored.current.private_key_pkcs8.expose_secret()), "no private key");
        let verifying = KeySet::from_published(&published).unwrap();
        let claims = AccessClaims {
            iss: ISS.into(),
            aud: AUD.into(),
            sub: "s".into(),
            client_id: "c".into(),
            org_id: "o".into(),
            principal_type: "ApiKey".into(),
            iat: now.unix(),
            exp: now.unix() + 60,
            jti: "j".into(),
            scope: None,
        };
        let token = signing.sign(&claims).unwrap();
        assert_eq!(verifying.verify(&token, ISS, AUD, now).unwrap(), claims);
        assert!(verifying.sign(&claims).is_err());
        assert_eq!(verifying.jwks(now), signing.jwks(now));
    }
}
