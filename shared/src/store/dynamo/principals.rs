//! API-key principals: their item, its state copied onto each Active credential, and their lists.

use super::*;

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
        self.transact(vec![self.put_new(self.principal_item(&record)?)?, self.put_new(audit_item(audit)?)?]).await
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

    /// Changes a principal if neither it nor its set of credentials changed since `before` was
    /// read, and copies its new state onto each Active credential, all in one transaction. Only the
    /// principal's own fields are written: its role and credential sets are left as they are.
    pub async fn update_principal(
        &self,
        before: &PrincipalRecord,
        after: &Principal,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut fields = to_attributes(after)?;
        let (gpk, gsk) = keys::principal_by_status(&after.org_id, after.status, &after.id);
        fields.insert(keys::GSI1PK.into(), s(gpk));
        fields.insert(keys::GSI1SK.into(), s(gsk));
        let remove: &[&str] = if after.expires_at.is_none() { &[attr::EXPIRES_AT] } else { &[] };
        let update = self.set_and_remove(
            keys::principal(&after.org_id, &after.id),
            &fields,
            remove,
            "#version = :v AND #cv = :cv",
            HashMap::from([
                ("#version".into(), attr::VERSION.into()),
                ("#cv".into(), attr::CREDENTIALS_VERSION.into()),
            ]),
            HashMap::from([(":v".into(), n(before.principal.version)), (":cv".into(), n(before.credentials_version))]),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        let state = PrincipalState::of(after);
        if state != PrincipalState::of(&before.principal) {
            let state_fields = to_attributes(&state)?;
            let remove: &[&str] =
                if state.principal_expires_at.is_none() { &[attr::PRINCIPAL_EXPIRES_AT] } else { &[] };
            for key_id in &before.active_key_ids {
                let update = self.set_and_remove(
                    keys::credential(key_id),
                    &state_fields,
                    remove,
                    "attribute_exists(PK)",
                    HashMap::new(),
                    HashMap::new(),
                )?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
        }
        // The principal's version or credential set moved, or a credential it listed is gone.
        self.transact_naming(items, |_, _| Some(Invariant::VersionMoved)).await
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
    /// exists and holds fewer than `cap` entries (`VersionMoved` otherwise: read and decide).
    pub async fn revoke_token(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        entry: &str,
        cap: usize,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let update = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(org, principal))))
                .update_expression("ADD #rt :entry")
                .condition_expression("attribute_exists(PK) AND (attribute_not_exists(#rt) OR size(#rt) < :cap)")
                .expression_attribute_names("#rt", attr::REVOKED_TOKENS)
                .expression_attribute_values(":entry", AttributeValue::Ss(vec![entry.to_string()]))
                .expression_attribute_values(":cap", n(cap))
                .build(),
        )?;
        let items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        self.transact_naming(items, |position, _| (position == 0).then_some(Invariant::VersionMoved)).await
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
