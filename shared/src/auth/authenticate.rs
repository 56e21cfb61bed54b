//! Authentication: the contract's 401 table, in its order. The credential and its principal are
//! read strongly consistently: the first time a container sees a key, the credential and then
//! (once the secret verified) its principal, with the org's settings when the container has none
//! cached; from then on both in one round trip. Org settings come from a cache.

use std::sync::Arc;

use http::HeaderMap;
use secrecy::ExposeSecret;

use super::tokens::AccessClaims;
use super::{ApiKey, Presented, RateState, RequestCtx, presented};
use crate::App;
use crate::app::TokenStanding;
use crate::domain::{Actor, CredentialStatus, KeyId, OrgId, PrincipalId, PrincipalStatus, PrincipalType, Timestamp};
use crate::domain::{ApiError, AuthFailure};
use crate::store::{CredentialRecord, KeyStanding, PrincipalRecord, PrincipalState};

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
    /// Where the call stands against its API-key principal's rate limit (`None`: no limit, or a
    /// member).
    pub rate: Option<RateState>,
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

/// The credential and principal checks, in the contract's order, once the secret has verified.
pub(crate) fn check_standing(key: &KeyStanding, now: Timestamp) -> Result<(), AuthFailure> {
    let record = &key.record;
    match record.credential.status {
        CredentialStatus::Revoked => return Err(AuthFailure::CredentialRevoked),
        _ if record.credential.is_expired_at(now) => return Err(AuthFailure::CredentialExpired),
        _ => {}
    }
    match key.principal.principal_status {
        PrincipalStatus::Suspended => Err(AuthFailure::PrincipalSuspended),
        PrincipalStatus::Revoked => Err(AuthFailure::PrincipalRevoked),
        PrincipalStatus::Active if key.principal.principal_expires_at.is_some_and(|e| e <= now) => {
            Err(AuthFailure::PrincipalExpired)
        }
        PrincipalStatus::Active => Ok(()),
    }
}

impl App {
    /// Verifies an API key: format, then a strongly consistent read of the credential, then the
    /// secret (argon2, or the container's cache of keys it already verified), then the credential
    /// and principal checks. A key this container verified before reads the credential and its
    /// principal in one round trip; otherwise the principal is read once the secret has verified.
    /// An unknown key id runs a verification against a dummy hash, so it answers like a wrong
    /// secret. A key id that failed too often here refuses the secrets not verified here, before
    /// any read.
    pub async fn verify_api_key(&self, key: &ApiKey) -> Result<KeyStanding, ApiError> {
        let standing = self.verified_key(key).await?;
        check_standing(&standing, self.clock.now())?;
        Ok(standing)
    }

    /// [`App::verify_api_key`] up to the credential and principal checks: the key's standing once
    /// its secret verified, whatever that standing is (the caller checks it, and can record whose
    /// refusal it was).
    pub(crate) async fn verified_key(&self, key: &ApiKey) -> Result<KeyStanding, ApiError> {
        let now = self.clock.now();
        // The verified cache comes first, so a flood of wrong secrets never locks out a key this
        // container has verified; the limit then answers alike for unknown and known key ids.
        if !self.verified_keys.knows(key)
            && let Some(retry_after_seconds) = self.failed_verifications.blocked(key.key_id(), now)
        {
            return Err(ApiError::TooManyFailedAttempts { retry_after_seconds });
        }
        let location = self.verified_keys.location(key);
        // The pepper is read on the container's first verification: at the same time as the item.
        let read = async {
            match &location {
                Some((org, principal)) => self
                    .store
                    .get_credential_and_principal(key.key_id(), org, principal)
                    .await
                    .map(|(c, p)| (c, Some(p))),
                None => self.store.get_credential(key.key_id()).await.map(|c| (c, None)),
            }
        };
        let (found, hasher) = tokio::join!(read, self.hasher());
        let (found, principal_read) = found?;
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
            self.verified_keys.insert(key, &record);
        }
        // The location a warm read used came from this container's earlier read of the same
        // credential (a credential never moves); read again should it ever disagree.
        let located = location
            .as_ref()
            .is_some_and(|(org, principal)| org == &record.org_id && principal == &record.credential.principal_id);
        let principal = match principal_read {
            Some(principal) if located => principal,
            _ => self.read_principal(&record.org_id, &record.credential.principal_id, now).await?,
        };
        Ok(KeyStanding { principal: principal_standing(principal.as_ref()), record })
    }

    /// A principal read once its key's secret has verified. When the org's settings are not in
    /// this container's cache (a cold container), they come in the same round trip and fill it:
    /// whatever the key is for next (a token's lifetime, whether it may call directly) reads
    /// nothing more.
    pub(crate) async fn read_principal(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        now: Timestamp,
    ) -> Result<Option<PrincipalRecord>, ApiError> {
        if self.caches.settings.get(org, now).is_some() {
            return Ok(self.store.get_principal(org, principal).await?);
        }
        let (principal, org_record) = self.store.get_principal_and_org(org, principal).await?;
        self.caches.settings.insert(org.clone(), org_record.map(|o| o.settings).unwrap_or_default(), now);
        Ok(principal)
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
                    return Ok(Identity::Principal(self.verify_bearer(&token, ctx).await?));
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
        if let Some((record, age)) = self.caches.direct_keys.get(&key, now) {
            let settings = self.org_settings(&record.record.org_id).await?;
            if settings.direct_api_key_auth && age < i64::from(settings.direct_api_key_cache_seconds) {
                self.check_key(&record, ctx)?;
                let (allowed, limit) = (record.principal.allowed_cidrs.clone(), record.principal.rate_limit);
                return Ok(Identity::Principal(self.admit(caller_of(record), &allowed, limit, ctx).await?));
            }
        }
        let record = self.verified_key(&key).await?;
        self.check_key(&record, ctx)?;
        let settings = self.org_settings(&record.record.org_id).await?;
        if !settings.direct_api_key_auth {
            self.record_key_outcome(&record, AuthFailure::DirectApiKeyAuthDisabled.code(), ctx);
            return Err(AuthFailure::DirectApiKeyAuthDisabled.into());
        }
        let (allowed, limit) = (record.principal.allowed_cidrs.clone(), record.principal.rate_limit);
        // Refused here, the call is no use of the key: `lastUsedAt` stays as it was.
        let caller = self.admit(caller_of(record.clone()), &allowed, limit, ctx).await?;
        self.note_use(&record.record, ctx).await;
        if settings.direct_api_key_cache_seconds > 0 {
            self.caches.direct_keys.insert(&key, record, now);
        }
        Ok(Identity::Principal(caller))
    }

    /// Verifies an access token against the container's key set (re-read every five minutes) and
    /// its principal's `tokensValidAfter` (one strongly consistent read per principal per 5 s per
    /// container; none when warm). The token stands for its principal until `exp` or revocation.
    /// Then the allowlist the token carries and its principal's of now (403 `ip_not_allowed`), and
    /// the principal's rate limit (429 `rate_limited`).
    pub async fn verify_bearer(&self, token: &str, ctx: &RequestCtx) -> Result<Caller, ApiError> {
        let claims = self.verify_token_signature(token).await?;
        let invalid = |_| AuthFailure::InvalidToken;
        if claims.principal_type != "ApiKey" {
            return Err(AuthFailure::InvalidToken.into());
        }
        let caller = Caller {
            principal_id: PrincipalId::parse(&claims.sub).map_err(invalid)?,
            principal_type: PrincipalType::ApiKey,
            org_id: OrgId::parse(&claims.org_id).map_err(invalid)?,
            // A token issued through a workload trust names the trust, not a key.
            key_id: match crate::domain::TrustId::parse(&claims.client_id) {
                Ok(_) => None,
                Err(_) => Some(KeyId::parse(&claims.client_id).map_err(invalid)?),
            },
            // A scope that no longer parses was not issued by us: refuse the token.
            scope: claims
                .scope
                .as_deref()
                .map(super::scope::parse)
                .transpose()
                .map_err(|_| AuthFailure::InvalidToken)?,
            rate: None,
        };
        // A token issued at or before its principal's tokensValidAfter was revoked (second
        // granularity: a token of the very second of the revocation is refused too), and so was
        // one revoked by itself (RFC 7009).
        let standing = self.token_standing(&caller.org_id, &caller.principal_id).await?;
        if standing.valid_after.is_some_and(|t| claims.iat <= t.unix()) || standing.revoked_jtis.contains(&claims.jti) {
            self.record_caller_outcome(&caller, AuthFailure::TokenRevoked.code(), ctx);
            return Err(AuthFailure::TokenRevoked.into());
        }
        if let Err(refused) = self.check_source(&claims.allowed_cidrs, ctx) {
            self.record_caller_outcome(&caller, refused.code(), ctx);
            return Err(refused);
        }
        self.admit(caller, &standing.allowed_cidrs, standing.rate_limit, ctx).await
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
        if let Some(cached) = self.caches.token_standing.get(&key, now) {
            return Ok(cached);
        }
        // A cold container reads the org's settings (its default rate limit) in the same round trip.
        let principal = self.read_principal(org, id, now).await?.ok_or(AuthFailure::TokenRevoked)?;
        let standing = TokenStanding {
            valid_after: principal.principal.tokens_valid_after,
            revoked_jtis: Arc::new(revoked_jtis(&principal.revoked_tokens)),
            allowed_cidrs: Arc::new(principal.principal.allowed_cidrs.clone()),
            rate_limit: principal.principal.rate_limit,
        };
        self.caches.token_standing.insert(key, standing.clone(), now);
        Ok(standing)
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
fn caller_of(key: KeyStanding) -> Caller {
    Caller {
        principal_id: key.record.credential.principal_id,
        principal_type: key.principal.principal_type,
        org_id: key.record.org_id,
        key_id: Some(key.record.credential.id),
        scope: None,
        rate: None,
    }
}

/// What the checks need of a credential's principal; one that is gone stands as Revoked (an
/// API-key principal is never deleted, so only a broken table has none).
fn principal_standing(principal: Option<&PrincipalRecord>) -> PrincipalState {
    match principal {
        Some(p) => PrincipalState::of(&p.principal),
        None => PrincipalState {
            principal_type: PrincipalType::ApiKey,
            principal_status: PrincipalStatus::Revoked,
            principal_expires_at: None,
            allowed_cidrs: Vec::new(),
            rate_limit: None,
        },
    }
}

/// The `jti`s of a principal's revoked-token entries.
fn revoked_jtis(entries: &[String]) -> Vec<String> {
    entries.iter().filter_map(|e| crate::store::parse_revoked_token_entry(e)).map(|(_, jti)| jti.to_string()).collect()
}

#[cfg(test)]
#[path = "authenticate_tests.rs"]
mod tests;
