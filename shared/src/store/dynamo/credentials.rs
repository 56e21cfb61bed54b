//! Credentials: issue, read (authentication's one read), list, end, and the throttled lastUsedAt.

use super::*;

impl DynamoStore {
    pub(super) fn credential_item(
        &self,
        record: &CredentialRecord,
        retention_until: Option<Timestamp>,
    ) -> Result<Item, StoreError> {
        let c = &record.credential;
        let mut stored = Stored::new(keys::credential(&c.id), record)
            .gsi1(keys::credential_by_principal(&record.org_id, &c.principal_id, c.status, c.created_at, &c.id))
            .retained_until(retention_until);
        if let (CredentialStatus::Active, Some(expires_at)) = (c.status, c.expires_at) {
            stored = stored.gsi2(keys::credential_by_expiry(expires_at, &c.id));
        }
        stored.item()
    }

    pub(super) fn credential_from(item: Item) -> Result<CredentialRecord, StoreError> {
        from_attributes(item)
    }

    /// Adds `record` to its principal's Active set, if the principal is still at the version read
    /// and not Revoked, and there is room: fewer than `cap` ids, or, when it replaces `old` (a
    /// roll), `old` still in the set and at most `cap` ids (the pair takes one place).
    fn add_active_key(
        &self,
        record: &CredentialRecord,
        principal: &PrincipalRecord,
        cap: u32,
        replacing: Option<&KeyId>,
    ) -> Result<Update, StoreError> {
        let room = match replacing {
            None => "(attribute_not_exists(#keys) OR size(#keys) < :cap)",
            Some(_) => "contains(#keys, :old) AND size(#keys) <= :cap",
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::principal(&record.org_id, &principal.principal.id))))
            .update_expression("ADD #keys :k, #cv :one")
            .condition_expression(format!("#version = :v AND #status <> :revoked AND {room}"))
            .expression_attribute_names("#keys", attr::ACTIVE_KEY_IDS)
            .expression_attribute_names("#cv", attr::CREDENTIALS_VERSION)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":k", AttributeValue::Ss(vec![record.credential.id.to_string()]))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":v", n(principal.principal.version))
            .expression_attribute_values(":revoked", s(PrincipalStatus::Revoked.as_str()))
            .expression_attribute_values(":cap", n(cap));
        if let Some(old) = replacing {
            update = update.expression_attribute_values(":old", s(old.as_str()));
        }
        build(update.build())
    }

    /// Writes a new credential, adds it to its principal's Active set (refused once the set holds
    /// `cap` ids, or if the principal changed since `principal` was read), and audits it: one
    /// transaction, so the cap holds under any concurrency.
    pub async fn issue_credential(
        &self,
        record: &CredentialRecord,
        principal: &PrincipalRecord,
        cap: u32,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let update = self.add_active_key(record, principal, cap, None)?;
        let items = vec![
            self.put_new(self.credential_item(record, None)?)?,
            TransactWriteItem::builder().update(update).build(),
            self.put_new(audit_item(audit)?)?,
        ];
        // The principal moved on: its version, status or credential set (the cap) changed.
        self.transact_naming(items, |position, _| (position == 1).then_some(Invariant::VersionMoved)).await
    }

    /// The credential with this key id, strongly consistent: authentication's one read.
    pub async fn get_credential(&self, key_id: &KeyId) -> Result<Option<CredentialRecord>, StoreError> {
        self.get(keys::credential(key_id), true).await?.map(Self::credential_from).transpose()
    }

    /// A principal's credentials by status (or all), oldest first, through GSI1.
    pub async fn list_credentials(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        filter: CredentialStatusFilter,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<CredentialRecord>, StoreError> {
        let query = QuerySpec {
            index: Some(keys::GSI1),
            pk_name: keys::GSI1PK,
            pk: keys::credentials_of_pk(org, principal),
            sk_name: keys::GSI1SK,
            sk_prefix: match filter {
                CredentialStatusFilter::Only(status) => keys::credential_status_prefix(status),
                CredentialStatusFilter::All => String::new(),
            },
            newest_first: false,
            sk_upto: None,
            sk_after: None,
        };
        let page = self.query(&query, limit, start, false).await?;
        let items = page.items.into_iter().map(Self::credential_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Marks a credential ended (`Revoked` or `Expired`): its status (and `revokedAt`), its GSI1
    /// key, its retention clock (`ttl`), out of the expiry index; drops it from its principal's
    /// Active set; audits it. Only the ending fields are written (a concurrent `lastUsedAt` or
    /// principal-state copy stays), and only if the status is still the one that was read. With
    /// `end_tokens_at` (a leaked key), the principal's access tokens issued until then end too.
    pub async fn end_credential(
        &self,
        before: &CredentialRecord,
        after: &Credential,
        retention_until: Timestamp,
        audit: &AuditEvent,
        end_tokens_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let c = &before.credential;
        let (_, gsi1sk) =
            keys::credential_by_principal(&before.org_id, &c.principal_id, after.status, c.created_at, &c.id);
        let mut set = HashMap::from([
            (attr::STATUS.to_string(), s(after.status.as_str())),
            (keys::GSI1SK.to_string(), s(gsi1sk)),
            (keys::TTL.to_string(), n(retention_until.unix())),
        ]);
        if let Some(revoked_at) = after.revoked_at {
            set.insert(attr::REVOKED_AT.into(), s(revoked_at.to_string()));
        }
        let update = self.set_and_remove(
            keys::credential(&c.id),
            &set,
            &[keys::GSI2PK, keys::GSI2SK],
            "#st = :before",
            HashMap::from([("#st".into(), attr::STATUS.into())]),
            HashMap::from([(":before".into(), s(c.status.as_str()))]),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        if c.status == CredentialStatus::Active {
            let mut principal = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(&before.org_id, &c.principal_id))))
                .update_expression("DELETE #keys :k ADD #cv :one")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#keys", attr::ACTIVE_KEY_IDS)
                .expression_attribute_names("#cv", attr::CREDENTIALS_VERSION)
                .expression_attribute_values(":k", AttributeValue::Ss(vec![c.id.to_string()]))
                .expression_attribute_values(":one", n(1));
            if let Some(at) = end_tokens_at {
                principal = principal
                    .update_expression("SET #tva = :tva DELETE #keys :k ADD #cv :one")
                    .expression_attribute_names("#tva", attr::TOKENS_VALID_AFTER)
                    .expression_attribute_values(":tva", s(at.to_string()));
            }
            let update = build(principal.build())?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        // The credential's status is no longer the one read (it ended meanwhile), or its
        // principal is gone.
        self.transact_naming(items, |position, _| match position {
            0 => Some(Invariant::VersionMoved),
            2 => Some(Invariant::Gone),
            _ => None,
        })
        .await
    }

    /// The update of a credential's own fields (name, expiry and its place in the expiry index,
    /// replacement, version) from `before` to `after`, only if it is still Active at the version read.
    fn credential_fields(&self, before: &CredentialRecord, after: &CredentialRecord) -> Result<Update, StoreError> {
        let c = &after.credential;
        let mut set = HashMap::from([
            (attr::NAME.to_string(), s(c.name.as_str())),
            (attr::VERSION.to_string(), n(after.version)),
        ]);
        let mut remove: Vec<&str> = Vec::new();
        match c.expires_at {
            Some(at) => {
                set.insert(attr::EXPIRES_AT.into(), s(at.to_string()));
                let (epk, esk) = keys::credential_by_expiry(at, &c.id);
                set.insert(keys::GSI2PK.into(), s(epk));
                set.insert(keys::GSI2SK.into(), s(esk));
            }
            None => remove.extend([attr::EXPIRES_AT, keys::GSI2PK, keys::GSI2SK]),
        }
        if let Some(by) = &c.replaced_by {
            set.insert(attr::REPLACED_BY.into(), s(by.as_str()));
        }
        // Items written before credentials had a version read as version 1.
        let condition = if before.version == 1 {
            "#st = :active AND (attribute_not_exists(#ver) OR #ver = :v)"
        } else {
            "#st = :active AND #ver = :v"
        };
        self.set_and_remove(
            keys::credential(&c.id),
            &set,
            &remove,
            condition,
            HashMap::from([("#st".into(), attr::STATUS.into()), ("#ver".into(), attr::VERSION.into())]),
            HashMap::from([(":active".into(), s(CredentialStatus::Active.as_str())), (":v".into(), n(before.version))]),
        )
    }

    /// Changes a credential's name or expiry (and its version), with the audit event; refused
    /// (`VersionMoved`) unless it is still Active at the version read.
    pub async fn update_credential(
        &self,
        before: &CredentialRecord,
        after: &CredentialRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let update = self.credential_fields(before, after)?;
        let items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        self.transact_naming(items, |position, _| (position == 0).then_some(Invariant::VersionMoved)).await
    }

    /// Rolls a credential: writes `new`, adds it to the principal's Active set (the pair counts
    /// as one place: the set may hold one more than `cap` only while the old credential is in it),
    /// and marks the old one replaced, expiring at `old_after`'s expiry; audited. One transaction:
    /// both or neither. Refused (`VersionMoved`) when the principal or the old credential moved on.
    pub async fn roll_credential(
        &self,
        new: &CredentialRecord,
        old_before: &CredentialRecord,
        old_after: &CredentialRecord,
        principal: &PrincipalRecord,
        cap: u32,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let update = self.add_active_key(new, principal, cap, Some(&old_before.credential.id))?;
        let items = vec![
            self.put_new(self.credential_item(new, None)?)?,
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().update(self.credential_fields(old_before, old_after)?).build(),
            self.put_new(audit_item(audit)?)?,
        ];
        self.transact_naming(items, |position, _| matches!(position, 1 | 2).then_some(Invariant::VersionMoved)).await
    }

    /// Sets `lastUsedAt`, with the source address and route of that use (`lastUsedIp`,
    /// `lastUsedRoute`; removed when unknown, so they never describe an older use), unless another
    /// request already did within the interval: at most one successful write per credential per
    /// interval, however hot the key.
    pub async fn touch_last_used(
        &self,
        key_id: &KeyId,
        now: Timestamp,
        not_since: Timestamp,
        source_ip: Option<&str>,
        route: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::credential(key_id))))
            .condition_expression("attribute_exists(PK) AND (attribute_not_exists(#used) OR #used < :since)")
            .expression_attribute_names("#used", attr::LAST_USED_AT)
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":since", s(not_since.to_string()));
        let (mut sets, mut removes) = (vec!["#used = :now".to_string()], Vec::new());
        for (name, attribute, value) in [("ip", attr::LAST_USED_IP, source_ip), ("route", attr::LAST_USED_ROUTE, route)]
        {
            request = request.expression_attribute_names(format!("#{name}"), attribute);
            match value {
                Some(value) => {
                    sets.push(format!("#{name} = :{name}"));
                    request = request.expression_attribute_values(format!(":{name}"), s(value));
                }
                None => removes.push(format!("#{name}")),
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let result = request.update_expression(expression).send().await;
        match result.map_err(classify) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
