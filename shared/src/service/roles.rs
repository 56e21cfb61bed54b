//! Roles: the four built-ins (read-only) and each org's custom roles.

use serde::Deserialize;
use serde_json::json;

use super::{Validation, Written, until_written};
use crate::App;
use crate::auth::grants::widens;
use crate::auth::{Caller, resources};
use crate::domain::{
    Actor, AuditEvent, OrgId, Permission, PrincipalType, Role, RoleId, built_in_roles, role_name_skeleton,
};
use crate::domain::{ApiError, Patch};
use crate::store::ListParams;
use crate::store::{Assignment, Page, PageKey, RoleCreateRefused, RoleDeleteRefused, RoleUpdateRefused, WriteError};

/// The most permissions one role may hold.
pub const MAX_PERMISSIONS: usize = 100;
/// The most custom roles one org may hold (they are cached whole in every container).
pub const MAX_CUSTOM_ROLES: usize = 200;

/// `POST /iam/orgs/{orgId}/roles`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRole {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub principal_types: Vec<String>,
    pub permissions: Vec<Permission>,
}

/// `PATCH /iam/orgs/{orgId}/roles/{roleId}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRole {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub principal_types: Option<Vec<String>>,
    #[serde(default)]
    pub permissions: Option<Vec<Permission>>,
}

/// A checked [`CreateRole`].
#[derive(Debug)]
pub struct NewRole {
    pub name: String,
    pub description: Option<String>,
    pub principal_types: Vec<PrincipalType>,
    pub permissions: Vec<Permission>,
}

impl CreateRole {
    /// The body's field checks, every problem named at once; no I/O.
    pub fn check(self) -> Result<NewRole, ApiError> {
        let mut v = Validation::default();
        let name = v.role_name(&self.name);
        let description = self.description.as_deref().and_then(|d| v.description(d));
        let principal_types = v.principal_types(&self.principal_types);
        v.permissions(&self.permissions);
        v.finish()?;
        Ok(NewRole { name: name.expect("validated"), description, principal_types, permissions: self.permissions })
    }
}

/// A checked [`UpdateRole`]: `None` leaves a field as it is.
#[derive(Debug)]
pub struct RoleChange {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub principal_types: Option<Vec<PrincipalType>>,
    pub permissions: Option<Vec<Permission>>,
}

impl UpdateRole {
    /// The body's field checks, every problem named at once; no I/O.
    pub fn check(self) -> Result<RoleChange, ApiError> {
        let mut v = Validation::default();
        let name = self.name.as_deref().and_then(|n| v.role_name(n));
        let description = match &self.description {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(d) => v.description(d).map(Some),
        };
        let principal_types = self.principal_types.as_deref().map(|t| v.principal_types(t));
        if let Some(permissions) = &self.permissions {
            v.permissions(permissions);
        }
        v.finish()?;
        Ok(RoleChange { name, description, principal_types, permissions: self.permissions })
    }
}

/// The cursor scope of a role list.
pub fn list_scope(org: &OrgId, principal_type: Option<PrincipalType>) -> String {
    format!("roles|{org}|{}", principal_type.map_or("*", PrincipalType::as_str))
}

fn valid_pattern(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    !text.is_empty() && text.len() <= 256 && text.chars().all(allowed)
}

impl Validation {
    fn role_name(&mut self, text: &str) -> Option<String> {
        let name = self.name("name", text)?.as_str().to_string();
        if name.chars().count() > 64 {
            self.push("name", "must be at most 64 characters");
            return None;
        }
        Some(name)
    }

    fn description(&mut self, text: &str) -> Option<String> {
        if text.chars().count() > 1024 || text.chars().any(|c| c.is_control() && c != '\n') {
            self.push("description", "must be at most 1024 characters, without control characters");
            return None;
        }
        Some(text.trim().to_string())
    }

    fn principal_types(&mut self, texts: &[String]) -> Vec<PrincipalType> {
        let mut types = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            match PrincipalType::parse(text) {
                Some(t) if !types.contains(&t) => types.push(t),
                Some(_) => self.push(&format!("principalTypes[{i}]"), "is listed twice"),
                None => self.push(&format!("principalTypes[{i}]"), "must be ApiKey or User"),
            }
        }
        if texts.is_empty() {
            self.push("principalTypes", "must name at least one of ApiKey, User");
        }
        types
    }

    fn permissions(&mut self, permissions: &[Permission]) {
        if permissions.is_empty() || permissions.len() > MAX_PERMISSIONS {
            self.push("permissions", "must hold 1 to 100 permissions");
        }
        for (i, p) in permissions.iter().enumerate() {
            let action_ok = p.action == "*"
                || (p.action.split(':').count() >= 2
                    && p.action
                        .split(':')
                        .all(|seg| valid_pattern(seg, |c| c.is_ascii_alphanumeric() || "*-_".contains(c))));
            if !action_ok {
                self.push(
                    &format!("permissions[{i}].action"),
                    "must be service:resourceType:verb, * allowed (e.g. iam:apiKeys:read, iam:*)",
                );
            }
            if !valid_pattern(&p.resource, |c| c.is_ascii_graphic()) {
                self.push(
                    &format!("permissions[{i}].resource"),
                    "must be a resource pattern without spaces (e.g. *, iam:api-keys/akp_…)",
                );
            }
            if let Some(c) = &p.condition {
                if c.source_ip.as_ref().is_some_and(|ranges| ranges.is_empty() || ranges.len() > 50) {
                    self.push(&format!("permissions[{i}].condition.sourceIp"), "must list 1 to 50 CIDR ranges");
                }
                if let (Some(nb), Some(na)) = (c.not_before, c.not_after)
                    && nb >= na
                {
                    self.push(&format!("permissions[{i}].condition"), "notBefore must be before notAfter");
                }
                if c.source_ip.is_none() && c.not_before.is_none() && c.not_after.is_none() {
                    self.push(
                        &format!("permissions[{i}].condition"),
                        "must hold sourceIp, notBefore or notAfter (or be left out)",
                    );
                }
            }
        }
    }
}

fn name_taken_by_built_in(name: &str) -> bool {
    let skeleton = role_name_skeleton(name);
    built_in_roles().iter().any(|r| role_name_skeleton(&r.name) == skeleton)
}

fn audit(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    action: &str,
    role: &Role,
    request_id: &str,
    details: serde_json::Value,
) -> AuditEvent {
    AuditEvent::new(org.clone(), actor.clone(), action, resources::role(&role.id), app.clock.now(), request_id, details)
}

/// Creates a custom role; its name must be unique in the org (built-in names included).
pub async fn create(app: &App, caller: &Caller, input: CreateRole, request_id: &str) -> Result<Role, ApiError> {
    let (actor, org) = (&caller.actor(), &caller.org_id);
    let NewRole { name, description, principal_types, permissions } = input.check()?;
    if name_taken_by_built_in(&name) {
        return Err(ApiError::RoleNameTaken(name));
    }
    app.authorize_grant(caller, &format!("the role {name:?}"), &permissions).await?;
    let now = app.clock.now();
    let role = Role {
        id: RoleId::generate(),
        org_id: Some(org.clone()),
        name,
        description,
        principal_types,
        permissions,
        built_in: false,
        version: 1,
        created_at: Some(now),
        updated_at: Some(now),
    };
    let event = audit(
        app,
        actor,
        org,
        "iam:roles:create",
        &role,
        request_id,
        json!({"name": role.name, "permissions": role.permissions}),
    );
    // Every create and delete updates the org item's role count, so concurrent ones can cancel
    // each other (TransactionConflict): those are retried.
    let (role, event) = (&role, &event);
    until_written(|| async move {
        match app.store.create_role(role, event, MAX_CUSTOM_ROLES).await {
            Ok(()) => Ok(Written::Done(role.clone())),
            // The write names the invariant that refused it: no second read to guess which.
            Err(WriteError::Violated(RoleCreateRefused::NameTaken)) => Err(ApiError::RoleNameTaken(role.name.clone())),
            Err(WriteError::Violated(RoleCreateRefused::LimitReached)) => {
                Err(ApiError::RoleLimitReached { cap: MAX_CUSTOM_ROLES })
            }
            // A conflict: decide again.
            Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}

/// A built-in or one of the org's custom roles.
pub async fn get(app: &App, org: &OrgId, id: &RoleId) -> Result<Role, ApiError> {
    if id.is_built_in() {
        return Ok(built_in_roles().into_iter().find(|r| &r.id == id).expect("built-in ids are built in"));
    }
    Ok(app.store.get_role(org, id).await?.ok_or(ApiError::NotFound("role"))?.0)
}

/// A page of the roles available to the org (built-ins first, then custom roles by id),
/// optionally only those supporting one principal type.
pub async fn list(
    app: &App,
    org: &OrgId,
    principal_type: Option<PrincipalType>,
    params: ListParams,
) -> Result<Page<Role>, ApiError> {
    let mut roles = built_in_roles();
    let mut custom = app.store.list_roles(org).await?;
    custom.sort_by(|a, b| a.id.cmp(&b.id));
    roles.extend(custom);
    let roles: Vec<Role> =
        roles.into_iter().filter(|r| principal_type.is_none_or(|t| r.principal_types.contains(&t))).collect();
    let start = match params.start.as_ref().and_then(|k| k.get("after")) {
        Some(after) => match roles.iter().position(|r| r.id.as_str() == after) {
            Some(i) => i + 1,
            // The custom role the cursor names was deleted meanwhile: go on after where it stood
            // (custom roles are in id order; built-ins cannot be deleted).
            None => roles.iter().position(|r| !r.built_in && r.id.as_str() > after.as_str()).unwrap_or(roles.len()),
        },
        None => 0,
    };
    let items: Vec<Role> = roles.iter().skip(start).take(params.limit).cloned().collect();
    let next = (start + items.len() < roles.len())
        .then(|| items.last().map(|r| PageKey::from([("after".to_string(), r.id.to_string())])))
        .flatten();
    Ok(Page { items, next })
}

/// Changes a custom role (412 on a stale `If-Match`; built-ins are read-only).
pub async fn update(
    app: &App,
    caller: &Caller,
    id: &RoleId,
    input: UpdateRole,
    if_match: Option<u64>,
    request_id: &str,
) -> Result<Role, ApiError> {
    let (actor, org) = (&caller.actor(), &caller.org_id);
    if id.is_built_in() {
        return Err(ApiError::RoleReadOnly);
    }
    let RoleChange { name, description, principal_types, permissions } = input.check()?;
    if name.as_deref().is_some_and(name_taken_by_built_in) {
        return Err(ApiError::RoleNameTaken(name.unwrap_or_default()));
    }
    let (name, description, principal_types, permissions) = (&name, &description, &principal_types, &permissions);
    until_written(|| async move {
        let (before, _) = app.store.get_role(org, id).await?.ok_or(ApiError::NotFound("role"))?;
        if if_match.is_some_and(|expected| expected != before.version) {
            return Err(ApiError::VersionMismatch { current: before.version });
        }
        let mut after = before.clone();
        if let Some(name) = &name {
            after.name = name.clone();
        }
        if let Some(description) = &description {
            after.description = description.clone();
        }
        if let Some(types) = &principal_types {
            after.principal_types = types.clone();
        }
        if let Some(permissions) = permissions {
            after.permissions = permissions.clone();
        }
        if after == before {
            return Ok(Written::Done(after));
        }
        // Widening a role grants its new permissions to everyone who holds it: the caller must
        // hold all of them. Narrowing and renaming are never escalation.
        if widens(&before, &after) {
            app.authorize_grant(caller, id.as_str(), &after.permissions).await?;
        }
        after.version += 1;
        after.updated_at = Some(app.clock.now());
        let event =
            audit(app, actor, org, "iam:roles:update", &after, request_id, json!({"before": before, "after": after}));
        match app.store.update_role(&before, &after, &event).await {
            Ok(()) => Ok(Written::Done(after)),
            Err(WriteError::Violated(RoleUpdateRefused::NameTaken)) => Err(ApiError::RoleNameTaken(after.name)),
            // The version moved: decide again from a fresh read (412 there under If-Match).
            Err(WriteError::Violated(RoleUpdateRefused::RoleMoved)) | Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}

/// Deletes a custom role no principal holds (409 `role_in_use` otherwise).
pub async fn delete(app: &App, actor: &Actor, org: &OrgId, id: &RoleId, request_id: &str) -> Result<(), ApiError> {
    if id.is_built_in() {
        return Err(ApiError::RoleReadOnly);
    }
    let (role, count) = app.store.get_role(org, id).await?.ok_or(ApiError::NotFound("role"))?;
    if count > 0 {
        return Err(ApiError::RoleInUse(count));
    }
    let event = audit(app, actor, org, "iam:roles:delete", &role, request_id, json!({"name": role.name}));
    let (role, event) = (&role, &event);
    until_written(|| async move {
        match app.store.delete_role(role, event).await {
            Ok(()) => Ok(Written::Done(())),
            Err(WriteError::Violated(RoleDeleteRefused::InUse(count))) => Err(ApiError::RoleInUse(count)),
            Err(WriteError::Violated(RoleDeleteRefused::Gone)) => Err(ApiError::NotFound("role")),
            // The org's role count is shared with concurrent creates and deletes: retry.
            Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}

/// A page of the principals holding a role.
pub async fn assignments(
    app: &App,
    org: &OrgId,
    id: &RoleId,
    params: ListParams,
) -> Result<Page<Assignment>, ApiError> {
    get(app, org, id).await?;
    Ok(app.store.list_assignments_of_role(org, id, params.limit, params.start).await?)
}
