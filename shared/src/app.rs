//! The App: configuration, clients, keys and caches, built once per container and borrowed by
//! every request.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Context;

use crate::auth::tokens::TokenKeys;
use crate::auth::{KeyHasher, Pepper, VerifiedKeys};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{OrgId, OrgSettings, Timestamp};
use crate::http::{ApiError, CursorKey};
use crate::store::DynamoStore;

/// Everything a handler borrows.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub store: DynamoStore,
    pub hasher: KeyHasher,
    pub cursors: CursorKey,
    pub clock: Clock,
    /// The token signing and verification keys.
    pub token_keys: TokenKeys,
    pub(crate) verified_keys: VerifiedKeys,
    settings: Mutex<HashMap<OrgId, (Timestamp, OrgSettings)>>,
}

impl App {
    /// Reads the configuration from the environment and the SDK settings the usual way
    /// (`AWS_REGION`, `AWS_ENDPOINT_URL`, …), then loads the pepper.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_from_env().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        Self::new(config, dynamo, &secrets).await
    }

    /// Builds an App over the given clients (tests pass clients with interceptors).
    pub async fn new(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        secrets: &aws_sdk_secretsmanager::Client,
    ) -> anyhow::Result<Self> {
        let pepper = load_pepper(secrets, &config.pepper_secret_id).await?;
        let clock = Clock::default();
        let token_keys = TokenKeys::load(secrets.clone(), &config.signing_keys_secret_id, clock.now()).await?;
        Ok(Self {
            store: DynamoStore::new(dynamo, config.table_name.clone()),
            hasher: KeyHasher::new(pepper.clone())?,
            cursors: CursorKey::derive(&pepper),
            clock,
            token_keys,
            verified_keys: VerifiedKeys::default(),
            settings: Mutex::new(HashMap::new()),
            config,
        })
    }

    /// The org's settings, from the container's cache when younger than the configured TTL (≤ 60 s).
    /// An org without a record has the defaults.
    pub async fn org_settings(&self, org: &OrgId) -> Result<OrgSettings, ApiError> {
        let now = self.clock.now();
        let ttl = self.config.settings_cache_ttl.as_secs() as i64;
        if let Some((at, settings)) = self.settings.lock().expect("settings lock").get(org)
            && now.unix() - at.unix() < ttl
        {
            return Ok(settings.clone());
        }
        let settings = self.store.get_org(org).await?.map(|o| o.settings).unwrap_or_default();
        self.settings.lock().expect("settings lock").insert(org.clone(), (now, settings.clone()));
        Ok(settings)
    }
}

/// The pepper is the secret's string, at least 32 bytes (the template generates 64 random
/// alphanumerics, ~380 bits).
async fn load_pepper(secrets: &aws_sdk_secretsmanager::Client, secret_id: &str) -> anyhow::Result<Pepper> {
    let out = secrets
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .with_context(|| format!("read the pepper secret {secret_id}"))?;
    let text = out.secret_string().context("the pepper secret has no SecretString")?;
    Pepper::new(text.as_bytes().to_vec())
}
