//! The App: configuration, clients, keys and caches, built once per container and borrowed by
//! every request.

use std::sync::Arc;

use anyhow::Context;

use crate::auth::CursorKey;
use crate::auth::leak_reports::ScannerKeys;
use crate::auth::oidc::OidcVerifier;
use crate::auth::tokens::TokenKeys;
use crate::auth::{DirectKeys, FailedVerifications, KeyHasher, Pepper, VerifiedKeys};
use crate::cache::TtlCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::ApiError;
use crate::domain::{OrgId, OrgSettings, PrincipalId, Role, RoleId, Timestamp, built_in_roles};
use crate::store::{DynamoStore, SecretStore};

/// Everything a handler borrows.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub store: DynamoStore,
    pub clock: Clock,
    /// Read from Secrets Manager at start, or by the first request that needs them: see [`App::keys`].
    keys: tokio::sync::OnceCell<Keys>,
    /// When reading them last failed: they are not read again for [`KEYS_RETRY_SECONDS`].
    keys_failed_at: std::sync::Mutex<Option<Timestamp>>,
    /// The identity provider's verifier, when one is configured.
    pub oidc: Option<OidcVerifier>,
    /// The secret scanner's published keys, which sign leak reports, when one is configured.
    pub scanner: Option<ScannerKeys>,
    /// Secrets Manager, for the legacy Infuse IoT credentials of each org.
    pub secrets: SecretStore,
    pub(crate) verified_keys: VerifiedKeys,
    /// Direct `ApiKey` calls answered without a read, where the org's `directApiKeyCacheSeconds` allows.
    pub(crate) direct_keys: DirectKeys,
    /// Failed verifications per key id (bounded), which refuse a flood of wrong secrets before argon2.
    pub(crate) failed_verifications: FailedVerifications,
    settings: TtlCache<OrgId, OrgSettings>,
    principal_roles: TtlCache<(OrgId, String), Vec<RoleId>>,
    org_roles: TtlCache<OrgId, Arc<Vec<Role>>>,
    /// Each principal's `tokensValidAfter` and individually revoked tokens, as Bearer verification
    /// reads them (≤ [`TOKEN_REVOCATION_CACHE_SECONDS`]).
    pub(crate) token_standing: TtlCache<(OrgId, PrincipalId), TokenStanding>,
}

/// What Bearer verification needs of a principal: tokens issued at or before `valid_after` are
/// refused, and so are the tokens (by `jti`) revoked one by one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenStanding {
    pub valid_after: Option<Timestamp>,
    pub revoked_jtis: Arc<Vec<String>>,
}

/// How long a container trusts what it read of a principal's `tokensValidAfter`: the bound within
/// which a revocation of issued access tokens reaches every verifier (docs/security.md).
pub const TOKEN_REVOCATION_CACHE_SECONDS: i64 = 5;

/// What the container reads from Secrets Manager: the pepper (and the cursor key derived from it)
/// and the token signing keys.
#[derive(Debug)]
pub struct Keys {
    pub hasher: KeyHasher,
    pub cursors: CursorKey,
    /// The token signing and verification keys (re-read every five minutes by `TokenKeys`).
    pub token_keys: TokenKeys,
}

/// After a failed read of the keys, the next is attempted this much later.
pub const KEYS_RETRY_SECONDS: i64 = 5;

/// Role definitions and a principal's role ids are served from the container for at most this long.
pub const ROLE_CACHE_SECONDS: i64 = 30;

impl App {
    /// Reads the configuration from the environment and the SDK settings the usual way
    /// (`AWS_REGION`, `AWS_ENDPOINT_URL`, …), then the keys (see [`App::with_clock`]).
    pub async fn from_env() -> anyhow::Result<Self> {
        let app = Self::from_env_without_keys().await?;
        app.read_keys_at_start().await;
        Ok(app)
    }

    /// [`App::from_env`] for a function that never needs the keys (a tenant API behind the
    /// authorizer): its cold start makes no Secrets Manager call. Were the keys asked for after
    /// all, the first request that needs them would read them.
    pub async fn from_env_without_keys() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        // A hung call must end well inside the function's 10 s timeout, as a 503 the client can retry.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(1))
            .operation_attempt_timeout(std::time::Duration::from_secs(2))
            .operation_timeout(std::time::Duration::from_secs(5))
            .build();
        let sdk = aws_config::from_env().timeout_config(timeouts).load().await;
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

    /// Builds an App reading time from `clock` (tests pass one they set and move), and reads the
    /// keys during the container's initialisation.
    pub async fn with_clock(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let app = Self::build(config, dynamo, secrets, clock);
        app.read_keys_at_start().await;
        Ok(app)
    }

    fn build(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
        clock: Clock,
    ) -> Self {
        Self {
            store: DynamoStore::new(dynamo, config.table_name.clone()),
            clock,
            keys: tokio::sync::OnceCell::new(),
            keys_failed_at: std::sync::Mutex::new(None),
            oidc: config.oidc.clone().map(OidcVerifier::new),
            scanner: config.secret_scanning_keys_url.clone().map(ScannerKeys::new),
            secrets: SecretStore::new(secrets.clone()),
            verified_keys: VerifiedKeys::default(),
            direct_keys: DirectKeys::default(),
            failed_verifications: FailedVerifications::new(config.failed_verifications),
            settings: TtlCache::new(config.settings_cache_ttl.as_secs() as i64),
            principal_roles: TtlCache::new(ROLE_CACHE_SECONDS),
            org_roles: TtlCache::new(ROLE_CACHE_SECONDS),
            token_standing: TtlCache::new(TOKEN_REVOCATION_CACHE_SECONDS),
            config,
        }
    }

    /// If Secrets Manager fails at start (a throttle, a timeout), the container starts anyway: the
    /// first request that needs the keys reads again and answers 503 with Retry-After meanwhile,
    /// instead of the whole container failing to start.
    async fn read_keys_at_start(&self) {
        if let Err(ApiError::ServiceUnavailable(source)) = self.keys().await {
            tracing::warn!(
                error = format!("{source:#}"),
                "keys not read at start; the next request that needs them reads again"
            );
        }
    }

    /// The container's keys: read once (normally at start); while they cannot be read, 503. After
    /// a failed read the next is attempted [`KEYS_RETRY_SECONDS`] later, not by every request, so
    /// that a throttled Secrets Manager is not asked again by each of them.
    pub async fn keys(&self) -> Result<&Keys, ApiError> {
        if let Some(keys) = self.keys.get() {
            return Ok(keys);
        }
        let now = self.clock.now();
        let failed_at = *self.keys_failed_at.lock().expect("keys lock");
        if let Some(at) = failed_at.filter(|at| now.unix() - at.unix() < KEYS_RETRY_SECONDS) {
            return Err(ApiError::ServiceUnavailable(anyhow::anyhow!("the keys could not be read at {at}")));
        }
        let loaded = self.keys.get_or_try_init(|| load_keys(&self.secrets, &self.config, now)).await;
        loaded.map_err(|err| {
            *self.keys_failed_at.lock().expect("keys lock") = Some(now);
            ApiError::ServiceUnavailable(err)
        })
    }

    /// The org's settings, from the container's cache when younger than the configured TTL (≤ 60 s).
    /// An org without a record has the defaults.
    pub async fn org_settings(&self, org: &OrgId) -> Result<OrgSettings, ApiError> {
        let now = self.clock.now();
        if let Some(settings) = self.settings.get(org, now) {
            return Ok(settings);
        }
        let settings = self.store.get_org(org).await?.map(|o| o.settings).unwrap_or_default();
        self.settings.insert(org.clone(), settings.clone(), now);
        Ok(settings)
    }
}

impl App {
    /// Forgets this container's cached settings of `org` (after this container changed them).
    pub fn forget_settings(&self, org: &OrgId) {
        self.settings.retain(|o| o != org);
    }

    /// Forgets this container's cached roles and role assignments of `org` (after this container
    /// changed them; other containers see the change within [`ROLE_CACHE_SECONDS`]).
    pub fn forget_roles(&self, org: &OrgId) {
        self.org_roles.retain(|o| o != org);
        self.principal_roles.retain(|(o, _)| o != org);
    }

    /// The built-in roles and the org's custom roles, cached ≤ 30 s.
    pub async fn org_roles(&self, org: &OrgId) -> Result<Arc<Vec<Role>>, ApiError> {
        let now = self.clock.now();
        if let Some(roles) = self.org_roles.get(org, now) {
            return Ok(roles);
        }
        let mut roles = built_in_roles();
        roles.extend(self.store.list_roles(org).await?);
        let roles = Arc::new(roles);
        self.org_roles.insert(org.clone(), roles.clone(), now);
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
        let ids = match self.principal_roles.get(&key, now) {
            Some(ids) => ids,
            None => {
                let ids = match PrincipalId::parse(principal) {
                    Ok(id) => self.store.get_principal(org, &id).await?.map(|p| p.role_ids).unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
                self.principal_roles.insert(key, ids.clone(), now);
                ids
            }
        };
        let roles = self.org_roles(org).await?;
        Ok(roles.iter().filter(|r| ids.contains(&r.id)).cloned().collect())
    }
}

/// Both reads at once: a cold start waits for one Secrets Manager round trip, not two.
async fn load_keys(secrets: &SecretStore, config: &Config, now: Timestamp) -> anyhow::Result<Keys> {
    let (pepper, token_keys) = tokio::try_join!(
        load_pepper(secrets, &config.pepper_secret_id),
        TokenKeys::load(secrets.clone(), &config.signing_keys_secret_id, now),
    )?;
    Ok(Keys { hasher: KeyHasher::new(pepper.clone())?, cursors: CursorKey::derive(&pepper), token_keys })
}

/// The pepper is the secret's string, at least 32 bytes (the template generates 64 random
/// alphanumerics, ~380 bits).
async fn load_pepper(secrets: &SecretStore, secret_id: &str) -> anyhow::Result<Pepper> {
    let text = secrets.read(secret_id, None).await.context("read the pepper")?;
    Pepper::new(text.into_bytes())
}
