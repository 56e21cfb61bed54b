//! The App: configuration, clients, keys and caches, built once per container and borrowed by
//! every request.

use std::sync::Arc;

use anyhow::Context;

use crate::auth::CursorKey;
use crate::auth::leak_reports::ScannerKeys;
use crate::auth::oidc::OidcVerifier;
use crate::auth::tokens::{KeySource, TokenKeys};
use crate::auth::{DirectKeys, FailedVerifications, KeyHasher, Pepper, VerifiedKeys};
use crate::cache::TtlCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::ApiError;
use crate::domain::{OrgId, OrgSettings, PrincipalId, Role, RoleId, Timestamp, built_in_roles};
use crate::store::{Change, ChangeObserver, DynamoStore, SecretStore};

/// Everything a handler borrows.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub store: DynamoStore,
    pub clock: Clock,
    /// The pepper: the argon2 hasher of API keys and the list-cursor key derived from it, read
    /// from Secrets Manager by the first request that needs either (see [`App::hasher`]).
    pepper: OnFirstUse<PepperKeys>,
    /// The token signing and verification keys, read by the first request that signs or verifies
    /// an access token or serves the JWKS (see [`App::token_keys`]).
    token_keys: OnFirstUse<TokenKeys>,
    /// The identity provider's verifier, when one is configured.
    pub oidc: Option<OidcVerifier>,
    /// The secret scanner's published keys, which sign leak reports, when one is configured.
    pub scanner: Option<ScannerKeys>,
    /// Secrets Manager, for the legacy Infuse IoT credentials of each org.
    pub secrets: SecretStore,
    /// The workload issuers' keys (workload identity federation), fetched on first use.
    pub issuers: crate::auth::federation::Issuers,
    pub(crate) verified_keys: VerifiedKeys,
    /// Failed verifications per key id (bounded), which refuse a flood of wrong secrets before argon2.
    pub(crate) failed_verifications: FailedVerifications,
    /// The outcomes of calls counted here and not yet written (usage, recent requests).
    pub(crate) outcomes: crate::auth::outcomes::Outcomes,
    /// This container's shares of its principals' rate-limit windows.
    pub(crate) rate_shares: Arc<crate::auth::RateShares>,
    /// What the container keeps of the table; the store tells it every change it commits.
    pub(crate) caches: Arc<Caches>,
}

/// The container's copies of what the table holds, each within its bound. Every write the store
/// commits tells them what it changed ([`ChangeObserver`]): a change made in this container
/// applies here at once, and no service has to remember which cache a write makes stale.
#[derive(Debug)]
pub(crate) struct Caches {
    clock: Clock,
    /// Direct `ApiKey` calls answered without a read, where the org's `directApiKeyCacheSeconds` allows.
    pub(crate) direct_keys: DirectKeys,
    pub(crate) settings: TtlCache<OrgId, OrgSettings>,
    pub(crate) principal_roles: TtlCache<(OrgId, String), Vec<RoleId>>,
    pub(crate) org_roles: TtlCache<OrgId, Arc<Vec<Role>>>,
    /// Each principal's `tokensValidAfter` and individually revoked tokens, as Bearer verification
    /// reads them (≤ [`TOKEN_REVOCATION_CACHE_SECONDS`]).
    pub(crate) token_standing: TtlCache<(OrgId, PrincipalId), TokenStanding>,
}

impl ChangeObserver for Caches {
    fn changed(&self, change: &Change) {
        match change {
            Change::Credential { key_id } => self.direct_keys.forget(|k| &k.record.credential.id == key_id),
            Change::Principal { org, id, tokens_valid_after } => {
                self.direct_keys.forget(|k| &k.record.credential.principal_id == id);
                self.remember_tokens_valid_after(org, id, *tokens_valid_after);
            }
            Change::PrincipalPolicy { org, id } => {
                self.direct_keys.forget(|k| &k.record.credential.principal_id == id);
                self.token_standing.remove(&(org.clone(), id.clone()));
            }
            Change::RevokedToken { org, id, jti } => self.remember_revoked_token(org, id, jti),
            Change::Roles { org } => {
                self.org_roles.retain(|o| o != org);
                self.principal_roles.retain(|(o, _)| o != org);
            }
            Change::Settings { org } => self.settings.retain(|o| o != org),
        }
    }
}

impl Caches {
    /// Records the `tokensValidAfter` just written (so it applies here at once, and a verification
    /// that read the old value meanwhile cannot put it back for longer than it would have lived
    /// anyway); the other containers see it within the cache bound.
    fn remember_tokens_valid_after(&self, org: &OrgId, id: &PrincipalId, valid_after: Option<Timestamp>) {
        let key = (org.clone(), id.clone());
        let now = self.clock.now();
        match self.token_standing.get(&key, now) {
            Some(known) => self.token_standing.insert(key, TokenStanding { valid_after, ..known }, now),
            // Nothing known of its revoked tokens here: the next verification reads them all.
            None => self.token_standing.remove(&key),
        }
    }

    /// Records a token just revoked (as for `tokensValidAfter`).
    fn remember_revoked_token(&self, org: &OrgId, id: &PrincipalId, jti: &str) {
        let key = (org.clone(), id.clone());
        let now = self.clock.now();
        if let Some(known) = self.token_standing.get(&key, now) {
            let mut jtis = known.revoked_jtis.as_ref().clone();
            jtis.push(jti.to_string());
            self.token_standing.insert(key, TokenStanding { revoked_jtis: Arc::new(jtis), ..known }, now);
        }
    }
}

/// What Bearer verification needs of a principal: tokens issued at or before `valid_after` are
/// refused, and so are the tokens (by `jti`) revoked one by one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenStanding {
    pub valid_after: Option<Timestamp>,
    pub revoked_jtis: Arc<Vec<String>>,
    /// The principal's allowlist now (a token also carries the one of its exchange).
    pub allowed_cidrs: Arc<Vec<ipnet::IpNet>>,
    /// The principal's own rate limit (`None`: the org's default).
    pub rate_limit: Option<crate::domain::RateLimit>,
}

/// How long a container trusts what it read of a principal's `tokensValidAfter`: the bound within
/// which a revocation of issued access tokens reaches every verifier (docs/security.md).
pub const TOKEN_REVOCATION_CACHE_SECONDS: i64 = 5;

/// What the container derives from the pepper.
#[derive(Debug)]
pub struct PepperKeys {
    pub hasher: KeyHasher,
    pub cursors: CursorKey,
}

/// A secret read by the first request that needs it, then kept for the container's life. While it
/// cannot be read, 503; after a failed read the next is attempted [`KEYS_RETRY_SECONDS`] later, not
/// by every request, so that a throttled Secrets Manager is not asked again by each of them.
#[derive(Debug)]
struct OnFirstUse<T> {
    cell: tokio::sync::OnceCell<T>,
    failed_at: std::sync::Mutex<Option<Timestamp>>,
}

impl<T> OnFirstUse<T> {
    fn new() -> Self {
        Self { cell: tokio::sync::OnceCell::new(), failed_at: std::sync::Mutex::new(None) }
    }

    /// The value, loading it with `load` if no request has yet; the retry interval counts from
    /// when the failed read ended (a read that timed out after 5 s still holds off the next 5 s).
    async fn get<F: std::future::Future<Output = anyhow::Result<T>>>(
        &self,
        clock: &Clock,
        load: impl FnOnce() -> F,
    ) -> Result<&T, ApiError> {
        if let Some(value) = self.cell.get() {
            return Ok(value);
        }
        let failed_at = *self.failed_at.lock().expect("secret lock");
        if let Some(at) = failed_at.filter(|at| clock.now().unix() - at.unix() < KEYS_RETRY_SECONDS) {
            return Err(ApiError::ServiceUnavailable(anyhow::anyhow!("the secret could not be read at {at}")));
        }
        self.cell.get_or_try_init(load).await.map_err(|err| {
            *self.failed_at.lock().expect("secret lock") = Some(clock.now());
            ApiError::ServiceUnavailable(err)
        })
    }
}

/// After a failed read of a secret, the next is attempted this much later.
pub const KEYS_RETRY_SECONDS: i64 = 5;

/// Role definitions and a principal's role ids are served from the container for at most this long.
pub const ROLE_CACHE_SECONDS: i64 = 30;

impl App {
    /// Reads the configuration from the environment and builds the clients over the container's
    /// SDK configuration ([`crate::store::sdk::config`]). Nothing is read from Secrets Manager at
    /// start: each secret is read by the first request that needs it, so a function (or a request)
    /// that never needs one never waits for it.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        let sdk = crate::store::sdk::config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        Ok(Self::build(config, dynamo, &secrets, Clock::system()))
    }

    /// Builds an App over the given clients (tests pass clients with interceptors), on the system clock.
    pub async fn new(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
    ) -> anyhow::Result<Self> {
        Self::with_clock(config, dynamo, secrets, Clock::system()).await
    }

    /// Builds an App reading time from `clock` (tests pass one they set and move). Like
    /// [`App::from_env`], it reads no secret until a request needs it.
    pub async fn with_clock(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        Ok(Self::build(config, dynamo, secrets, clock))
    }

    fn build(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
        clock: Clock,
    ) -> Self {
        let caches = Arc::new(Caches {
            clock: clock.clone(),
            direct_keys: DirectKeys::default(),
            settings: TtlCache::new(config.settings_cache_ttl.as_secs() as i64),
            principal_roles: TtlCache::new(ROLE_CACHE_SECONDS),
            org_roles: TtlCache::new(ROLE_CACHE_SECONDS),
            token_standing: TtlCache::new(TOKEN_REVOCATION_CACHE_SECONDS),
        });
        Self {
            store: DynamoStore::new(dynamo, config.table_name.clone()).observed_by(caches.clone()),
            clock,
            pepper: OnFirstUse::new(),
            token_keys: OnFirstUse::new(),
            oidc: config.oidc.clone().map(OidcVerifier::new),
            scanner: config.secret_scanning_keys_url.clone().map(ScannerKeys::new),
            secrets: SecretStore::new(secrets.clone()),
            issuers: crate::auth::federation::Issuers::new(crate::auth::federation::FetchPolicy {
                local_issuer: config.local_workload_issuer.clone(),
            }),
            verified_keys: VerifiedKeys::default(),
            failed_verifications: FailedVerifications::new(config.failed_verifications),
            rate_shares: Arc::new(crate::auth::RateShares::default()),
            outcomes: crate::auth::outcomes::Outcomes::default(),
            caches,
            config,
        }
    }

    /// The argon2 hasher of API keys (the pepper is read on first use; while it cannot be, 503).
    pub async fn hasher(&self) -> Result<&KeyHasher, ApiError> {
        Ok(&self.pepper_keys().await?.hasher)
    }

    /// The key that seals list cursors (derived from the pepper, read on first use).
    pub async fn cursors(&self) -> Result<&CursorKey, ApiError> {
        Ok(&self.pepper_keys().await?.cursors)
    }

    async fn pepper_keys(&self) -> Result<&PepperKeys, ApiError> {
        self.pepper.get(&self.clock, || load_pepper(&self.secrets, &self.config.pepper_secret_id)).await
    }

    /// The token signing and verification keys (read on first use, then re-read every five
    /// minutes by [`TokenKeys`]; while they cannot be read at all, 503).
    pub async fn token_keys(&self) -> Result<&TokenKeys, ApiError> {
        // Only a function configured with the signing keys (token-exchange) reads them; every
        // other reads their public half.
        let source = match &self.config.signing_keys_secret_id {
            Some(id) => KeySource::Signing(id.clone()),
            None => KeySource::Verification(self.config.verification_keys_secret_id.clone()),
        };
        let load = || TokenKeys::load(self.secrets.clone(), source, self.clock.now());
        self.token_keys.get(&self.clock, load).await
    }

    /// The org's settings, from the container's cache when younger than the configured TTL (≤ 60 s).
    /// An org without a record has the defaults.
    pub async fn org_settings(&self, org: &OrgId) -> Result<OrgSettings, ApiError> {
        let now = self.clock.now();
        if let Some(settings) = self.caches.settings.get(org, now) {
            return Ok(settings);
        }
        let settings = self.store.get_org(org).await?.map(|o| o.settings).unwrap_or_default();
        self.caches.settings.insert(org.clone(), settings.clone(), now);
        Ok(settings)
    }
}

impl App {
    /// The built-in roles and the org's custom roles, cached ≤ 30 s.
    pub async fn org_roles(&self, org: &OrgId) -> Result<Arc<Vec<Role>>, ApiError> {
        let now = self.clock.now();
        if let Some(roles) = self.caches.org_roles.get(org, now) {
            return Ok(roles);
        }
        let mut roles = built_in_roles();
        roles.extend(self.store.list_roles(org).await?);
        let roles = Arc::new(roles);
        self.caches.org_roles.insert(org.clone(), roles.clone(), now);
        Ok(roles)
    }

    /// The roles assigned to a principal as they are now (no cache): what grant decisions read, so
    /// that a permission lost in another container cannot be granted on from a stale cache.
    pub async fn roles_now(&self, org: &OrgId, principal: &PrincipalId) -> Result<Vec<Role>, ApiError> {
        let ids = self.store.get_principal(org, principal).await?.map(|p| p.role_ids).unwrap_or_default();
        let mut roles = built_in_roles();
        roles.extend(self.store.list_roles(org).await?);
        Ok(roles.into_iter().filter(|r| ids.contains(&r.id)).collect())
    }

    /// The roles assigned to a principal (ids cached ≤ 30 s), resolved against the org's roles.
    pub async fn assigned_roles(&self, org: &OrgId, principal: &str) -> Result<Vec<Role>, ApiError> {
        let now = self.clock.now();
        let key = (org.clone(), principal.to_string());
        let ids = match self.caches.principal_roles.get(&key, now) {
            Some(ids) => ids,
            None => {
                let ids = match PrincipalId::parse(principal) {
                    Ok(id) => self.store.get_principal(org, &id).await?.map(|p| p.role_ids).unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
                self.caches.principal_roles.insert(key, ids.clone(), now);
                ids
            }
        };
        let roles = self.org_roles(org).await?;
        Ok(roles.iter().filter(|r| ids.contains(&r.id)).cloned().collect())
    }
}

/// The pepper is the secret's string, at least 32 bytes (the template generates 64 random
/// alphanumerics, ~380 bits).
async fn load_pepper(secrets: &SecretStore, secret_id: &str) -> anyhow::Result<PepperKeys> {
    let text = secrets.read(secret_id, None).await.context("read the pepper")?;
    let pepper = Pepper::new(text.into_bytes())?;
    Ok(PepperKeys { hasher: KeyHasher::new(pepper.clone())?, cursors: CursorKey::derive(&pepper) })
}
