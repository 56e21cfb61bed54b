//! The AWS SDK's configuration, loaded once per container for every client it builds.
//!
//! In Lambda everything the SDK needs is in the environment Lambda gives the function: the region
//! (`AWS_REGION`) and the execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`). There the configuration is built from those alone: no provider chain, no
//! profile files, no instance metadata, nothing read at start that a Lambda function cannot use.
//! Anywhere else (a binary run by hand, a profile, SSO) the SDK's usual chain loads it. Either way
//! every client shares one HTTPS client ([`https_client`]).

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::Provider;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The time limits of every call: a hung call ends well inside the function's 10 s timeout, as a
/// 503 the client can retry.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_secs(2))
        .operation_timeout(std::time::Duration::from_secs(5))
        .build()
}

/// The SDK configuration for this process (see the module's documentation), loaded by the first
/// caller and shared by every client built after.
pub async fn config() -> SdkConfig {
    static CONFIG: tokio::sync::OnceCell<SdkConfig> = tokio::sync::OnceCell::const_new();
    let load = || async {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match lambda_config(&var) {
            Some(config) => config,
            None => aws_config::from_env().timeout_config(timeouts()).http_client(https_client()).load().await,
        }
    };
    CONFIG.get_or_init(load).await.clone()
}

/// Settings this configuration does not read: where any is set, the SDK's own loader (which reads
/// them all) is used instead.
pub const LOADER_SETTINGS: &[&str] = &[
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_SDK_UA_APP_ID",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE",
];

/// The configuration from Lambda's environment alone, as `var` reads it; `None` outside Lambda,
/// when the region or the credentials are not in it, or when a setting it does not read is set.
pub fn lambda_config(var: &dyn Fn(&str) -> Option<String>) -> Option<SdkConfig> {
    var("AWS_LAMBDA_FUNCTION_NAME")?;
    if LOADER_SETTINGS.iter().any(|name| var(name).is_some()) {
        return None;
    }
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"))?;
    var("AWS_ACCESS_KEY_ID")?;
    var("AWS_SECRET_ACCESS_KEY")?;
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        // Read from the environment when first needed, and cached by the SDK's identity cache.
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .timeout_config(timeouts())
        .retry_config(RetryConfig::standard())
        .http_client(https_client());
    // The SDK's own variable for another endpoint (the local stack's emulator; a VPC endpoint).
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    Some(config.build())
}

/// One HTTPS client for every SDK client of the process, built as the SDK builds its default
/// (rustls with aws-lc, the environment's proxy settings). Without it each SDK client (DynamoDB,
/// Secrets Manager, EventBridge) builds its own, and each of those parses the CA certificates
/// again on its first connection and keeps its own connection pool.
///
/// The SDK also asks for a connector, with neither settings nor components, when it validates each
/// client's configuration, only to load the CA certificates early, and drops it: a TLS connector
/// there parsed the roots once more per SDK client at start. It gets a plain one instead; every
/// connection pool is asked for with both (`shared/tests/tls_roots.rs` connects through it).
pub fn https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        if settings.is_none() && components.is_none() {
            return ConnectorBuilder::default().build_http();
        }
        let mut connector = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_LAMBDA_FUNCTION_NAME", "token-exchange"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[test]
    fn in_lambda_the_environment_alone_configures_the_sdk() {
        let config = lambda_config(&env(LAMBDA)).expect("a Lambda configuration");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(config.credentials_provider().is_some());
        assert_eq!(config.endpoint_url(), None);
        let timeouts = config.timeout_config().expect("timeouts");
        assert_eq!(timeouts.operation_timeout(), Some(std::time::Duration::from_secs(5)));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(std::time::Duration::from_secs(2)));
        assert_eq!(timeouts.connect_timeout(), Some(std::time::Duration::from_secs(1)));
        assert!(config.http_client().is_some(), "one HTTPS client shared by every SDK client");
    }

    #[test]
    fn an_endpoint_in_the_environment_is_used() {
        let mut pairs = LAMBDA.to_vec();
        pairs.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"));
        let config = lambda_config(&env(&pairs)).expect("a Lambda configuration");
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn outside_lambda_or_without_credentials_the_usual_chain_loads_it() {
        let without = |name: &str| LAMBDA.iter().copied().filter(|(k, _)| *k != name).collect::<Vec<_>>();
        assert!(lambda_config(&env(&without("AWS_LAMBDA_FUNCTION_NAME"))).is_none());
        assert!(lambda_config(&env(&without("AWS_REGION"))).is_none());
        assert!(lambda_config(&env(&without("AWS_ACCESS_KEY_ID"))).is_none());
        assert!(lambda_config(&env(&without("AWS_SECRET_ACCESS_KEY"))).is_none());
    }

    #[test]
    fn a_setting_it_does_not_read_hands_over_to_the_sdks_loader() {
        for name in LOADER_SETTINGS {
            let mut pairs = LAMBDA.to_vec();
            pairs.push((name, "true"));
            assert!(lambda_config(&env(&pairs)).is_none(), "{name}");
        }
        let config = lambda_config(&env(LAMBDA)).expect("a Lambda configuration");
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(3), "standard retries");
    }
}
