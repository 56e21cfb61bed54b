//! Authorization: the seam every route passes through with its declared action and resource.
//! Today it enforces the organisation boundary; role permissions plug in here.

use super::Caller;
use crate::domain::OrgId;
use crate::http::ApiError;

/// An IAM action, `service:resourceType:verb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action(pub &'static str);

impl Action {
    pub const API_KEYS_CREATE: Self = Self("iam:apiKeys:create");
    pub const API_KEYS_READ: Self = Self("iam:apiKeys:read");
    pub const API_KEYS_LIST: Self = Self("iam:apiKeys:list");
    pub const API_KEYS_UPDATE: Self = Self("iam:apiKeys:update");
    pub const CREDENTIALS_ISSUE: Self = Self("iam:credentials:issue");
    pub const CREDENTIALS_LIST: Self = Self("iam:credentials:list");
    pub const CREDENTIALS_REVOKE: Self = Self("iam:credentials:revoke");

    /// The action's name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// May `caller` perform `action` on `resource` (e.g. `iam:api-keys/akp_…`) in `org`?
/// The caller's org comes from its credential; a caller of another org is refused before anything
/// of `org` is read.
pub fn authorize(caller: &Caller, org: &OrgId, action: Action, resource: &str) -> Result<(), ApiError> {
    if &caller.org_id != org {
        tracing::info!(action = action.as_str(), resource, "refused: caller of another organisation");
        return Err(ApiError::OrgMismatch);
    }
    Ok(())
}

impl crate::App {
    /// Authenticates the caller of an org-scoped route (`/iam/orgs/{orgId}/...`) and checks that
    /// `{orgId}` is the caller's own organisation; the returned caller's `org_id` is then the org
    /// every query of the request is bounded by.
    pub async fn caller_in_path_org(
        &self,
        req: &lambda_http::Request,
        ctx: &crate::http::RequestCtx,
    ) -> Result<Caller, ApiError> {
        use lambda_http::RequestExt;
        let caller = self.authenticate(req.headers(), &ctx.request_id).await?;
        let path_org = req.path_parameters_ref().and_then(|p| p.first("orgId")).unwrap_or_default();
        if caller.org_id.as_str() != path_org {
            tracing::info!(request_id = ctx.request_id, "refused: caller of another organisation");
            return Err(ApiError::OrgMismatch);
        }
        Ok(caller)
    }
}
