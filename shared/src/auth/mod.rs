//! Who is calling and may they do this: key format, hashing, authentication, authorization.

mod api_key;
mod authenticate;
mod authorize;
mod hashing;
pub mod oidc;
pub mod policy;
pub mod tokens;

pub use api_key::{ApiKey, GeneratedKey, MalformedKey};
pub use authenticate::{AuthFailure, Caller, Identity, Presented, VerifiedKeys, presented, unverified_issuer};
pub use authorize::{Action, resources};
pub use hashing::{KeyHasher, Pepper};
