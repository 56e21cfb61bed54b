//! Structured logs. Nothing here ever formats a header, a body or a key.

use tracing_subscriber::EnvFilter;

/// JSON logs on stdout (CloudWatch), filtered by `RUST_LOG` (default `info`; SDK internals at `warn`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn,aws_sdk_dynamodb=warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(true)
        .without_time()
        .try_init();
}
