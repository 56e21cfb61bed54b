//! Role assignments: which principals hold which roles in an org.

use serde_json::json;

use super::{Written, roles, until_written};
use crate::App;
use crate::auth::{Caller, resources};
use crate::domain::ApiError;
use crate::domain::{Actor, AuditEvent, OrgId, PrincipalId, PrincipalStatus, RoleId};
use crate::store::ListParams;
use crate::store::{AssignRefused, Assignment, Page, UnassignRefused, WriteError};

/// The cursor scope of a principal's assignment list.
pub fn list_scope(org: &OrgId, principal: &PrincipalId) -> String {
    format!("assignments|{org}|{principal}")
}

/// The most roles one principal may hold (AWS IAM's hard limit of managed policies per identity
/// is 20, too). It keeps a member's removal, which deletes every assignment, one transaction.
pub const MAX_ROLES_PER_PRINCIPAL: usize = 20;

/// Assigns a role available to the caller's org to one of its principals, if the caller holds
/// every permission in it (the grant rule; itself included as the assignee). Answers whether it
/// was new (an existing assignment is answered as it is).
pub async fn assign(
    app: &App,
    caller: &Caller,
    principal_id: &PrincipalId,
    role_id: &RoleId,
    request_id: &str,
) -> Result<(Assignment, bool), ApiError> {
    let grant = Grant::By(caller);
    record(app, &caller.actor(), &caller.org_id, principal_id, role_id, grant, request_id).await
}

/// The operator's assignment of an org's first role (bootstrap, with direct access to the table):
/// no caller exists yet whose permissions could bound it.
pub async fn assign_as_operator(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    role_id: &RoleId,
    request_id: &str,
) -> Result<(Assignment, bool), ApiError> {
    record(app, actor, org, principal_id, role_id, Grant::Operator, request_id).await
}

/// Who grants: a caller bound by the grant rule, or the operator.
#[derive(Clone, Copy)]
enum Grant<'a> {
    By(&'a Caller),
    Operator,
}

async fn record(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    role_id: &RoleId,
    grant: Grant<'_>,
    request_id: &str,
) -> Result<(Assignment, bool), ApiError> {
    until_written(|| async move {
        let principal = app.store.get_principal(org, principal_id).await?.ok_or(ApiError::NotFound("principal"))?;
        let role = roles::get(app, org, role_id).await?;
        let kind = principal.principal.principal_type;
        if !role.principal_types.contains(&kind) {
            return Err(ApiError::RolePrincipalTypeUnsupported {
                role: role.id.to_string(),
                principal_type: kind.as_str(),
            });
        }
        if let Grant::By(caller) = grant {
            app.authorize_grant(caller, role.id.as_str(), &role.permissions).await?;
        }
        if let Some(existing) = app.store.get_assignment(org, principal_id, role_id).await? {
            return Ok(Written::Done((existing, false)));
        }
        if principal.principal.status == PrincipalStatus::Revoked {
            return Err(ApiError::PrincipalRevoked);
        }
        if principal.role_ids.len() >= MAX_ROLES_PER_PRINCIPAL {
            return Err(ApiError::RoleAssignmentLimitReached { cap: MAX_ROLES_PER_PRINCIPAL });
        }
        let assignment = Assignment {
            org_id: org.clone(),
            principal_id: principal_id.clone(),
            role_id: role_id.clone(),
            created_at: app.clock.now(),
        };
        let event = AuditEvent::new(
            org.clone(),
            actor.clone(),
            "iam:roleAssignments:assign",
            resources::principal(principal_id.as_str()),
            app.clock.now(),
            request_id,
            json!({"roleId": role_id, "roleName": role.name}),
        );
        // The write pins the role to the version whose permissions were checked above.
        match app.store.assign_role(&assignment, role.version, &event, MAX_ROLES_PER_PRINCIPAL).await {
            Ok(()) => Ok(Written::Done((assignment, true))),
            // Assigned meanwhile (the next read answers it); the principal gone, revoked or at its
            // cap (the next read says which); the role changed or deleted meanwhile (the next read
            // checks the grant against what it holds now, or says 404).
            Err(WriteError::Violated(
                AssignRefused::AssignmentExists | AssignRefused::PrincipalMoved | AssignRefused::RoleMoved,
            ))
            | Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}

/// A page of a principal's assignments.
pub async fn list(
    app: &App,
    org: &OrgId,
    principal_id: &PrincipalId,
    params: ListParams,
) -> Result<Page<Assignment>, ApiError> {
    app.store.get_principal(org, principal_id).await?.ok_or(ApiError::NotFound("principal"))?;
    Ok(app.store.list_assignments_of_principal(org, principal_id, params.limit, params.start).await?)
}

/// Removes one assignment.
pub async fn remove(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    principal_id: &PrincipalId,
    role_id: &RoleId,
    request_id: &str,
) -> Result<(), ApiError> {
    let assignment =
        app.store.get_assignment(org, principal_id, role_id).await?.ok_or(ApiError::NotFound("role assignment"))?;
    let event = AuditEvent::new(
        org.clone(),
        actor.clone(),
        "iam:roleAssignments:remove",
        resources::principal(principal_id.as_str()),
        app.clock.now(),
        request_id,
        json!({"roleId": role_id}),
    );
    let (assignment, event) = (&assignment, &event);
    until_written(|| async move {
        match app.store.unassign_role(assignment, event).await {
            Ok(()) => Ok(Written::Done(())),
            Err(WriteError::Violated(UnassignRefused::Gone)) => Err(ApiError::NotFound("role assignment")),
            Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}
