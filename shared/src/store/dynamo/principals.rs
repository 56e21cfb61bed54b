//! API-key principals: their item, its state copied onto each Active credential, and their lists.

use super::*;
use crate::store::{Moved, TokenRevocationRefused};

impl DynamoStore {
    pub(super) fn principal_item(&self, record: &PrincipalRecord) -> Result<Item, StoreError> {
        let p = &record.principal;
        let stored = Stored::new(keys::principal(&p.org_id, &p.id), record);
        // Only API-key principals are listed by status (`GET .../api-keys?status=`); members are
        // listed by the org partition's MEMBER rows.
        if p.principal_type == PrincipalType::ApiKey {
            stored.gsi1(keys::principal_by_status(&p.org_id, p.status, &p.id)).item()
        } else {
            stored.item()
        }
    }

    pub(super) fn principal_from(item: Item) -> Result<PrincipalRecord, StoreError> {
        from_attributes(item)
    }

    /// Creates a principal (never overwrites), with its audit event.
    pub async fn create_principal(&self, principal: &Principal, audit: &AuditEvent) -> Result<(), StoreError> {
        let record = PrincipalRecord::new(principal.clone());
        self.transact(vec![self.put_new(self.principal_item(&record)?)?, self.put_new(audit_item(audit)?)?], &[]).await
    }

    /// One principal, strongly consistent (it guards every write that follows).
    pub async fn get_principal(&self, org: &OrgId, id: &PrincipalId) -> Result<Option<PrincipalRecord>, StoreError> {
        self.get(keys::principal(org, id), true).await?.map(Self::principal_from).transpose()
    }

    /// An Update setting each attribute of `set` and removing each of `remove`, under `condition`
    /// (whose own names and values come in `names` and `values`).
    pub(super) fn set_and_remove(
        &self,
        key: (String, String),
        set: &Item,
        remove: &[&str],
        condition: &str,
        mut names: HashMap<String, String>,
        mut values: Item,
    ) -> Result<Update, StoreError> {
        let mut sets = Vec::new();
        for (i, (name, value)) in set.iter().enumerate() {
            names.insert(format!("#s{i}"), name.clone());
            values.insert(format!(":s{i}"), value.clone());
            sets.push(format!("#s{i} = :s{i}"));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !remove.is_empty() {
            let removes: Vec<String> = remove
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    names.insert(format!("#r{i}"), name.to_string());
                    format!("#r{i}")
                })
                .collect();
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(key)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .build(),
        )
    }

    /// Changes a principal if it is still at the version `before` was read at: one item and the
    /// audit event, whatever its number of credentials (authentication reads the principal item, so
    /// a status change reaches every credential at once). Only the principal's own fields are
    /// written: its role and credential sets are left as they are.
    pub async fn update_principal(
        &self,
        before: &PrincipalRecord,
        after: &Principal,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<Moved>> {
        let mut fields = to_attributes(after)?;
        let (gpk, gsk) = keys::principal_by_status(&after.org_id, after.status, &after.id);
        fields.insert(keys::GSI1PK.into(), s(gpk));
        fields.insert(keys::GSI1SK.into(), s(gsk));
        // The fields serde leaves out when empty are removed, so that clearing one clears it.
        let cleared = [
            (after.expires_at.is_none(), attr::EXPIRES_AT),
            (after.allowed_cidrs.is_empty(), attr::ALLOWED_CIDRS),
            (after.rate_limit.is_none(), attr::RATE_LIMIT),
        ];
        let remove: Vec<&str> = cleared.iter().filter(|(gone, _)| *gone).map(|(_, name)| *name).collect();
        let update = self.set_and_remove(
            keys::principal(&after.org_id, &after.id),
            &fields,
            &remove,
            "#version = :v",
            HashMap::from([("#version".into(), attr::VERSION.into())]),
            HashMap::from([(":v".into(), n(before.principal.version))]),
        )?;
        let actions = vec![
            Guarded::guarding(update_action(update), Moved::Moved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        let change = Change::Principal {
            org: after.org_id.clone(),
            id: after.id.clone(),
            tokens_valid_after: after.tokens_valid_after,
        };
        let policy = (before.principal.allowed_cidrs != after.allowed_cidrs
            || before.principal.rate_limit != after.rate_limit)
            .then(|| Change::PrincipalPolicy { org: after.org_id.clone(), id: after.id.clone() });
        let changes: Vec<Change> = std::iter::once(change).chain(policy).collect();
        self.transact_guarded(actions, &changes).await
    }

    /// API-key principals of an org, oldest first; by status through GSI1 (eventually consistent),
    /// otherwise from the base table (strongly consistent).
    pub async fn list_principals(
        &self,
        org: &OrgId,
        status: Option<PrincipalStatus>,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Principal>, StoreError> {
        let query = match status {
            None => {
                let (pk, prefix) = keys::api_key_principals(org);
                QuerySpec::base(pk, prefix)
            }
            Some(status) => QuerySpec {
                index: Some(keys::GSI1),
                pk_name: keys::GSI1PK,
                pk: keys::principals_by_status_pk(org),
                sk_name: keys::GSI1SK,
                sk_prefix: keys::principal_status_prefix(status),
                newest_first: false,
                sk_upto: None,
                sk_after: None,
            },
        };
        let page = self.query(&query, limit, start, true).await?;
        let items =
            page.items.into_iter().map(|i| Self::principal_from(i).map(|r| r.principal)).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Adds a revoked token's entry to its principal, with the audit event, if the principal
    /// exists, does not hold the entry yet and holds fewer than `cap` entries (refused otherwise:
    /// read and decide).
    pub async fn revoke_token(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        entry: &str,
        jti: &str,
        cap: usize,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<TokenRevocationRefused>> {
        let update = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(org, principal))))
                .update_expression("ADD #rt :entry")
                // Not there yet: a token revoked twice is one change, audited once.
                .condition_expression(
                    "attribute_exists(PK) AND (attribute_not_exists(#rt) OR (size(#rt) < :cap AND NOT contains(#rt, :one)))",
                )
                .expression_attribute_names("#rt", attr::REVOKED_TOKENS)
                .expression_attribute_values(":entry", AttributeValue::Ss(vec![entry.to_string()]))
                .expression_attribute_values(":one", s(entry))
                .expression_attribute_values(":cap", n(cap))
                .build(),
        )?;
        let actions = vec![
            Guarded::guarding(update_action(update), TokenRevocationRefused::PrincipalGoneOrFull),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        let change = Change::RevokedToken { org: org.clone(), id: principal.clone(), jti: jti.to_string() };
        self.transact_guarded(actions, &[change]).await
    }

    /// Drops revoked-token entries whose tokens have expired.
    pub async fn prune_revoked_tokens(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        expired: &[String],
    ) -> Result<(), StoreError> {
        if expired.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::principal(org, principal))))
            .update_expression("DELETE #rt :gone")
            .expression_attribute_names("#rt", attr::REVOKED_TOKENS)
            .expression_attribute_values(":gone", AttributeValue::Ss(expired.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
