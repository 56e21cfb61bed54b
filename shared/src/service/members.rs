//! Members: User principals, one per identity-provider subject per org.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Validation, Written, until_written};
use crate::App;
use crate::auth::resources;
use crate::domain::ApiError;
use crate::domain::{
    Actor, AuditEvent, Name, NameError, OrgId, Permission, Principal, PrincipalId, PrincipalStatus, PrincipalType,
    RoleId,
};
use crate::store::ListParams;
use crate::store::{MemberAddRefused, MemberRemoveRefused, Membership, Page, WriteError};

/// `POST /iam/orgs/{orgId}/members`: the subject is the provider's `sub`; the issuer is the
/// configured provider's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddMember {
    pub subject: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A checked [`AddMember`].
#[derive(Debug)]
pub struct NewMember {
    pub subject: String,
    pub email: Option<String>,
    /// The name the member is shown by.
    pub shown: Name,
}

impl AddMember {
    /// The body's field checks, every problem named at once; no I/O.
    pub fn check(&self) -> Result<NewMember, ApiError> {
        let mut v = Validation::default();
        let checked = v.member(self);
        v.finish()?;
        let (subject, email, shown) = checked.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("checked member")))?;
        Ok(NewMember { subject, email, shown })
    }
}

impl Validation {
    /// The checks of `POST .../members`: the trimmed subject and e-mail, and the name the member is
    /// shown by (its `displayName`, else its e-mail, else its subject, made a valid name).
    fn member(&mut self, input: &AddMember) -> Option<(String, Option<String>, Name)> {
        let subject = input.subject.trim();
        // The code points names refuse, for the same reasons: a subject is listed, audited and
        // shown (as the display name, when there is no other), and one that reorders or hides
        // text could pass for another member's.
        let refused = subject.chars().find_map(NameError::for_char);
        // At most 1,000 bytes too: the subject is part of its guard item's sort key (DynamoDB: 1,024).
        let subject_ok =
            !subject.is_empty() && subject.chars().count() <= 255 && subject.len() <= 1000 && refused.is_none();
        if let Some(refusal) = &refused {
            self.push("subject", &refusal.to_string());
        } else if !subject_ok {
            self.push(
                "subject",
                "must be the provider's subject: 1 to 255 characters (at most 1,000 bytes), no control characters",
            );
        }
        let email = input.email.as_deref().map(str::trim);
        let email_ok = email.is_none_or(|e| {
            e.chars().count() <= 254 && !e.chars().any(|c| c.is_whitespace() || c.is_control()) && e.contains('@')
        });
        if !email_ok {
            self.push("email", "must be an e-mail address");
        }
        let display_name = input.display_name.as_deref().and_then(|n| self.name("displayName", n));
        if !subject_ok || !email_ok || input.display_name.is_some() && display_name.is_none() {
            return None;
        }
        let shown = display_name.or_else(|| email.and_then(|e| Name::parse(e).ok())).or_else(|| Name::lossy(subject));
        let Some(shown) = shown else {
            self.push("subject", "must hold a printable character when no displayName or email is given");
            return None;
        };
        Some((subject.to_string(), email.map(String::from), shown))
    }
}

/// Adds a member (409 `member_exists` when the subject already is one).
pub async fn add(
    app: &App,
    actor: &Actor,
    org: &OrgId,
    input: AddMember,
    request_id: &str,
) -> Result<Principal, ApiError> {
    let NewMember { subject, email, shown } = input.check()?;
    let (subject, email) = (subject.as_str(), email.as_deref());
    let now = app.clock.now();
    let member = Principal {
        id: PrincipalId::generate_user(),
        org_id: org.clone(),
        principal_type: PrincipalType::User,
        display_name: shown,
        status: PrincipalStatus::Active,
        expires_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
        subject: Some(subject.to_string()),
        email: email.map(String::from),
        tokens_valid_after: None,
        allowed_cidrs: Vec::new(),
        rate_limit: None,
    };
    let audit = AuditEvent::new(
        org.clone(),
        actor.clone(),
        "iam:members:add",
        resources::member(&member.id),
        now,
        request_id,
        json!({"subject": member.subject, "email": member.email}),
    );
    let (member, audit) = (&member, &audit);
    until_written(|| async move {
        match app.store.create_member(member, audit).await {
            Ok(()) => Ok(Written::Done(member.clone())),
            Err(WriteError::Violated(MemberAddRefused::MemberExists)) => Err(ApiError::MemberExists),
            // A concurrent transaction on the same items decides nothing: again.
            Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}

/// A page of the org's members.
pub async fn list(app: &App, org: &OrgId, params: ListParams) -> Result<Page<Principal>, ApiError> {
    Ok(app.store.list_members(org, params.limit, params.start).await?)
}

/// Removes a member and every role assignment it holds, in one transaction.
pub async fn remove(app: &App, actor: &Actor, org: &OrgId, id: &PrincipalId, request_id: &str) -> Result<(), ApiError> {
    let member = app
        .store
        .get_principal(org, id)
        .await?
        .filter(|r| r.principal.principal_type == PrincipalType::User)
        .ok_or(ApiError::NotFound("member"))?;
    let assignments = app.store.list_assignments_of_principal(org, id, 100, None).await?.items;
    let audit = AuditEvent::new(
        org.clone(),
        actor.clone(),
        "iam:members:remove",
        resources::member(id),
        app.clock.now(),
        request_id,
        json!({"subject": member.principal.subject, "roleIds": member.role_ids}),
    );
    let (member, assignments, audit) = (&member, &assignments, &audit);
    until_written(|| async move {
        match app.store.remove_member(&member.principal, assignments, audit).await {
            Ok(()) => Ok(Written::Done(())),
            Err(WriteError::Violated(MemberRemoveRefused::Gone)) => Err(ApiError::NotFound("member")),
            Err(WriteError::Contention) => Ok(Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}

/// `GET /iam/me`: a member token's subject and the organisations it is a member of.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MyOrganisations {
    pub subject: String,
    /// Oldest membership first.
    pub organisations: Vec<MyOrganisation>,
}

/// One organisation of the subject: the member it is there and what its roles let it do.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MyOrganisation {
    pub org_id: OrgId,
    pub name: String,
    pub principal_id: PrincipalId,
    pub role_ids: Vec<RoleId>,
    /// The union of the permissions of the member's roles that apply to User principals (what
    /// authorization evaluates), each once.
    pub permissions: Vec<Permission>,
}

/// The organisations `subject` is a member of, each with its roles as authorization reads them
/// (the member's role ids and the org's roles, from the container's caches, ≤ 30 s).
pub async fn my_organisations(app: &App, subject: &str) -> Result<MyOrganisations, ApiError> {
    let memberships = app.store.list_memberships(subject).await?;
    let each = futures::future::try_join_all(memberships.into_iter().map(|m| my_organisation(app, m))).await?;
    Ok(MyOrganisations { subject: subject.to_string(), organisations: each.into_iter().flatten().collect() })
}

/// A membership as the caller sees it; `None` when its org is gone.
async fn my_organisation(app: &App, membership: Membership) -> Result<Option<MyOrganisation>, ApiError> {
    let Membership { org_id, principal_id, .. } = membership;
    let Some(org) = app.store.get_org(&org_id).await? else { return Ok(None) };
    let roles = app.assigned_roles(&org_id, principal_id.as_str()).await?;
    let mut permissions: Vec<Permission> = Vec::new();
    for permission in
        roles.iter().filter(|r| r.principal_types.contains(&PrincipalType::User)).flat_map(|r| &r.permissions)
    {
        if !permissions.contains(permission) {
            permissions.push(permission.clone());
        }
    }
    let role_ids = roles.into_iter().map(|r| r.id).collect();
    Ok(Some(MyOrganisation { org_id, name: org.name, principal_id, role_ids, permissions }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldError;

    fn subject_errors(subject: &str) -> Vec<FieldError> {
        let input = AddMember { subject: subject.into(), email: None, display_name: Some("shown".into()) };
        match input.check() {
            Err(ApiError::InvalidRequest(errors)) => errors,
            other => panic!("{subject:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_subject_holding_a_code_point_names_refuse_is_refused_naming_the_subject() {
        for (subject, message) in [
            ("a\u{202e}b", "must not contain the bidirectional control character U+202E"),
            ("\u{2066}alice", "must not contain the bidirectional control character U+2066"),
            ("ali\u{200b}ce", "must not contain the invisible (default-ignorable) character U+200B"),
            ("alice\u{e0041}", "must not contain the invisible (default-ignorable) character U+E0041"),
            ("al\u{e000}ice", "must not contain the private-use character U+E000"),
            ("alice\u{fffe}", "must not contain the noncharacter U+FFFE"),
            ("a\u{7}b", "must not contain control characters"),
        ] {
            assert_eq!(subject_errors(subject), vec![FieldError::new("subject", message)], "{subject:?}");
        }
    }

    #[test]
    fn provider_subjects_of_every_usual_shape_are_accepted() {
        for subject in ["alice", "auth0|5f7c8ec7c33c6c004bbafe82", "248289761001", "ユーザー", "Zoë"] {
            let input = AddMember { subject: subject.into(), email: None, display_name: None };
            let checked = input.check().unwrap_or_else(|e| panic!("{subject:?}: {e:?}"));
            assert_eq!((checked.subject.as_str(), checked.shown.as_str()), (subject, subject));
        }
    }
}
