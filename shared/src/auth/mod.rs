//! Who is calling and may they do this: key format, hashing, authentication, authorization.

mod admission;
mod api_key;
mod authenticate;
mod authorize;
mod context;
pub mod cursor_key;
mod failed_verifications;
pub mod federation;
pub mod grants;
mod hashing;
mod header;
mod key_caches;
pub mod leak_reports;
pub mod oidc;
pub mod outcomes;
pub mod policy;
mod rate_limits;
pub mod scope;
pub mod tokens;

pub use crate::domain::AuthFailure;
pub use api_key::{ApiKey, GeneratedKey, MalformedKey};
pub use authenticate::{Caller, Identity, unverified_issuer};
pub use authorize::{Action, resources};
pub use context::RequestCtx;
pub use cursor_key::CursorKey;
pub use failed_verifications::FailedVerifications;
pub use hashing::{KeyHasher, Pepper};
pub use header::{Presented, authorization, presented};
pub use key_caches::{DirectKeys, VerifiedKeys};
pub use rate_limits::{LEASE_FRACTION, MAX_WINDOWS as MAX_RATE_WINDOWS, RateShares, RateState, lease_size};

/// The one HTTP client for the service's own outbound fetches (the identity provider's JWKS, the
/// secret scanner's keys): built by the first fetch, so a container that never fetches never builds
/// it (with the platform's CA certificates, from the one bundle file: [`crate::store::tls`]), and
/// shared by every fetcher. Building it loads those certificates; where that fails (an image
/// without any), every fetch fails with the reason, and the container keeps serving the rest.
pub fn outbound_http() -> Result<&'static reqwest::Client, &'static str> {
    static CLIENT: std::sync::LazyLock<Result<reqwest::Client, String>> = std::sync::LazyLock::new(|| {
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build().map_err(|e| {
            let reason = format!("no outbound HTTP client: {e}");
            tracing::error!(error = reason, "outbound fetches will fail");
            reason
        })
    });
    CLIENT.as_ref().map_err(String::as_str)
}
