//! The service's vocabulary: no AWS and no HTTP types here.

mod audit;
mod credential;
mod error;
mod events;
mod ids;
mod key_policy;
mod name;
mod principal;
mod refusal;
mod role;
mod settings;
mod timestamp;
mod trust;
mod wire;

pub use audit::{Actor, AuditEvent};
pub use credential::{Credential, CredentialStatus, CredentialStatusFilter};
pub use error::{ApiError, FieldError};
pub use events::{EventFacts, EventType, LifecycleEvent};
pub use ids::{IdError, KeyId, OrgId, PrincipalId, TrustId};
pub use key_policy::{MAX_ALLOWED_CIDRS, RateLimit, Window, describe_cidrs, ip_allowed, parse_allowed_cidrs};
pub use name::{Name, NameError};
pub use principal::{Principal, PrincipalStatus, PrincipalType, TransitionError};
pub use refusal::{AuthFailure, Denial, GrantRefusal};
pub use role::{Condition, IAM_READ_ACTIONS, Permission, Role, RoleId, built_in_roles, role_name_skeleton};
pub use settings::OrgSettings;
pub use timestamp::Timestamp;
pub use trust::{ClaimCondition, WorkloadTrust, claim_text};
pub use wire::{Patch, json_integer, json_integer_patch};
