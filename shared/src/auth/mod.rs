//! Who is calling and may they do this: key format, hashing, authentication, authorization.

mod api_key;
mod authenticate;
mod authorize;
mod context;
pub mod cursor_key;
mod failed_verifications;
pub mod grants;
mod hashing;
pub mod leak_reports;
pub mod oidc;
pub mod policy;
pub mod scope;
pub mod tokens;

pub use crate::domain::AuthFailure;
pub use api_key::{ApiKey, GeneratedKey, MalformedKey};
pub use authenticate::{Caller, DirectKeys, Identity, Presented, VerifiedKeys, presented, unverified_issuer};
pub use authorize::{Action, resources};
pub use context::RequestCtx;
pub use cursor_key::CursorKey;
pub use failed_verifications::FailedVerifications;
pub use hashing::{KeyHasher, Pepper};
