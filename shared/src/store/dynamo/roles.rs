//! Custom roles with their name guard and count, and role assignments.

use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::*;
use crate::store::{AssignRefused, RoleCreateRefused, RoleDeleteRefused, RoleUpdateRefused, UnassignRefused};

impl DynamoStore {
    pub(super) fn role_item(role: &Role, assignment_count: u64) -> Result<Item, StoreError> {
        let org = role.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("built-in roles are not stored")))?;
        Stored::new(keys::role(org, &role.id), &RoleRecord { role: role.clone(), assignment_count }).item()
    }

    pub(super) fn name_item(org: &OrgId, role: &Role) -> Result<Item, StoreError> {
        Stored::new(keys::role_name(org, &role.name), &RoleNameGuard { role_id: role.id.clone() }).item()
    }

    pub(super) fn role_from(item: Item) -> Result<(Role, u64), StoreError> {
        let record: RoleRecord = from_attributes(item)?;
        Ok((record.role, record.assignment_count))
    }

    /// Creates a custom role; refused when its name is taken in the org (`RoleNameTaken`) or the org
    /// holds its cap (`RoleLimitReached`).
    pub async fn create_role(
        &self,
        role: &Role,
        audit: &AuditEvent,
        cap: usize,
    ) -> Result<(), WriteError<RoleCreateRefused>> {
        let org = role.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("a custom role needs an org")))?;
        // The org item counts its custom roles; the cap is this condition, not a count read before.
        let count = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::org(org))))
                .update_expression("SET #n = if_not_exists(#n, :zero) + :one")
                .condition_expression("attribute_exists(PK) AND (attribute_not_exists(#n) OR #n < :cap)")
                .expression_attribute_names("#n", attr::CUSTOM_ROLES)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cap", n(cap as u64))
                .build(),
        )?;
        let actions = vec![
            Guarded::unguarded(self.put_new(Self::role_item(role, 0)?)?),
            Guarded::guarding(self.put_new(Self::name_item(org, role)?)?, RoleCreateRefused::NameTaken),
            Guarded::guarding(update_action(count), RoleCreateRefused::LimitReached),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[Change::Roles { org: org.clone() }]).await
    }

    /// A custom role and how many principals hold it, strongly consistent.
    pub async fn get_role(&self, org: &OrgId, id: &RoleId) -> Result<Option<(Role, u64)>, StoreError> {
        self.get(keys::role(org, id), true).await?.map(Self::role_from).transpose()
    }

    /// Every custom role of an org (orgs hold at most a few hundred; read page by page).
    pub async fn list_roles(&self, org: &OrgId) -> Result<Vec<Role>, StoreError> {
        let (pk, prefix) = keys::roles_of(org);
        let items = self.query_all(&QuerySpec::base(pk, prefix), false).await?;
        items.into_iter().map(|item| Self::role_from(item).map(|(role, _)| role)).collect()
    }

    /// Replaces a custom role at `before.version` (else `VersionMoved`); a rename moves its name
    /// guard in the same transaction (`RoleNameTaken` when the new name is taken).
    pub async fn update_role(
        &self,
        before: &Role,
        after: &Role,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<RoleUpdateRefused>> {
        let org = after.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("built-in roles are not stored")))?;
        let mut fields = to_attributes(after)?;
        fields.remove(attr::ORG_ID);
        let remove: &[&str] = if after.description.is_none() { &[attr::DESCRIPTION] } else { &[] };
        let update = self.set_and_remove(
            keys::role(org, &after.id),
            &fields,
            remove,
            "#ver = :v",
            HashMap::from([("#ver".into(), attr::VERSION.into())]),
            HashMap::from([(":v".into(), n(before.version))]),
        )?;
        let mut actions = vec![
            Guarded::guarding(update_action(update), RoleUpdateRefused::RoleMoved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        // The guard moves only when the name's skeleton does (a change of case or a look-alike
        // keeps it; putting it again would find itself there).
        if keys::role_name(org, &before.name) != keys::role_name(org, &after.name) {
            actions.push(Guarded::guarding(self.put_new(Self::name_item(org, after)?)?, RoleUpdateRefused::NameTaken));
            let delete = build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(keys::role_name(org, &before.name))))
                    .build(),
            )?;
            actions.push(Guarded::unguarded(delete_action(delete)));
        }
        self.transact_guarded(actions, &[Change::Roles { org: org.clone() }]).await
    }

    /// Deletes a custom role that no principal holds (`RoleInUse` otherwise, `Gone` when it is),
    /// and its name guard.
    pub async fn delete_role(&self, role: &Role, audit: &AuditEvent) -> Result<(), WriteError<RoleDeleteRefused>> {
        let org = role.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("built-in roles are not stored")))?;
        let delete = build(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::role(org, &role.id))))
                .condition_expression("attribute_exists(PK) AND #count = :zero")
                .expression_attribute_names("#count", attr::ASSIGNMENT_COUNT)
                .expression_attribute_values(":zero", n(0))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build(),
        )?;
        let name = build(
            Delete::builder().table_name(&self.table).set_key(Some(key_of(keys::role_name(org, &role.name)))).build(),
        )?;
        let count = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::org(org))))
                .update_expression("SET #n = if_not_exists(#n, :one) - :one")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#n", attr::CUSTOM_ROLES)
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        // The role's condition failed: it is assigned (the item as it was says to how many), or gone.
        let in_use_or_gone = |old: Option<&Item>| match old {
            Some(role) => RoleDeleteRefused::InUse(Self::role_from(role.clone()).map_or(0, |(_, count)| count)),
            None => RoleDeleteRefused::Gone,
        };
        let actions = vec![
            Guarded::guarding_with(delete_action(delete), in_use_or_gone),
            Guarded::unguarded(delete_action(name)),
            Guarded::unguarded(update_action(count)),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[Change::Roles { org: org.clone() }]).await
    }

    pub(super) fn assignment_item(a: &Assignment) -> Result<Item, StoreError> {
        Stored::new(keys::assignment(&a.org_id, &a.principal_id, &a.role_id), a)
            .gsi1(keys::assignment_by_role(&a.org_id, &a.role_id, &a.principal_id))
            .item()
    }

    /// Assigns a role: the assignment, the principal's role set, the custom role's assignment count
    /// and the audit event in one transaction. Refused when the assignment exists, the principal is
    /// gone, revoked or at its cap, or the custom role is no longer at `role_version` (the version
    /// whose permissions the grant rule checked: widened, narrowed or deleted meanwhile).
    pub async fn assign_role(
        &self,
        a: &Assignment,
        role_version: u64,
        audit: &AuditEvent,
        cap: usize,
    ) -> Result<(), WriteError<AssignRefused>> {
        // The principal holds at most `cap` roles: a condition on its role set, so that concurrent
        // assignments cannot pass it, and a member's removal stays one transaction.
        let principal = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(&a.org_id, &a.principal_id))))
                .update_expression("ADD #roles :r")
                .condition_expression(
                    "attribute_exists(PK) AND #status <> :revoked AND (attribute_not_exists(#roles) OR size(#roles) < :cap)",
                )
                .expression_attribute_names("#roles", attr::ROLE_IDS)
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_values(":r", AttributeValue::Ss(vec![a.role_id.to_string()]))
                .expression_attribute_values(":revoked", s(PrincipalStatus::Revoked.as_str()))
                .expression_attribute_values(":cap", n(cap as u64))
                .build(),
        )?;
        let mut actions = vec![
            Guarded::guarding(self.put_new(Self::assignment_item(a)?)?, AssignRefused::AssignmentExists),
            // Gone, revoked or at its cap: a fresh read says which.
            Guarded::guarding(update_action(principal), AssignRefused::PrincipalMoved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        if !a.role_id.is_built_in() {
            let count = build(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(keys::role(&a.org_id, &a.role_id))))
                    .update_expression("ADD #count :one")
                    .condition_expression("attribute_exists(PK) AND #ver = :v")
                    .expression_attribute_names("#count", attr::ASSIGNMENT_COUNT)
                    .expression_attribute_names("#ver", attr::VERSION)
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":v", n(role_version))
                    .build(),
            )?;
            actions.push(Guarded::guarding(update_action(count), AssignRefused::RoleMoved));
        }
        self.transact_guarded(actions, &[Change::Roles { org: a.org_id.clone() }]).await
    }

    pub(super) fn count_assignments(&self, a: &Assignment, delta: i64) -> Result<Update, StoreError> {
        build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::role(&a.org_id, &a.role_id))))
                .update_expression("ADD #count :d")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#count", attr::ASSIGNMENT_COUNT)
                .expression_attribute_values(":d", n(delta))
                .build(),
        )
    }

    /// Removes an assignment, the role from the principal's set and one from the role's count.
    pub async fn unassign_role(&self, a: &Assignment, audit: &AuditEvent) -> Result<(), WriteError<UnassignRefused>> {
        let delete = build(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::assignment(&a.org_id, &a.principal_id, &a.role_id))))
                .condition_expression("attribute_exists(PK)")
                .build(),
        )?;
        let principal = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(&a.org_id, &a.principal_id))))
                .update_expression("DELETE #roles :r")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#roles", attr::ROLE_IDS)
                .expression_attribute_values(":r", AttributeValue::Ss(vec![a.role_id.to_string()]))
                .build(),
        )?;
        // The assignment, its principal or its role is gone.
        let mut actions = vec![
            Guarded::guarding(delete_action(delete), UnassignRefused::Gone),
            Guarded::guarding(update_action(principal), UnassignRefused::Gone),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        if !a.role_id.is_built_in() {
            actions.push(Guarded::guarding(update_action(self.count_assignments(a, -1)?), UnassignRefused::Gone));
        }
        self.transact_guarded(actions, &[Change::Roles { org: a.org_id.clone() }]).await
    }

    /// One assignment, strongly consistent.
    pub async fn get_assignment(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        role: &RoleId,
    ) -> Result<Option<Assignment>, StoreError> {
        self.get(keys::assignment(org, principal, role), true).await?.map(from_attributes).transpose()
    }

    /// A page of a principal's assignments (base table, strongly consistent).
    pub async fn list_assignments_of_principal(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Assignment>, StoreError> {
        let (pk, prefix) = keys::assignments_of_principal(org, principal);
        let spec = QuerySpec::base(pk, prefix);
        let page = self.query(&spec, limit, start, true).await?;
        Ok(Page { items: page.items.into_iter().map(from_attributes).collect::<Result<_, _>>()?, next: page.next })
    }

    /// A page of a role's assignments (GSI1).
    pub async fn list_assignments_of_role(
        &self,
        org: &OrgId,
        role: &RoleId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Assignment>, StoreError> {
        let spec = QuerySpec {
            index: Some(keys::GSI1),
            pk_name: keys::GSI1PK,
            pk: keys::assignments_of_role_pk(org, role),
            sk_name: keys::GSI1SK,
            sk_prefix: String::new(),
            newest_first: false,
            sk_upto: None,
            sk_after: None,
        };
        let page = self.query(&spec, limit, start, false).await?;
        Ok(Page { items: page.items.into_iter().map(from_attributes).collect::<Result<_, _>>()?, next: page.next })
    }
}
