//! Structured logs. Nothing here ever formats a header, a body or a key.

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset: our crates at `info`, SDK internals at `warn`
/// (the SDK's own debug and trace output would include request and response bodies).
pub const DEFAULT_FILTER: &str = "info,aws_config=warn,aws_smithy_runtime=warn,aws_smithy_http=warn,aws_sdk_dynamodb=warn,aws_sdk_secretsmanager=warn,hyper=warn";

/// JSON logs on stdout (CloudWatch), filtered by `RUST_LOG` (default [`DEFAULT_FILTER`]). Release
/// builds hold no `debug` or `trace` events at all (the workspace's `tracing` has
/// `release_max_level_info`): `RUST_LOG=debug` on Lambda shows `info` and above.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(true)
        .without_time()
        .try_init();
}
