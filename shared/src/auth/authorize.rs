//! Authorization: every route passes its declared action and resource here, after the org check.
//! The caller's assigned roles come from container caches (≤ 30 s), so the warm path adds no
//! DynamoDB round trip to authentication's one read.

use std::net::IpAddr;

use super::RequestCtx;
use super::grants::{describe, first_not_held};
use super::policy::{Denial, Question, evaluate};
use super::{Caller, Identity};
use crate::App;
use crate::domain::ApiError;
use crate::domain::{OrgId, Permission, PrincipalId, PrincipalType};

/// An IAM action, `service:resourceType:verb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action(pub &'static str);

impl Action {
    pub const API_KEYS_CREATE: Self = Self("iam:apiKeys:create");
    pub const API_KEYS_READ: Self = Self("iam:apiKeys:read");
    pub const API_KEYS_LIST: Self = Self("iam:apiKeys:list");
    pub const API_KEYS_UPDATE: Self = Self("iam:apiKeys:update");
    pub const API_KEYS_REVOKE_TOKENS: Self = Self("iam:apiKeys:revokeTokens");
    pub const CREDENTIALS_ISSUE: Self = Self("iam:credentials:issue");
    pub const CREDENTIALS_LIST: Self = Self("iam:credentials:list");
    pub const CREDENTIALS_REVOKE: Self = Self("iam:credentials:revoke");
    pub const CREDENTIALS_REPORT: Self = Self("iam:credentials:report");
    pub const CREDENTIALS_ROLL: Self = Self("iam:credentials:roll");
    pub const CREDENTIALS_UPDATE: Self = Self("iam:credentials:update");
    pub const ROLES_CREATE: Self = Self("iam:roles:create");
    pub const ROLES_READ: Self = Self("iam:roles:read");
    pub const ROLES_LIST: Self = Self("iam:roles:list");
    pub const ROLES_UPDATE: Self = Self("iam:roles:update");
    pub const ROLES_DELETE: Self = Self("iam:roles:delete");
    pub const ROLE_ASSIGNMENTS_ASSIGN: Self = Self("iam:roleAssignments:assign");
    pub const ROLE_ASSIGNMENTS_LIST: Self = Self("iam:roleAssignments:list");
    pub const ROLE_ASSIGNMENTS_REMOVE: Self = Self("iam:roleAssignments:remove");
    pub const SETTINGS_READ: Self = Self("iam:settings:read");
    pub const SETTINGS_UPDATE: Self = Self("iam:settings:update");
    pub const AUDIT_READ: Self = Self("iam:audit:read");
    pub const AUTHORIZE_SIMULATE: Self = Self("iam:authorize:simulate");
    pub const MEMBERS_ADD: Self = Self("iam:members:add");
    pub const MEMBERS_LIST: Self = Self("iam:members:list");
    pub const MEMBERS_REMOVE: Self = Self("iam:members:remove");
    pub const DEVELOPER_READ: Self = Self("admin:developer:read");
    pub const TOKENS_INTROSPECT: Self = Self("iam:tokens:introspect");
    pub const WORKLOAD_TRUSTS_CREATE: Self = Self("iam:workloadTrusts:create");
    pub const WORKLOAD_TRUSTS_READ: Self = Self("iam:workloadTrusts:read");
    pub const WORKLOAD_TRUSTS_LIST: Self = Self("iam:workloadTrusts:list");
    pub const WORKLOAD_TRUSTS_UPDATE: Self = Self("iam:workloadTrusts:update");
    pub const WORKLOAD_TRUSTS_DELETE: Self = Self("iam:workloadTrusts:delete");
    pub const WORKLOAD_TRUSTS_TEST: Self = Self("iam:workloadTrusts:test");

    /// The action's name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Resource names, one function per kind, so every route and the docs agree.
pub mod resources {
    use crate::domain::{PrincipalId, RoleId, TrustId};

    /// An API-key principal (and its credentials): `iam:api-keys/<id>`.
    pub fn api_key(id: &PrincipalId) -> String {
        format!("iam:api-keys/{id}")
    }
    /// The org's access tokens (introspection).
    pub const TOKENS: &str = "iam:tokens/*";
    /// Creating or listing API-key principals.
    pub const API_KEYS: &str = "iam:api-keys/*";
    /// A role: `iam:roles/<id>`.
    pub fn role(id: &RoleId) -> String {
        format!("iam:roles/{id}")
    }
    /// Creating or listing roles.
    pub const ROLES: &str = "iam:roles/*";
    /// A principal's role assignments: `iam:principals/<id>`.
    pub fn principal(id: &str) -> String {
        format!("iam:principals/{id}")
    }
    /// The org's settings.
    pub const SETTINGS: &str = "iam:settings";
    /// The org's audit log.
    pub const AUDIT: &str = "iam:audit-events";
    /// The authorization explainer.
    pub const AUTHORIZE: &str = "iam:authorize";
    /// Adding or listing members.
    pub const MEMBERS: &str = "iam:members/*";
    /// A member: `iam:members/<usr_…>`.
    pub fn member(id: &PrincipalId) -> String {
        format!("iam:members/{id}")
    }
    /// Creating or listing workload trusts.
    pub const WORKLOAD_TRUSTS: &str = "iam:workload-trusts/*";
    /// A workload trust: `iam:workload-trusts/<id>`.
    pub fn workload_trust(id: &TrustId) -> String {
        format!("iam:workload-trusts/{id}")
    }
    /// The legacy developer page of the org.
    pub const DEVELOPER: &str = "admin:developer";
}

impl App {
    /// Authenticates the caller of an org-scoped route (`/iam/orgs/{orgId}/...`) and checks that
    /// `{orgId}` is the caller's own organisation (403 `org_mismatch` before anything of that org is
    /// read); the returned caller's `org_id` is then the org every query of the request is bounded by.
    pub async fn caller_in_path_org(&self, req: &lambda_http::Request, ctx: &RequestCtx) -> Result<Caller, ApiError> {
        use lambda_http::RequestExt;
        let identity = self.authenticate(req.headers(), ctx).await?;
        let path_org = req.path_parameters_ref().and_then(|p| p.first("orgId")).unwrap_or_default();
        self.caller_in_org(identity, path_org, ctx).await
    }

    /// The identity as a caller acting in `org`: a principal of that org, or a member of it
    /// (one strongly consistent read of the membership); anyone else is 403 `org_mismatch`.
    pub async fn caller_in_org(&self, identity: Identity, org: &str, ctx: &RequestCtx) -> Result<Caller, ApiError> {
        let mut refused_principal = None;
        let caller = match identity {
            Identity::Principal(caller) if caller.org_id.as_str() == org => Some(caller),
            Identity::Principal(other) => {
                refused_principal = Some(other);
                None
            }
            Identity::Member { subject } => match OrgId::parse(org) {
                Ok(org_id) => self.store.get_member_id(&org_id, &subject).await?.map(|principal_id| Caller {
                    principal_id,
                    principal_type: PrincipalType::User,
                    org_id,
                    key_id: None,
                    scope: None,
                    rate: None,
                }),
                Err(_) => None,
            },
        };
        caller.ok_or_else(|| {
            tracing::info!(request_id = ctx.request_id, "refused: caller of another organisation");
            if let Some(caller) = &refused_principal {
                self.record_caller_outcome(caller, "org_mismatch", ctx);
            }
            ApiError::OrgMismatch
        })
    }

    /// May `caller` perform `action` on `resource`? The contract's 403s, in order, from the
    /// caller's assigned roles. The source address is API Gateway's, never a client header.
    pub async fn authorize(
        &self,
        caller: &Caller,
        action: Action,
        resource: &str,
        ctx: &RequestCtx,
    ) -> Result<(), ApiError> {
        self.authorize_named(caller, action.as_str(), resource, ctx).await
    }

    /// The grant rule: `caller` may assign a role, or create or widen one, only if it holds every
    /// permission in it itself (through its own roles, read now, not from the caches); otherwise
    /// 403 `escalation_denied` naming the first permission it does not hold. No route checks this
    /// on its own: the services that grant call it.
    pub async fn authorize_grant(
        &self,
        caller: &Caller,
        role: &str,
        permissions: &[Permission],
    ) -> Result<(), ApiError> {
        let held = self.roles_now(&caller.org_id, &caller.principal_id).await?;
        // A down-scoped token holds only what its scope lets through.
        let outside_scope = permissions.iter().find(|p| {
            caller.scope.as_ref().is_some_and(|scope| !scope.iter().any(|s| super::scope::covers(s, &p.action)))
        });
        match outside_scope.or_else(|| first_not_held(&held, caller.principal_type, permissions)) {
            None => Ok(()),
            Some(missing) => {
                tracing::info!(principal = %caller.principal_id, role, code = "escalation_denied", "refused");
                Err(ApiError::Forbidden {
                    denial: Denial::EscalationDenied,
                    detail: format!("granting {role} needs {}, which the caller does not hold", describe(missing)),
                })
            }
        }
    }

    /// Issuing a credential to an API-key principal, or making it Active again, hands the caller
    /// everything that principal may do: the grant rule applies to all of its roles' permissions.
    pub async fn authorize_acting_as(&self, caller: &Caller, target: &PrincipalId) -> Result<(), ApiError> {
        let roles = self.roles_now(&caller.org_id, target).await?;
        let permissions: Vec<Permission> = roles
            .into_iter()
            .filter(|r| r.principal_types.contains(&PrincipalType::ApiKey))
            .flat_map(|r| r.permissions)
            .collect();
        self.authorize_grant(caller, &format!("a key of {target}"), &permissions).await
    }

    /// [`App::authorize`] for an action named at run time (the tenant-API authorizer's route map).
    pub async fn authorize_named(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        ctx: &RequestCtx,
    ) -> Result<(), ApiError> {
        let roles = self.assigned_roles(&caller.org_id, caller.principal_id.as_str()).await?;
        let question = Question {
            principal_type: caller.principal_type,
            action,
            resource: Some(resource),
            source_ip: ctx.source_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()),
            now: self.clock.now(),
        };
        let outcome = evaluate(&roles, &question).outcome.and_then(|matched| {
            if super::scope::allows(caller.scope.as_deref(), action) {
                Ok(matched)
            } else {
                Err((Denial::ScopeNotGranted, format!("the token's scope does not include {action}")))
            }
        });
        match outcome {
            Ok(_) => {
                self.record_caller_outcome(caller, "allowed", ctx);
                Ok(())
            }
            Err((denial, detail)) => {
                tracing::info!(request_id = ctx.request_id, action, code = denial.code(), "refused");
                self.record_caller_outcome(caller, denial.code(), ctx);
                Err(ApiError::Forbidden { denial, detail })
            }
        }
    }
}
