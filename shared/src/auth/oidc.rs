//! Member (User) tokens from the organisation's OIDC identity provider: the provider's JWKS is
//! fetched once per container and again, at most once a minute, when a token names an unknown
//! `kid`. Algorithms are pinned to what the provider publishes (RS256, ES256).

use std::collections::HashMap;
use std::sync::RwLock;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::AuthFailure;
use super::tokens::LEEWAY_SECONDS;
pub use crate::config::OidcProvider;
use crate::domain::Timestamp;

/// An unknown `kid` makes the container re-fetch the provider's JWKS at most this often.
pub const JWKS_REFETCH_SECONDS: i64 = 60;

/// The claims a member token must carry.
#[derive(Debug, Deserialize)]
pub struct UserClaims {
    pub iss: String,
    pub sub: String,
    pub exp: i64,
    /// Not valid before (optional in OIDC ID tokens, checked when present).
    #[serde(default)]
    pub nbf: Option<i64>,
}

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    /// Whether the JWKS was fetched at all (the first token fetches it, whenever it comes).
    fetched: bool,
    /// When an unknown `kid` last caused a re-fetch.
    refetched_at: Option<Timestamp>,
}

/// Verifies member tokens against the provider's published keys.
pub struct OidcVerifier {
    provider: OidcProvider,
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier").field("provider", &self.provider).finish_non_exhaustive()
    }
}

/// The algorithm a published key is for: its `alg` if it names one we accept, else what its
/// type implies; keys for anything else are not used.
fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(ec)) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        (None, AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (None, AlgorithmParameters::EllipticCurve(ec)) if ec.curve == EllipticCurve::P256 => Some(Algorithm::ES256),
        _ => None,
    }
}

impl OidcVerifier {
    /// A verifier that has fetched nothing yet (the first token fetches the JWKS).
    pub fn new(provider: OidcProvider) -> Self {
        Self { provider, keys: RwLock::new(Keys { by_kid: HashMap::new(), fetched: false, refetched_at: None }) }
    }

    /// The provider's issuer.
    pub fn issuer(&self) -> &str {
        &self.provider.issuer
    }

    async fn fetch(&self) -> Result<(), AuthFailure> {
        let http = super::outbound_http().map_err(|reason| {
            tracing::warn!(error = reason, "identity provider JWKS not fetched");
            AuthFailure::InvalidToken
        })?;
        let response = http.get(&self.provider.jwks_url).send().await.map_err(|e| {
            tracing::warn!(error = %e, "identity provider JWKS not fetched");
            AuthFailure::InvalidToken
        })?;
        let bytes = response.bytes().await.map_err(|_| AuthFailure::InvalidToken)?;
        let set: JwkSet = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "identity provider JWKS unreadable");
            AuthFailure::InvalidToken
        })?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            if let (Some(kid), Some(alg)) = (&jwk.common.key_id, algorithm_of(jwk))
                && let Ok(key) = DecodingKey::from_jwk(jwk)
            {
                by_kid.insert(kid.clone(), (key, alg));
            }
        }
        let mut keys = self.keys.write().expect("jwks lock");
        keys.by_kid = by_kid;
        keys.fetched = true;
        Ok(())
    }

    /// Verifies a member token: a `kid` the provider publishes (one re-fetch per minute for an
    /// unknown one), that key's algorithm only, the signature, `iss`, `aud`, `exp` (30 s
    /// leeway) and `sub`.
    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<UserClaims, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::InvalidToken)?;
        let kid = header.kid.clone().ok_or(AuthFailure::InvalidToken)?;
        let lookup = |keys: &Keys| keys.by_kid.get(&kid).map(|(k, a)| (k.clone(), *a));
        let mut found = lookup(&self.keys.read().expect("jwks lock"));
        if found.is_none() {
            let may_fetch = {
                let mut keys = self.keys.write().expect("jwks lock");
                let first = !keys.fetched;
                let due = keys.refetched_at.is_none_or(|at| now.unix() - at.unix() >= JWKS_REFETCH_SECONDS);
                if !first && due {
                    keys.refetched_at = Some(now);
                }
                first || due
            };
            if may_fetch {
                self.fetch().await?;
                found = lookup(&self.keys.read().expect("jwks lock"));
            }
        }
        let (key, alg) = found.ok_or(AuthFailure::InvalidToken)?;
        if header.alg != alg {
            return Err(AuthFailure::InvalidToken);
        }
        let mut validation = Validation::new(alg);
        // Times are checked below against the service's clock, never the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&self.provider.issuer]);
        validation.set_audience(&[&self.provider.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<UserClaims>(token, &key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthFailure::TokenExpired,
            _ => AuthFailure::InvalidToken,
        })?;
        if data.claims.exp + LEEWAY_SECONDS <= now.unix() {
            return Err(AuthFailure::TokenExpired);
        }
        // A token that is not valid yet is no token at all (the same leeway as for `exp`).
        if data.claims.nbf.is_some_and(|nbf| nbf > now.unix() + LEEWAY_SECONDS) {
            return Err(AuthFailure::InvalidToken);
        }
        if data.claims.sub.is_empty() || data.claims.sub.len() > 255 {
            return Err(AuthFailure::InvalidToken);
        }
        Ok(data.claims)
    }
}
