//! Configuration read once per container from the environment.

use std::time::Duration;

use anyhow::Context;

/// Everything a function needs to know about where it runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The single DynamoDB table.
    pub table_name: String,
    /// Secrets Manager id of the pepper (argon2's secret input).
    pub pepper_secret_id: String,
    /// Secrets Manager id of the token signing keys (current and previous Ed25519 keys).
    /// The signing keys (private): set for token-exchange (and the rotation function) alone.
    pub signing_keys_secret_id: Option<String>,
    /// Their public half, which every function that verifies access tokens reads.
    pub verification_keys_secret_id: String,
    /// `iss` of the access tokens this service issues (and the only one it accepts).
    pub token_issuer: String,
    /// `aud` of the access tokens: the APIs that accept them.
    pub token_audience: String,
    /// The organisations' OIDC identity provider, whose tokens identify members; `None` refuses
    /// every member token.
    pub oidc: Option<OidcProvider>,
    /// Secrets Manager name of an org's linked Infuse IoT credentials; `{orgId}` is replaced.
    pub infuse_iot_secret_pattern: String,
    /// How long org settings may be served from the container's cache.
    pub settings_cache_ttl: Duration,
    /// `lastUsedAt` is written at most once per this interval per credential.
    pub last_used_interval_seconds: i64,
    /// Revoked and expired credentials are purged by DynamoDB TTL this long after they end.
    pub retention_days: i64,
    /// How many failed verifications of one key id a container takes before it stops verifying
    /// that key id's unverified secrets for a while (docs/security.md, Abuse limits).
    pub failed_verifications: FailureLimit,
    /// Where the secret scanner publishes the keys that sign its leak reports (GitHub's
    /// `https://api.github.com/meta/public_keys/secret_scanning`); `None` refuses every report.
    pub secret_scanning_keys_url: Option<String>,
    /// How far back the first expiry sweep of a table reads the expiry index (hours; 48).
    pub sweep_first_lookback_hours: i64,
    /// The local stack's development workload issuer: the one issuer a workload trust may name
    /// over `http` and on a loopback address. Never set in a deployed stack.
    pub local_workload_issuer: Option<String>,
    /// How often a container writes the calls' outcomes it counted (usage, recent requests), in
    /// seconds (10); `None`: only when asked (`App::flush_outcomes`: tests).
    pub usage_flush_seconds: Option<i64>,
}

/// The per-container limit on failed API-key verifications of one key id: after `failures` within
/// `window_seconds`, secrets of that key id not already verified in the container are refused (429)
/// for `first_block_seconds`; a failure soon after a block ends doubles it, up to `max_block_seconds`.
/// At most `key_ids` key ids are remembered (when full, those that no longer matter go first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureLimit {
    pub failures: u32,
    pub window_seconds: i64,
    pub first_block_seconds: i64,
    pub max_block_seconds: i64,
    pub key_ids: usize,
}

impl Default for FailureLimit {
    /// 5 failures per 60 s, then 60 s blocks doubling to 15 min, over at most 10,000 key ids.
    fn default() -> Self {
        Self { failures: 5, window_seconds: 60, first_block_seconds: 60, max_block_seconds: 900, key_ids: 10_000 }
    }
}

impl Config {
    /// The audience of the local stack's and the tests' tokens: the platform's tenant APIs.
    pub const DEFAULT_AUDIENCE: &'static str = "urn:infuse:tenant-apis";
    /// A deployed container writes the outcomes it counted this often (seconds).
    pub const USAGE_FLUSH_SECONDS: i64 = 10;
    /// Where a deployed stack keeps each org's linked Infuse IoT credentials.
    pub const DEFAULT_INFUSE_IOT_SECRET_PATTERN: &'static str = "iam/infuse-iot/{orgId}";

    /// The secret name of `org`'s linked Infuse IoT credentials.
    pub fn infuse_iot_secret(&self, org: &str) -> String {
        self.infuse_iot_secret_pattern.replace("{orgId}", org)
    }

    /// Reads `TABLE_NAME`, `PEPPER_SECRET_ID`, `VERIFICATION_KEYS_SECRET_ID`, `TOKEN_ISSUER` and
    /// `TOKEN_AUDIENCE` (required), `SIGNING_KEYS_SECRET_ID` (token-exchange's alone) and the
    /// optional tunables.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
        let number = |name: &str, default: i64| -> anyhow::Result<i64> {
            match std::env::var(name) {
                Ok(v) => v.parse().with_context(|| format!("{name} is not a whole number")),
                Err(_) => Ok(default),
            }
        };
        Ok(Self {
            table_name: var("TABLE_NAME")?,
            pepper_secret_id: var("PEPPER_SECRET_ID")?,
            signing_keys_secret_id: std::env::var("SIGNING_KEYS_SECRET_ID").ok().filter(|id| !id.is_empty()),
            verification_keys_secret_id: var("VERIFICATION_KEYS_SECRET_ID")?,
            token_issuer: var("TOKEN_ISSUER")?,
            token_audience: var("TOKEN_AUDIENCE")?,
            oidc: match (std::env::var("OIDC_ISSUER"), std::env::var("OIDC_AUDIENCE"), std::env::var("OIDC_JWKS_URL")) {
                (Ok(issuer), Ok(audience), Ok(jwks_url)) => Some(OidcProvider { issuer, audience, jwks_url }),
                _ => None,
            },
            infuse_iot_secret_pattern: std::env::var("INFUSE_IOT_SECRET_PATTERN")
                .unwrap_or_else(|_| Self::DEFAULT_INFUSE_IOT_SECRET_PATTERN.into()),
            settings_cache_ttl: Duration::from_secs(number("SETTINGS_CACHE_SECONDS", 60)?.clamp(0, 60) as u64),
            last_used_interval_seconds: number("LAST_USED_INTERVAL_SECONDS", 300)?,
            retention_days: number("RETENTION_DAYS", 90)?,
            failed_verifications: FailureLimit::default(),
            secret_scanning_keys_url: std::env::var("SECRET_SCANNING_KEYS_URL").ok().filter(|u| !u.is_empty()),
            sweep_first_lookback_hours: number("SWEEP_FIRST_LOOKBACK_HOURS", 48)?.clamp(1, 24 * 90),
            local_workload_issuer: std::env::var("LOCAL_WORKLOAD_ISSUER").ok().filter(|u| !u.is_empty()),
            usage_flush_seconds: Some(number("USAGE_FLUSH_SECONDS", Self::USAGE_FLUSH_SECONDS)?.clamp(1, 300)),
        })
    }

    /// Defaults for a table and its secrets (tests and the local stack, where one App serves every
    /// function, token-exchange's signing included): the secrets are named `<prefix>/pepper`,
    /// `<prefix>/signing-keys` and `<prefix>/verification-keys`, the issuer is `issuer`.
    pub fn new(table_name: impl Into<String>, secret_prefix: &str, issuer: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            pepper_secret_id: format!("{secret_prefix}/pepper"),
            signing_keys_secret_id: Some(format!("{secret_prefix}/signing-keys")),
            verification_keys_secret_id: format!("{secret_prefix}/verification-keys"),
            token_issuer: issuer.into(),
            token_audience: Self::DEFAULT_AUDIENCE.into(),
            oidc: None,
            infuse_iot_secret_pattern: format!("{secret_prefix}/infuse-iot/{{orgId}}"),
            settings_cache_ttl: Duration::from_secs(60),
            last_used_interval_seconds: 300,
            retention_days: 90,
            failed_verifications: FailureLimit::default(),
            secret_scanning_keys_url: None,
            sweep_first_lookback_hours: 48,
            local_workload_issuer: None,
            usage_flush_seconds: None,
        }
    }
}

/// The trusted provider.
#[derive(Clone, Debug)]
pub struct OidcProvider {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
}
