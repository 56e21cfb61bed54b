//! Members: User principals with a subject guard, added and removed with their assignments.

use super::*;
use crate::store::{MemberAddRefused, MemberRemoveRefused};

impl DynamoStore {
    /// Adds a member: its principal, its subject guard (refused when the subject is already a
    /// member), the subject's membership of the org (in the subject's partition) and the audit event.
    pub async fn create_member(
        &self,
        principal: &Principal,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<MemberAddRefused>> {
        let subject =
            principal.subject.as_deref().ok_or_else(|| StoreError::Other(anyhow!("a member has a subject")))?;
        let record = PrincipalRecord::new(principal.clone());
        let guard = MemberSubjectGuard { principal_id: principal.id.clone() };
        let guard = Stored::new(keys::member_subject(&principal.org_id, subject), &guard).item()?;
        let membership = SubjectMembership {
            org_id: principal.org_id.clone(),
            principal_id: principal.id.clone(),
            created_at: principal.created_at,
        };
        let membership = Stored::new(keys::subject_membership(subject, &principal.org_id), &membership).item()?;
        // The guard and the membership exist together: either one there means a member already.
        let actions = vec![
            Guarded::unguarded(self.put_new(self.principal_item(&record)?)?),
            Guarded::guarding(self.put_new(guard)?, MemberAddRefused::MemberExists),
            Guarded::guarding(self.put_new(membership)?, MemberAddRefused::MemberExists),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[]).await
    }

    /// Every organisation `subject` is a member of, oldest membership first (strongly consistent:
    /// a membership just removed is gone).
    pub async fn list_memberships(&self, subject: &str) -> Result<Vec<Membership>, StoreError> {
        let (pk, prefix) = keys::memberships_of_subject(subject);
        let mut memberships = Vec::new();
        for item in self.query_all(&QuerySpec::base(pk, prefix), true).await? {
            let SubjectMembership { org_id, principal_id, created_at } = from_attributes(item)?;
            memberships.push(Membership { org_id, principal_id, created_at });
        }
        memberships.sort_by(|a, b| (a.created_at, a.org_id.as_str()).cmp(&(b.created_at, b.org_id.as_str())));
        Ok(memberships)
    }

    /// The principal id of `subject`'s membership in `org`, strongly consistent.
    pub async fn get_member_id(&self, org: &OrgId, subject: &str) -> Result<Option<PrincipalId>, StoreError> {
        let Some(item) = self.get(keys::member_subject(org, subject), true).await? else { return Ok(None) };
        Ok(Some(from_attributes::<MemberSubjectGuard>(item)?.principal_id))
    }

    /// A page of an org's members (base table, strongly consistent, oldest first).
    pub async fn list_members(
        &self,
        org: &OrgId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Principal>, StoreError> {
        let (pk, prefix) = keys::members_of(org);
        let spec = QuerySpec::base(pk, prefix);
        let page = self.query(&spec, limit, start, true).await?;
        let items =
            page.items.into_iter().map(|i| Self::principal_from(i).map(|r| r.principal)).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Removes a member: its principal, its subject guard, the subject's membership of the org and
    /// each of its role assignments (with the custom roles' counts), and the audit event, in one
    /// transaction.
    pub async fn remove_member(
        &self,
        member: &Principal,
        assignments: &[Assignment],
        audit: &AuditEvent,
    ) -> Result<(), WriteError<MemberRemoveRefused>> {
        let subject = member.subject.as_deref().ok_or_else(|| StoreError::Other(anyhow!("a member has a subject")))?;
        let delete = |key: (String, String), condition: Option<&str>| {
            build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(key)))
                    .set_condition_expression(condition.map(String::from))
                    .build(),
            )
            .map(|d| TransactWriteItem::builder().delete(d).build())
        };
        let gone = MemberRemoveRefused::Gone;
        let mut actions = vec![
            Guarded::guarding(delete(keys::principal(&member.org_id, &member.id), Some("attribute_exists(PK)"))?, gone),
            Guarded::unguarded(delete(keys::member_subject(&member.org_id, subject), None)?),
            Guarded::unguarded(delete(keys::subject_membership(subject, &member.org_id), None)?),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        for a in assignments {
            actions.push(Guarded::unguarded(delete(keys::assignment(&a.org_id, &a.principal_id, &a.role_id), None)?));
            if !a.role_id.is_built_in() {
                actions.push(Guarded::guarding(update_action(self.count_assignments(a, -1)?), gone));
            }
        }
        self.transact_guarded(actions, &[Change::Roles { org: member.org_id.clone() }]).await
    }
}
