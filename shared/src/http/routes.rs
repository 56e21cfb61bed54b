//! The route table. Each function crate declares the routes it serves once, in a [`routes!`](crate::routes)
//! block: the route key (`METHOD /path`, API Gateway's), the handler, and who may call it. The block
//! generates the crate's `ROUTES` (which the template, the OpenAPI document and the tenant
//! authorizer's map are checked against, in `infra/local-stack/tests`) and its `handle`.
//!
//! An `org(ACTION, Resource)` route is opened here, in one place, before its handler runs:
//! authenticate, the caller in the path's organisation (403 `org_mismatch`), the path's ids parsed
//! (404 for one that cannot be an id), then `ACTION` on the resource authorized. Its handler receives
//! a [`Call`] holding the caller and the ids.

pub use lambda_http::{Body, Request};

use crate::App;
use crate::auth::{Action, Caller, RequestCtx, resources};
use crate::domain::{KeyId, PrincipalId, RoleId, TrustId};
use crate::http::ApiError;
use crate::http::request::path_param;

/// What a handler answers.
pub type Response = lambda_http::Response<Body>;

/// One route as its function declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// API Gateway's route key: `POST /iam/orgs/{orgId}/api-keys`.
    pub key: &'static str,
    pub access: Access,
}

impl Route {
    pub fn method(&self) -> &'static str {
        self.key.split_once(' ').map_or("", |(method, _)| method)
    }
    pub fn path(&self) -> &'static str {
        self.key.split_once(' ').map_or(self.key, |(_, path)| path)
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A caller of the path's organisation that holds `action` on `resource`.
    Org { action: Action, resource: Resource },
    /// The handler authenticates (or not) itself: the token endpoint, the public documents, the
    /// leak-report webhook (signed by the scanner), introspection, RFC 7009 revocation, `/iam/me`
    /// and the developer page.
    Own,
    /// A tenant route: the Lambda authorizer in front of it decides, on `action`.
    Tenant { action: &'static str },
}

/// The resource an `org` route acts on: fixed, or named by the path's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Fixed(&'static str),
    /// `iam:api-keys/{principalId}`, the id an API-key principal's.
    ApiKey,
    /// `iam:roles/{roleId}`.
    Role,
    /// `iam:principals/{principalId}`, of any kind (role assignments).
    Principal,
    /// `iam:members/{principalId}`, a member's id.
    Member,
    /// `iam:workload-trusts/{trustId}`.
    WorkloadTrust,
}

impl Resource {
    pub const TOKENS: Self = Self::Fixed(resources::TOKENS);
    pub const API_KEYS: Self = Self::Fixed(resources::API_KEYS);
    pub const ROLES: Self = Self::Fixed(resources::ROLES);
    pub const SETTINGS: Self = Self::Fixed(resources::SETTINGS);
    pub const AUDIT: Self = Self::Fixed(resources::AUDIT);
    pub const AUTHORIZE: Self = Self::Fixed(resources::AUTHORIZE);
    pub const MEMBERS: Self = Self::Fixed(resources::MEMBERS);
    pub const WORKLOAD_TRUSTS: Self = Self::Fixed(resources::WORKLOAD_TRUSTS);
}

/// An opened `org` route: the authenticated caller, authorized for the route's action, and the
/// path's ids.
pub struct Call<'r> {
    pub ctx: &'r RequestCtx,
    pub req: &'r Request,
    pub caller: Caller,
    principal: Option<PrincipalId>,
    role: Option<RoleId>,
    key: Option<KeyId>,
    trust: Option<TrustId>,
}

impl Call<'_> {
    /// The path's `{trustId}`.
    pub fn trust_id(&self) -> Result<&TrustId, ApiError> {
        self.trust.as_ref().ok_or_else(|| undeclared("trustId"))
    }
    /// The path's `{principalId}`.
    pub fn principal_id(&self) -> Result<&PrincipalId, ApiError> {
        self.principal.as_ref().ok_or_else(|| undeclared("principalId"))
    }
    /// The path's `{roleId}`.
    pub fn role_id(&self) -> Result<&RoleId, ApiError> {
        self.role.as_ref().ok_or_else(|| undeclared("roleId"))
    }
    /// The path's `{keyId}`.
    pub fn key_id(&self) -> Result<&KeyId, ApiError> {
        self.key.as_ref().ok_or_else(|| undeclared("keyId"))
    }
}

fn undeclared(name: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("a handler asked for {{{name}}}, which its route's path does not have"))
}

/// Opens an `org` route: authenticate, the caller in the path's org, the ids, the authorization.
pub async fn open<'r>(
    app: &App,
    ctx: &'r RequestCtx,
    req: &'r Request,
    action: Action,
    resource: Resource,
) -> Result<Call<'r>, ApiError> {
    let caller = app.caller_in_path_org(req, ctx).await?;
    let has = |name: &str| ctx.route_key.contains(&format!("{{{name}}}"));
    let principal = match has("principalId") {
        false => None,
        true => Some(match resource {
            Resource::Principal => path_param(req, "principalId", "principal", |t| PrincipalId::parse(t).ok())?,
            Resource::Member => {
                path_param(req, "principalId", "member", |t| PrincipalId::parse(t).ok().filter(|id| !id.is_api_key()))?
            }
            _ => crate::http::request::principal_id(req)?,
        }),
    };
    let role = match has("roleId") {
        false => None,
        true => Some(path_param(req, "roleId", "role", RoleId::parse)?),
    };
    let key = match has("keyId") {
        false => None,
        true => Some(path_param(req, "keyId", "credential", |t| KeyId::parse(t).ok())?),
    };
    let trust = match has("trustId") {
        false => None,
        true => Some(path_param(req, "trustId", "workload trust", |t| TrustId::parse(t).ok())?),
    };
    let named = match resource {
        Resource::Fixed(name) => name.to_string(),
        Resource::ApiKey => resources::api_key(principal.as_ref().ok_or_else(|| undeclared("principalId"))?),
        Resource::Principal => {
            resources::principal(principal.as_ref().ok_or_else(|| undeclared("principalId"))?.as_str())
        }
        Resource::Member => resources::member(principal.as_ref().ok_or_else(|| undeclared("principalId"))?),
        Resource::Role => resources::role(role.as_ref().ok_or_else(|| undeclared("roleId"))?),
        Resource::WorkloadTrust => resources::workload_trust(trust.as_ref().ok_or_else(|| undeclared("trustId"))?),
    };
    app.authorize(&caller, action, &named, ctx).await?;
    Ok(Call { ctx, req, caller, principal, role, key, trust })
}

/// Declares a function's routes once and generates its `ROUTES` and `handle`:
///
/// ```ignore
/// shared::routes! {
///     "POST /iam/orgs/{orgId}/api-keys/{principalId}/credentials" => issue, org(CREDENTIALS_ISSUE, ApiKey);
///     "POST /iam/auth/token" => token, own;
///     "GET /demo/whoami" => whoami, tenant("demo:whoami:read");
/// }
/// ```
///
/// An `org` handler is `async fn(&App, Call<'_>) -> Result<Response, ApiError>`; an `own` or `tenant`
/// one is `async fn(&App, &RequestCtx, &Request) -> Result<Response, ApiError>`. Every error
/// becomes its problem+json response (or the handler's own shape, such as OAuth's, when it renders
/// one itself); a route key the table does not have is 404 `route_not_found`.
#[macro_export]
macro_rules! routes {
    ($($key:literal => $handler:path, $kind:ident $(($($arg:tt)*))?;)+) => {
        /// Every route this function serves, as declared in its `shared::routes!` block.
        pub const ROUTES: &[$crate::http::routes::Route] = &[
            $($crate::http::routes::Route { key: $key, access: $crate::__route_access!($kind $(($($arg)*))?) },)+
        ];

        /// Serves one API Gateway request; every failure is an error response, never a Lambda error.
        pub async fn handle(
            app: &$crate::App,
            req: $crate::http::routes::Request,
        ) -> $crate::http::routes::Response {
            let ctx = $crate::http::RequestCtx::of(&req);
            let result = match ctx.route_key.as_str() {
                $($key => $crate::__route_serve!(app, &ctx, &req, $handler, $kind $(($($arg)*))?),)+
                _ => Err($crate::http::ApiError::RouteNotFound),
            };
            result.unwrap_or_else(|e| e.into_response(&ctx.request_id))
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __route_access {
    (own) => {
        $crate::http::routes::Access::Own
    };
    (tenant($action:literal)) => {
        $crate::http::routes::Access::Tenant { action: $action }
    };
    (org($action:ident, $resource:ident)) => {
        $crate::http::routes::Access::Org {
            action: $crate::auth::Action::$action,
            resource: $crate::http::routes::Resource::$resource,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __route_serve {
    ($app:ident, $ctx:expr, $req:expr, $handler:path, org($action:ident, $resource:ident)) => {
        match $crate::http::routes::open(
            $app,
            $ctx,
            $req,
            $crate::auth::Action::$action,
            $crate::http::routes::Resource::$resource,
        )
        .await
        {
            Ok(call) => $handler($app, call).await,
            Err(e) => Err(e),
        }
    };
    ($app:ident, $ctx:expr, $req:expr, $handler:path, $($access:tt)+) => {
        $handler($app, $ctx, $req).await
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_key_is_its_method_and_path() {
        let route = Route { key: "POST /iam/orgs/{orgId}/api-keys", access: Access::Own };
        assert_eq!((route.method(), route.path()), ("POST", "/iam/orgs/{orgId}/api-keys"));
    }
}
