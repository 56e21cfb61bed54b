//! Authentication: the contract's 401 table, in its order. One strongly consistent read of the
//! credential item answers for the credential and its principal; org settings come from a cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::tokens::AccessClaims;
use super::{ApiKey, RequestCtx};
use crate::App;
use crate::app::TokenStanding;
use crate::domain::{Actor, CredentialStatus, KeyId, OrgId, PrincipalId, PrincipalStatus, PrincipalType, Timestamp};
use crate::domain::{ApiError, AuthFailure};
use crate::store::CredentialRecord;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Caller {
    pub principal_id: PrincipalId,
    pub principal_type: PrincipalType,
    /// The caller's organisation, from the credential: never from the request.
    pub org_id: OrgId,
    /// The credential used, when the caller presented an API key.
    pub key_id: Option<KeyId>,
    /// A down-scoped token's action patterns: it may do only these, within what its roles grant.
    /// `None`: a key, an unscoped token or a member.
    pub scope: Option<Vec<String>>,
}

impl Caller {
    /// The caller as an audit actor.
    pub fn actor(&self) -> Actor {
        match self.principal_type {
            PrincipalType::ApiKey => {
                Actor::ApiKey { principal_id: self.principal_id.clone(), key_id: self.key_id.clone() }
            }
            PrincipalType::User => Actor::User { principal_id: self.principal_id.clone() },
        }
    }
}

/// Who presented the request, before the org of the route is known: a principal (API key or
/// IAM access token, its org fixed by the credential), or a member of whichever orgs added the
/// provider's subject.
#[derive(Clone, Debug, PartialEq)]
pub enum Identity {
    Principal(Caller),
    Member { subject: String },
}

/// The unverified `iss` of a JWT: only to choose the verifier (IAM's or the provider's).
pub fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(String::from)
}

/// Keys verified in this container, by SHA-256 of the whole presented key, with the hash they
/// verified against: a warm request skips argon2 but still reads the credential's current state.
#[derive(Debug, Default)]
pub struct VerifiedKeys {
    entries: Mutex<HashMap<[u8; 32], String>>,
}

impl VerifiedKeys {
    /// Bound on entries; the cache starts afresh beyond it (a container serves few keys).
    const CAPACITY: usize = 10_000;

    fn digest(key: &ApiKey) -> [u8; 32] {
        Sha256::digest(key.full().as_bytes()).into()
    }

    /// Whether this exact key verified here (against whatever hash): what lets it past the
    /// failure limit of its key id.
    fn knows(&self, key: &ApiKey) -> bool {
        self.entries.lock().expect("cache lock").contains_key(&Self::digest(key))
    }

    fn contains(&self, key: &ApiKey, phc: &str) -> bool {
        let digest = Self::digest(key);
        self.entries.lock().expect("cache lock").get(&digest).is_some_and(|known| known == phc)
    }

    fn insert(&self, key: &ApiKey, phc: &str) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(Self::digest(key), phc.to_string());
    }
}

/// Direct `ApiKey` calls answered from an earlier read of the key, for orgs that allow it
/// (`directApiKeyCacheSeconds` > 0): by SHA-256 of the whole key, so only the exact key finds its
/// entry; each entry says when it was read. At most 60 s old (the setting's maximum).
#[derive(Debug, Default)]
pub struct DirectKeys {
    entries: Mutex<HashMap<[u8; 32], (CredentialRecord, Timestamp)>>,
}

impl DirectKeys {
    const CAPACITY: usize = 10_000;
    /// No entry is used past this age, whatever a setting says.
    pub const MAX_SECONDS: i64 = 60;

    fn get(&self, key: &ApiKey, now: Timestamp) -> Option<(CredentialRecord, i64)> {
        let entries = self.entries.lock().expect("cache lock");
        let (record, read_at) = entries.get(&VerifiedKeys::digest(key))?;
        let age = now.unix() - read_at.unix();
        (age < Self::MAX_SECONDS).then(|| (record.clone(), age))
    }

    fn insert(&self, key: &ApiKey, record: CredentialRecord, now: Timestamp) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(VerifiedKeys::digest(key), (record, now));
    }

    /// Forgets what this container read of a credential or of a principal's credentials (it has
    /// just changed them: the change applies here at once).
    pub fn forget(&self, matches: impl Fn(&CredentialRecord) -> bool) {
        self.entries.lock().expect("cache lock").retain(|_, (record, _)| !matches(record));
    }
}

/// The scheme and value of the Authorization header.
#[derive(Debug)]
pub enum Presented {
    ApiKey(String),
    Bearer(String),
}

/// The Authorization header read as `ApiKey <value>` or `Bearer <token>` (schemes case-insensitive).
pub fn presented(headers: &HeaderMap) -> Result<Presented, AuthFailure> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or(AuthFailure::MissingCredentials)?;
    let value = value.to_str().map_err(|_| AuthFailure::MissingCredentials)?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or(AuthFailure::MissingCredentials)?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(AuthFailure::MissingCredentials);
    }
    if scheme.eq_ignore_ascii_case("apikey") {
        Ok(Presented::ApiKey(rest.to_string()))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Presented::Bearer(rest.to_string()))
    } else {
        Err(AuthFailure::MissingCredentials)
    }
}

/// The credential and principal checks, in the contract's order, once the secret has verified.
pub(crate) fn check_standing(record: &CredentialRecord, now: Timestamp) -> Result<(), AuthFailure> {
    match record.credential.status {
        CredentialStatus::Revoked => return Err(AuthFailure::CredentialRevoked),
        _ if record.credential.is_expired_at(now) => return Err(AuthFailure::CredentialExpired),
        _ => {}
    }
    match record.principal.principal_status {
        PrincipalStatus::Suspended => Err(AuthFailure::PrincipalSuspended),
        PrincipalStatus::Revoked => Err(AuthFailure::PrincipalRevoked),
        PrincipalStatus::Active if record.principal.principal_expires_at.is_some_and(|e| e <= now) => {
            Err(AuthFailure::PrincipalExpired)
        }
        PrincipalStatus::Active => Ok(()),
    }
}

impl App {
    /// Verifies an API key: format, then one strongly consistent read, then the secret (argon2, or
    /// the container's cache of keys it already verified), then the credential and principal.
    /// An unknown key id runs a verification against a dummy hash, so it answers like a wrong secret.
    /// A key id that failed too often here refuses the secrets not verified here, before any read.
    pub async fn verify_api_key(&self, key: &ApiKey) -> Result<CredentialRecord, ApiError> {
        let now = self.clock.now();
        // The verified cache comes first, so a flood of wrong secrets never locks out a key this
        // container has verified; the limit then answers alike for unknown and known key ids.
        if !self.verified_keys.knows(key)
            && let Some(retry_after_seconds) = self.failed_verifications.blocked(key.key_id(), now)
        {
            return Err(ApiError::TooManyFailedAttempts { retry_after_seconds });
        }
        // The pepper is read on the container's first verification: at the same time as the item.
        let (found, hasher) = tokio::join!(self.store.get_credential(key.key_id()), self.hasher());
        let found = found?;
        // An unknown key id runs the same steps as a wrong secret (decode an item, look the key up
        // in the cache, verify against a hash), so that the two cost the same: see security.md.
        if found.is_none() {
            self.store.decode_dummy_credential();
        }
        let hasher = hasher?;
        let phc = found.as_ref().map_or(hasher.dummy_hash(), |r| r.secret_hash.expose_secret());
        let cached = self.verified_keys.contains(key, phc);
        let verified = cached || hasher.verify(key, phc);
        let Some(record) = found.filter(|_| verified) else {
            if let Some(block_seconds) = self.failed_verifications.record_failure(key.key_id(), now) {
                tracing::warn!(key_id = %key.key_id(), block_seconds, "failed verifications: key id blocked here");
            }
            return Err(AuthFailure::InvalidApiKey.into());
        };
        if !cached {
            self.verified_keys.insert(key, record.secret_hash.expose_secret());
        }
        check_standing(&record, now)?;
        Ok(record)
    }

    /// Authenticates the caller of an IAM route (or of a tenant route, for the authorizer) from its
    /// `Authorization` header; `ctx` is the request's route and source address, which a key's
    /// last use records. Bearer tokens are told apart by `iss` alone: IAM's own access tokens, or
    /// the identity provider's.
    pub async fn authenticate(&self, headers: &HeaderMap, ctx: &RequestCtx) -> Result<Identity, ApiError> {
        let token = match presented(headers)? {
            Presented::ApiKey(value) => value,
            Presented::Bearer(token) => {
                let issuer = unverified_issuer(&token).ok_or(AuthFailure::InvalidToken)?;
                if issuer == self.config.token_issuer {
                    return Ok(Identity::Principal(self.verify_bearer(&token).await?));
                }
                return match &self.oidc {
                    Some(oidc) if issuer == oidc.issuer() => {
                        let claims = oidc.verify(&token, self.clock.now()).await?;
                        Ok(Identity::Member { subject: claims.sub })
                    }
                    _ => Err(AuthFailure::InvalidToken.into()),
                };
            }
        };
        let key = ApiKey::parse(&token).map_err(|_| AuthFailure::ApiKeyMalformed)?;
        let now = self.clock.now();
        // An org that allows it answers from this container's earlier read of the exact key, for
        // at most `directApiKeyCacheSeconds`: no read. Expiry is still checked by the clock.
        if let Some((record, age)) = self.direct_keys.get(&key, now) {
            let settings = self.org_settings(&record.org_id).await?;
            if settings.direct_api_key_auth && age < i64::from(settings.direct_api_key_cache_seconds) {
                check_standing(&record, now)?;
                return Ok(Identity::Principal(caller_of(record)));
            }
        }
        let record = self.verify_api_key(&key).await?;
        let settings = self.org_settings(&record.org_id).await?;
        if !settings.direct_api_key_auth {
            return Err(AuthFailure::DirectApiKeyAuthDisabled.into());
        }
        self.note_use(&record, ctx).await;
        if settings.direct_api_key_cache_seconds > 0 {
            self.direct_keys.insert(&key, record.clone(), now);
        }
        Ok(Identity::Principal(caller_of(record)))
    }

    /// Verifies an access token against the container's key set (re-read every five minutes) and
    /// its principal's `tokensValidAfter` (one strongly consistent read per principal per 5 s per
    /// container; none when warm). The token stands for its principal until `exp` or revocation.
    pub async fn verify_bearer(&self, token: &str) -> Result<Caller, ApiError> {
        let claims = self.verify_token_signature(token).await?;
        let invalid = |_| AuthFailure::InvalidToken;
        if claims.principal_type != "ApiKey" {
            return Err(AuthFailure::InvalidToken.into());
        }
        let caller = Caller {
            principal_id: PrincipalId::parse(&claims.sub).map_err(invalid)?,
            principal_type: PrincipalType::ApiKey,
            org_id: OrgId::parse(&claims.org_id).map_err(invalid)?,
            key_id: Some(KeyId::parse(&claims.client_id).map_err(invalid)?),
            // A scope that no longer parses was not issued by us: refuse the token.
            scope: claims
                .scope
                .as_deref()
                .map(super::scope::parse)
                .transpose()
                .map_err(|_| AuthFailure::InvalidToken)?,
        };
        // A token issued at or before its principal's tokensValidAfter was revoked (second
        // granularity: a token of the very second of the revocation is refused too), and so was
        // one revoked by itself (RFC 7009).
        let standing = self.token_standing(&caller.org_id, &caller.principal_id).await?;
        if standing.valid_after.is_some_and(|t| claims.iat <= t.unix()) || standing.revoked_jtis.contains(&claims.jti) {
            return Err(AuthFailure::TokenRevoked.into());
        }
        Ok(caller)
    }

    /// An access token's claims, once its signature, `typ`, `iss`, `aud`, `exp` and `nbf` hold
    /// (no read; `tokensValidAfter` is the caller's to check).
    pub async fn verify_token_signature(&self, token: &str) -> Result<AccessClaims, ApiError> {
        let now = self.clock.now();
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid).ok_or(AuthFailure::InvalidToken)?;
        let keys = self.token_keys().await?.get_for(&kid, now).await;
        Ok(keys.verify(token, &self.config.token_issuer, &self.config.token_audience, now)?)
    }

    /// The principal's `tokensValidAfter` and revoked tokens, from the container's cache (≤ 5 s
    /// old) or one strongly consistent read. A principal that is gone revokes every token it had.
    pub(crate) async fn token_standing(&self, org: &OrgId, id: &PrincipalId) -> Result<TokenStanding, ApiError> {
        let now = self.clock.now();
        let key = (org.clone(), id.clone());
        if let Some(cached) = self.token_standing.get(&key, now) {
            return Ok(cached);
        }
        let principal = self.store.get_principal(org, id).await?.ok_or(AuthFailure::TokenRevoked)?;
        let standing = TokenStanding {
            valid_after: principal.principal.tokens_valid_after,
            revoked_jtis: Arc::new(revoked_jtis(&principal.revoked_tokens)),
        };
        self.token_standing.insert(key, standing.clone(), now);
        Ok(standing)
    }

    /// Records in this container the `tokensValidAfter` it has just written (so it applies here at
    /// once, and a verification that read the old value meanwhile cannot put it back for longer
    /// than it would have lived anyway); the other containers see it within the cache bound.
    pub fn remember_tokens_valid_after(&self, org: &OrgId, id: &PrincipalId, valid_after: Option<Timestamp>) {
        let key = (org.clone(), id.clone());
        let now = self.clock.now();
        match self.token_standing.get(&key, now) {
            Some(known) => self.token_standing.insert(key, TokenStanding { valid_after, ..known }, now),
            // Nothing known of its revoked tokens here: the next verification reads them all.
            None => self.token_standing.remove(&key),
        }
    }

    /// Records in this container a token it has just revoked (as for `tokensValidAfter`).
    pub fn remember_revoked_token(&self, org: &OrgId, id: &PrincipalId, jti: &str) {
        let key = (org.clone(), id.clone());
        let now = self.clock.now();
        if let Some(known) = self.token_standing.get(&key, now) {
            let mut jtis = known.revoked_jtis.as_ref().clone();
            jtis.push(jti.to_string());
            self.token_standing.insert(key, TokenStanding { revoked_jtis: Arc::new(jtis), ..known }, now);
        }
    }

    /// Records `lastUsedAt`, with the request's source address and route, when the stored value is
    /// older than the interval (a fresh one costs nothing: the item was read anyway); the write is
    /// conditional, so concurrent containers produce one successful write. Its failure never fails
    /// the request.
    pub async fn note_use(&self, record: &CredentialRecord, ctx: &RequestCtx) {
        let now = self.clock.now();
        let not_since = now.plus_seconds(-self.config.last_used_interval_seconds);
        if record.credential.last_used_at.is_some_and(|t| t >= not_since) {
            return;
        }
        // API Gateway's address, in its canonical form (never a client-supplied header).
        let source_ip =
            ctx.source_ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok()).map(|ip| ip.to_string());
        let route = Some(ctx.route_key.as_str()).filter(|r| !r.is_empty());
        let written =
            self.store.touch_last_used(&record.credential.id, now, not_since, source_ip.as_deref(), route).await;
        if let Err(err) = written {
            let request_id = ctx.request_id.as_str();
            tracing::warn!(request_id, key_id = %record.credential.id, error = %err, "lastUsedAt not recorded");
        }
    }
}

/// The caller a credential stands for.
fn caller_of(record: CredentialRecord) -> Caller {
    Caller {
        principal_id: record.credential.principal_id,
        principal_type: record.principal.principal_type,
        org_id: record.org_id,
        key_id: Some(record.credential.id),
        scope: None,
    }
}

/// The `jti`s of a principal's revoked-token entries.
fn revoked_jtis(entries: &[String]) -> Vec<String> {
    entries.iter().filter_map(|e| crate::store::parse_revoked_token_entry(e)).map(|(_, jti)| jti.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Credential, Name};
    use crate::store::PrincipalState;

    fn record(status: CredentialStatus, principal_status: PrincipalStatus) -> CredentialRecord {
        CredentialRecord {
            credential: Credential {
                id: KeyId::parse("abcdefghij0123456789").unwrap(),
                principal_id: PrincipalId::generate(),
                name: Name::parse("ci").unwrap(),
                status,
                expires_at: Some(Timestamp::from_unix(100)),
                created_at: Timestamp::from_unix(0),
                last_used_at: None,
                last_used_ip: None,
                last_used_route: None,
                revoked_at: None,
                replaced_by: None,
            },
            org_id: OrgId::generate(),
            secret_hash: secrecy::SecretString::default(),
            version: 1,
            principal: PrincipalState {
                principal_type: PrincipalType::ApiKey,
                principal_status,
                principal_expires_at: Some(Timestamp::from_unix(200)),
            },
        }
    }

    #[test]
    fn credential_checks_come_before_principal_checks() {
        let now = Timestamp::from_unix(50);
        let revoked_everything = record(CredentialStatus::Revoked, PrincipalStatus::Revoked);
        assert_eq!(check_standing(&revoked_everything, now), Err(AuthFailure::CredentialRevoked));
        let expired_suspended = record(CredentialStatus::Expired, PrincipalStatus::Suspended);
        assert_eq!(check_standing(&expired_suspended, now), Err(AuthFailure::CredentialExpired));
        assert_eq!(
            check_standing(&record(CredentialStatus::Active, PrincipalStatus::Suspended), now),
            Err(AuthFailure::PrincipalSuspended)
        );
        assert_eq!(
            check_standing(&record(CredentialStatus::Active, PrincipalStatus::Revoked), now),
            Err(AuthFailure::PrincipalRevoked)
        );
        assert_eq!(check_standing(&record(CredentialStatus::Active, PrincipalStatus::Active), now), Ok(()));
    }

    #[test]
    fn expiry_is_checked_by_time_whether_or_not_the_sweep_ran() {
        let mut r = record(CredentialStatus::Active, PrincipalStatus::Active);
        assert_eq!(check_standing(&r, Timestamp::from_unix(100)), Err(AuthFailure::CredentialExpired));
        r.credential.expires_at = None;
        assert_eq!(check_standing(&r, Timestamp::from_unix(200)), Err(AuthFailure::PrincipalExpired));
    }

    #[test]
    fn unparseable_authorization_headers_are_missing_credentials() {
        for value in ["", "ApiKey", "ApiKey   ", "Basic abc", "ik_abc"] {
            let mut headers = HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
            assert!(matches!(presented(&headers), Err(AuthFailure::MissingCredentials)), "{value:?}");
        }
        assert!(matches!(presented(&HeaderMap::new()), Err(AuthFailure::MissingCredentials)));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, "apikey ik_x".parse().unwrap());
        assert!(matches!(presented(&headers), Ok(Presented::ApiKey(v)) if v == "ik_x"));
    }
}
