//! Fetching and caching each workload issuer's keys, safely: https only, public addresses only,
//! no redirects, bounded in time and size; and verifying a token's signature with them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{
    ALLOWED_ALGORITHMS, FAILED_FETCH_RETRY_SECONDS, FETCH_TIMEOUT_SECONDS, KEYS_MAX_AGE_SECONDS, MAX_DOCUMENT_BYTES,
    MAX_ISSUERS, Peeked, REFETCH_SECONDS,
};
use crate::domain::{GrantRefusal, Timestamp};

/// The algorithm a published key is for: its `alg` if it names one allowed for its type, else the
/// one its type implies (RSA: RS256; P-256: ES256; P-384: ES384; Ed25519: EdDSA). Others are not used.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    use AlgorithmParameters::{EllipticCurve as Ec, OctetKeyPair, RSA};
    let named = jwk.common.key_algorithm;
    match (&jwk.algorithm, named) {
        (RSA(_), None | Some(KeyAlgorithm::RS256)) => Some(Algorithm::RS256),
        (RSA(_), Some(KeyAlgorithm::RS384)) => Some(Algorithm::RS384),
        (RSA(_), Some(KeyAlgorithm::RS512)) => Some(Algorithm::RS512),
        (RSA(_), Some(KeyAlgorithm::PS256)) => Some(Algorithm::PS256),
        (RSA(_), Some(KeyAlgorithm::PS384)) => Some(Algorithm::PS384),
        (RSA(_), Some(KeyAlgorithm::PS512)) => Some(Algorithm::PS512),
        (Ec(ec), None | Some(KeyAlgorithm::ES256)) if ec.curve == EllipticCurve::P256 => Some(Algorithm::ES256),
        (Ec(ec), None | Some(KeyAlgorithm::ES384)) if ec.curve == EllipticCurve::P384 => Some(Algorithm::ES384),
        (OctetKeyPair(okp), None | Some(KeyAlgorithm::EdDSA)) if okp.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

/// What the fetching may reach.
#[derive(Clone, Debug, Default)]
pub struct FetchPolicy {
    /// The one issuer that may be `http` and on a loopback or private address: the local stack's
    /// development issuer. `None` in a deployed stack.
    pub local_issuer: Option<String>,
}

impl FetchPolicy {
    /// Whether `url` may be fetched: `https`, or under the local issuer.
    pub fn allows_url(&self, url: &str) -> bool {
        if self.local_issuer.as_deref().is_some_and(|local| url == local || url.starts_with(&format!("{local}/"))) {
            return true;
        }
        match reqwest::Url::parse(url) {
            Ok(parsed) => {
                parsed.scheme() == "https"
                    && parsed.username().is_empty()
                    && parsed.password().is_none()
                    && parsed.host_str().is_some_and(|host| {
                        // A literal address never reaches the resolver: it is checked here.
                        match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                            Ok(ip) => is_public(ip),
                            Err(_) => true,
                        }
                    })
            }
            Err(_) => false,
        }
    }

    fn local_host(&self) -> Option<String> {
        let local = reqwest::Url::parse(self.local_issuer.as_deref()?).ok()?;
        local.host_str().map(str::to_ascii_lowercase)
    }
}

/// Whether an address is one a deployed stack may fetch from: not loopback, private, link-local
/// (the instance metadata service among them), shared (CGNAT), unique-local, multicast,
/// unspecified, documentation or benchmarking, nor an IPv4-mapped or -translated form of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b
                || v6.segments()[..6] == [0, 0, 0, 0, 0, 0])
        }
    }
}

/// The DNS resolver of the federation's fetches: every address of a name must be public (a name
/// with one private address is refused whole, so that a rebinding answer cannot slip one in),
/// except for the local issuer's host.
struct PublicOnly {
    local_host: Option<String>,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let local = self.local_host.as_deref() == Some(host.as_str());
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() || (!local && addrs.iter().any(|a| !is_public(a.ip()))) {
                return Err(format!("{host} resolves to an address the service does not fetch from").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// One issuer's keys as this container holds them.
#[derive(Default)]
struct IssuerKeys {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    /// When the keys were last read successfully.
    fetched_at: Option<Timestamp>,
    /// When an unknown `kid` last made the container read them again.
    refetched_at: Option<Timestamp>,
    /// When a read last failed, if it did since the last success.
    failed_at: Option<Timestamp>,
}

/// One issuer's keys behind their own lock (one fetch at a time per issuer).
type IssuerEntry = Arc<tokio::sync::Mutex<IssuerKeys>>;

/// Every issuer's keys in this container, each with when it was last used.
pub struct Issuers {
    policy: FetchPolicy,
    entries: Mutex<HashMap<String, (Timestamp, IssuerEntry)>>,
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuers").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// Why a fetch failed (logged, never shown to the caller).
type FetchError = String;

impl Issuers {
    pub fn new(policy: FetchPolicy) -> Self {
        Self { policy, entries: Mutex::new(HashMap::new()), client: OnceLock::new() }
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    fn client(&self) -> Result<&reqwest::Client, FetchError> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(FETCH_TIMEOUT_SECONDS))
                    .connect_timeout(std::time::Duration::from_secs(FETCH_TIMEOUT_SECONDS))
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .dns_resolver(Arc::new(PublicOnly { local_host: self.policy.local_host() }))
                    .build()
                    .map_err(|e| format!("no outbound HTTP client: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The entry of `issuer`, made when missing; the least recently used goes when full.
    fn entry(&self, issuer: &str, now: Timestamp) -> IssuerEntry {
        let mut entries = self.entries.lock().expect("issuers lock");
        if let Some((used, entry)) = entries.get_mut(issuer) {
            *used = now;
            return entry.clone();
        }
        if entries.len() >= MAX_ISSUERS
            && let Some(oldest) = entries.iter().min_by_key(|(_, (used, _))| *used).map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        let entry = Arc::new(tokio::sync::Mutex::new(IssuerKeys::default()));
        entries.insert(issuer.to_string(), (now, entry.clone()));
        entry
    }

    /// GET `url`, at most [`MAX_DOCUMENT_BYTES`], as a JSON object.
    async fn fetch_json(&self, url: &str) -> Result<Map<String, Value>, FetchError> {
        if !self.policy.allows_url(url) {
            return Err(format!("{url} is not an https URL of a public host"));
        }
        let mut response = self.client()?.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("GET {url}: not a JSON object")),
        }
    }

    /// The issuer's discovery document, then the key set it names: each usable key by its `kid`.
    async fn fetch_keys(&self, issuer: &str) -> Result<HashMap<String, (DecodingKey, Algorithm)>, FetchError> {
        let discovery =
            self.fetch_json(&format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).await?;
        if discovery.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(format!("the discovery document of {issuer} names another issuer"));
        }
        let jwks_uri = discovery.get("jwks_uri").and_then(Value::as_str).ok_or("no jwks_uri")?;
        let set = self.fetch_json(jwks_uri).await?;
        let mut by_kid = HashMap::new();
        // Each key on its own: one this service cannot read (another type, an encryption key)
        // does not spoil the others.
        for value in set.get("keys").and_then(Value::as_array).into_iter().flatten() {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else { continue };
            let for_signing = !matches!(&jwk.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption));
            if let (true, Some(kid), Some(alg)) = (for_signing, &jwk.common.key_id, algorithm_of(&jwk))
                && let Ok(key) = DecodingKey::from_jwk(&jwk)
            {
                by_kid.insert(kid.clone(), (key, alg));
            }
        }
        Ok(by_kid)
    }

    /// The key `kid` of `issuer`: from the container's copy while it is fresh, else read again
    /// (an unknown `kid` at most once per [`REFETCH_SECONDS`]; after a failure, not for
    /// [`FAILED_FETCH_RETRY_SECONDS`]).
    pub async fn key(&self, issuer: &str, kid: &str, now: Timestamp) -> Result<(DecodingKey, Algorithm), GrantRefusal> {
        let entry = self.entry(issuer, now);
        let mut keys = entry.lock().await;
        let age = |at: Option<Timestamp>| at.map_or(i64::MAX, |t| now.unix() - t.unix());
        let fresh = age(keys.fetched_at) < KEYS_MAX_AGE_SECONDS;
        if fresh && let Some(found) = keys.by_kid.get(kid) {
            return Ok(found.clone());
        }
        let due = if age(keys.failed_at) < FAILED_FETCH_RETRY_SECONDS {
            false
        } else if fresh {
            // The keys are fresh but lack this kid: the issuer may have rotated.
            age(keys.refetched_at) >= REFETCH_SECONDS
        } else {
            true
        };
        if due {
            if fresh {
                keys.refetched_at = Some(now);
            }
            match self.fetch_keys(issuer).await {
                Ok(by_kid) => {
                    keys.by_kid = by_kid;
                    keys.fetched_at = Some(now);
                    keys.failed_at = None;
                }
                Err(reason) => {
                    tracing::warn!(issuer, error = reason, "workload issuer keys not fetched");
                    keys.failed_at = Some(now);
                }
            }
        }
        // Keys that could not be read again serve a while longer (an issuer's outage is not ours);
        // none at all, or none for twice their age, is the issuer unavailable.
        if age(keys.fetched_at) >= 2 * KEYS_MAX_AGE_SECONDS {
            return Err(GrantRefusal::IssuerUnavailable);
        }
        keys.by_kid.get(kid).cloned().ok_or(GrantRefusal::UnknownKey)
    }

    /// Verifies the signature of a peeked token with its issuer's key: an allowed algorithm, a
    /// `kid` the issuer publishes, that key's algorithm exactly, and the signature.
    pub async fn verify_signature(&self, token: &str, peeked: &Peeked, now: Timestamp) -> Result<(), GrantRefusal> {
        if !ALLOWED_ALGORITHMS.contains(&peeked.alg.as_str()) {
            return Err(GrantRefusal::AlgorithmRefused);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| GrantRefusal::MalformedToken)?;
        let kid = peeked.kid.as_deref().ok_or(GrantRefusal::UnknownKey)?;
        let (key, alg) = self.key(&peeked.issuer, kid, now).await?;
        if header.alg != alg {
            return Err(GrantRefusal::AlgorithmRefused);
        }
        let mut validation = Validation::new(alg);
        // Times, audience and issuer are checked by the caller, on the service's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims::<&str>(&[]);
        jsonwebtoken::decode::<Value>(token, &key, &validation).map(|_| ()).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
                    GrantRefusal::BadSignature
                }
                ErrorKind::InvalidAlgorithm => GrantRefusal::AlgorithmRefused,
                _ => GrantRefusal::BadSignature,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_resolver_refuses_a_name_with_a_private_address_unless_it_is_the_local_issuers() {
        use reqwest::dns::Resolve;
        let strict = PublicOnly { local_host: None };
        assert!(strict.resolve("localhost".parse().unwrap()).await.is_err(), "loopback");
        let local = PublicOnly { local_host: Some("localhost".into()) };
        let addrs: Vec<SocketAddr> = local.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
