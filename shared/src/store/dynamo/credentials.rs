//! Credentials: issue, read (authentication's one read), list, end, and the throttled lastUsedAt.

use super::*;
use crate::store::{CredentialEditRefused, EndRefused, IssueRefused, RollRefused};

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

    /// Adds `record` to its principal's Active set if the principal is still at the version read,
    /// not Revoked, and holds fewer than `cap` ids. Every path that creates a credential (issue,
    /// roll) writes this one update: the cap is one condition, whatever the path.
    fn add_active_key(
        &self,
        record: &CredentialRecord,
        principal: &PrincipalRecord,
        cap: u32,
    ) -> Result<Update, StoreError> {
        build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(&record.org_id, &principal.principal.id))))
                .update_expression("ADD #keys :k, #cv :one")
                .condition_expression(
                    "#version = :v AND #status <> :revoked AND (attribute_not_exists(#keys) OR size(#keys) < :cap)",
                )
                .expression_attribute_names("#keys", attr::ACTIVE_KEY_IDS)
                .expression_attribute_names("#cv", attr::CREDENTIALS_VERSION)
                .expression_attribute_names("#version", attr::VERSION)
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_values(":k", AttributeValue::Ss(vec![record.credential.id.to_string()]))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":v", n(principal.principal.version))
                .expression_attribute_values(":revoked", s(PrincipalStatus::Revoked.as_str()))
                .expression_attribute_values(":cap", n(cap))
                .build(),
        )
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
    ) -> Result<(), WriteError<IssueRefused>> {
        let actions = vec![
            Guarded::unguarded(self.put_new(self.credential_item(record, None)?)?),
            Guarded::guarding(
                update_action(self.add_active_key(record, principal, cap)?),
                IssueRefused::PrincipalMoved,
            ),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[]).await
    }

    /// The credential with this key id, strongly consistent: authentication's one read.
    pub async fn get_credential(&self, key_id: &KeyId) -> Result<Option<CredentialRecord>, StoreError> {
        self.get(keys::credential(key_id), true).await?.map(Self::credential_from).transpose()
    }

    /// The credential with this key id and the principal at `org`/`principal` (where an earlier
    /// read of the credential said it belongs), strongly consistent, in one round trip
    /// (`BatchGetItem`): a warm authentication's one read.
    pub async fn get_credential_and_principal(
        &self,
        key_id: &KeyId,
        org: &OrgId,
        principal: &PrincipalId,
    ) -> Result<(Option<CredentialRecord>, Option<PrincipalRecord>), StoreError> {
        let (credential, principal) = self.get_two(keys::credential(key_id), keys::principal(org, principal)).await?;
        Ok((credential.map(Self::credential_from).transpose()?, principal.map(Self::principal_from).transpose()?))
    }

    /// Two items by key, strongly consistent, in one round trip (`BatchGetItem`), each `None`
    /// when absent.
    pub(super) async fn get_two(
        &self,
        first: (String, String),
        second: (String, String),
    ) -> Result<(Option<Item>, Option<Item>), StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let wanted = build(
            KeysAndAttributes::builder()
                .keys(key_of(first.clone()))
                .keys(key_of(second.clone()))
                .consistent_read(true)
                .build(),
        )?;
        let mut request = HashMap::from([(self.table.clone(), wanted)]);
        let (mut found_first, mut found_second) = (None, None);
        // DynamoDB may leave keys unprocessed under load: ask again for those, a few times, backing
        // off a little more each time.
        for attempt in 0..3u64 {
            if attempt > 0 {
                let mut jitter = [0u8; 1];
                let _ = getrandom::fill(&mut jitter);
                let millis = (10 << attempt) + u64::from(jitter[0]) % (10 << attempt);
                tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            }
            let out = self.client.batch_get_item().set_request_items(Some(request)).send().await.map_err(classify)?;
            for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                let pk = item.get(keys::PK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                let sk = item.get(keys::SK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                if (&pk, &sk) == (&first.0, &first.1) {
                    found_first = Some(item);
                } else if (&pk, &sk) == (&second.0, &second.1) {
                    found_second = Some(item);
                }
            }
            match out.unprocessed_keys.filter(|u| !u.is_empty()) {
                Some(unprocessed) => request = unprocessed,
                None => return Ok((found_first, found_second)),
            }
        }
        Err(StoreError::Unavailable(anyhow!("the batch read left keys unprocessed")))
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
    ) -> Result<(), WriteError<EndRefused>> {
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
        let mut actions = vec![
            Guarded::guarding(update_action(update), EndRefused::StatusMoved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        let mut changes = vec![Change::Credential { key_id: c.id.clone() }];
        if c.status == CredentialStatus::Active {
            // An update must not create the item: an API-key principal is never deleted (Revoked
            // is final), so its absence is a broken table, named as such.
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
                // A change of the principal's own field: its version moves, so a change of the
                // principal read before this one cannot write the old `tokensValidAfter` back.
                principal = principal
                    .update_expression("SET #tva = :tva DELETE #keys :k ADD #cv :one, #version :one")
                    .expression_attribute_names("#tva", attr::TOKENS_VALID_AFTER)
                    .expression_attribute_names("#version", attr::VERSION)
                    .expression_attribute_values(":tva", s(at.to_string()));
                changes.push(Change::Principal {
                    org: before.org_id.clone(),
                    id: c.principal_id.clone(),
                    tokens_valid_after: Some(at),
                });
            }
            actions.push(Guarded::guarding(update_action(build(principal.build())?), EndRefused::PrincipalGone));
        }
        self.transact_guarded(actions, &changes).await
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
    ) -> Result<(), WriteError<CredentialEditRefused>> {
        let update = self.credential_fields(before, after)?;
        let actions = vec![
            Guarded::guarding(update_action(update), CredentialEditRefused::CredentialMoved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[Change::Credential { key_id: after.credential.id.clone() }]).await
    }

    /// Rolls a credential: writes `new`, adds it to the principal's Active set under the same cap
    /// condition as an issuance, and marks the old one replaced, expiring at `old_after`'s expiry;
    /// audited. One transaction: both or neither.
    pub async fn roll_credential(
        &self,
        new: &CredentialRecord,
        old_before: &CredentialRecord,
        old_after: &CredentialRecord,
        principal: &PrincipalRecord,
        cap: u32,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<RollRefused>> {
        let actions = vec![
            Guarded::unguarded(self.put_new(self.credential_item(new, None)?)?),
            Guarded::guarding(update_action(self.add_active_key(new, principal, cap)?), RollRefused::PrincipalMoved),
            Guarded::guarding(
                update_action(self.credential_fields(old_before, old_after)?),
                RollRefused::OldCredentialMoved,
            ),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[Change::Credential { key_id: old_before.credential.id.clone() }]).await
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
