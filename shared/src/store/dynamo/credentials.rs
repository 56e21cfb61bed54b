//! Credentials: issue, read (authentication's one read), list, end, and the throttled lastUsedAt.

use super::*;

impl DynamoStore {
    pub(super) fn credential_item(
        &self,
        record: &CredentialRecord,
        retention_until: Option<Timestamp>,
    ) -> Result<Item, StoreError> {
        let c = &record.credential;
        let mut item = with_key(to_attributes(c)?, keys::credential(&c.id));
        item.extend(to_attributes(&record.principal)?);
        item.insert("orgId".into(), s(record.org_id.as_str()));
        item.insert("secretHash".into(), s(&record.secret_hash));
        let (gpk, gsk) = keys::credential_by_principal(&record.org_id, &c.principal_id, c.status, c.created_at, &c.id);
        item.insert(keys::GSI1PK.into(), s(gpk));
        item.insert(keys::GSI1SK.into(), s(gsk));
        if let (CredentialStatus::Active, Some(expires_at)) = (c.status, c.expires_at) {
            let (epk, esk) = keys::credential_by_expiry(expires_at, &c.id);
            item.insert(keys::GSI2PK.into(), s(epk));
            item.insert(keys::GSI2SK.into(), s(esk));
        }
        if let Some(until) = retention_until {
            item.insert(keys::TTL.into(), n(until.unix()));
        }
        Ok(item)
    }

    pub(super) fn credential_from(mut item: Item) -> Result<CredentialRecord, StoreError> {
        let org_id = match item.remove("orgId") {
            Some(AttributeValue::S(org)) => OrgId::parse(&org).map_err(|e| StoreError::Other(anyhow!(e)))?,
            _ => return Err(StoreError::Other(anyhow!("credential item without orgId"))),
        };
        let secret_hash = match item.remove("secretHash") {
            Some(AttributeValue::S(hash)) => hash,
            _ => {
                return Err(StoreError::Other(anyhow!("credential item without secretHash")));
            }
        };
        let principal: PrincipalState = from_attributes(item.clone())?;
        Ok(CredentialRecord { credential: from_attributes(item)?, org_id, secret_hash, principal })
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
        let key_id = record.credential.id.to_string();
        let update = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(&record.org_id, &principal.principal.id))))
                .update_expression("ADD activeKeyIds :k, credentialsVersion :one")
                .condition_expression(
                    "version = :v AND #status <> :revoked AND (attribute_not_exists(activeKeyIds) OR size(activeKeyIds) < :cap)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":k", AttributeValue::Ss(vec![key_id]))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":v", n(principal.principal.version))
                .expression_attribute_values(":revoked", s(PrincipalStatus::Revoked.as_str()))
                .expression_attribute_values(":cap", n(cap))
                .build(),
        )?;
        self.transact(vec![
            self.put_new(self.credential_item(record, None)?)?,
            TransactWriteItem::builder().update(update).build(),
            self.put_new(audit_item(audit)?)?,
        ])
        .await
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
        };
        let page = self.query(&query, limit, start, false).await?;
        let items = page.items.into_iter().map(Self::credential_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Marks a credential ended (`Revoked` or `Expired`): its status (and `revokedAt`), its GSI1
    /// key, its retention clock (`ttl`), out of the expiry index; drops it from its principal's
    /// Active set; audits it. Only the ending fields are written (a concurrent `lastUsedAt` or
    /// principal-state copy stays), and only if the status is still the one that was read.
    pub async fn end_credential(
        &self,
        before: &CredentialRecord,
        after: &Credential,
        retention_until: Timestamp,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let c = &before.credential;
        let (_, gsi1sk) =
            keys::credential_by_principal(&before.org_id, &c.principal_id, after.status, c.created_at, &c.id);
        let mut set = HashMap::from([
            ("status".to_string(), s(after.status.as_str())),
            (keys::GSI1SK.to_string(), s(gsi1sk)),
            (keys::TTL.to_string(), n(retention_until.unix())),
        ]);
        if let Some(revoked_at) = after.revoked_at {
            set.insert("revokedAt".into(), s(revoked_at.to_string()));
        }
        let update = self.set_and_remove(
            keys::credential(&c.id),
            &set,
            &[keys::GSI2PK, keys::GSI2SK],
            "#st = :before",
            HashMap::from([("#st".into(), "status".into())]),
            HashMap::from([(":before".into(), s(c.status.as_str()))]),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        if c.status == CredentialStatus::Active {
            let update = build(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(keys::principal(&before.org_id, &c.principal_id))))
                    .update_expression("DELETE activeKeyIds :k ADD credentialsVersion :one")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":k", AttributeValue::Ss(vec![c.id.to_string()]))
                    .expression_attribute_values(":one", n(1))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        self.transact(items).await
    }

    /// Sets `lastUsedAt` unless another request already did within the interval: at most one
    /// successful write per credential per interval, however hot the key.
    pub async fn touch_last_used(
        &self,
        key_id: &KeyId,
        now: Timestamp,
        not_since: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::credential(key_id))))
            .update_expression("SET lastUsedAt = :now")
            .condition_expression("attribute_exists(PK) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :since)")
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":since", s(not_since.to_string()))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
