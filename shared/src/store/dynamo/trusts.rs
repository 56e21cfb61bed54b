//! Workload trusts: the trust item in its org's partition, one audience item per audience (a copy of
//! the trust, found by the token's issuer and audience alone), and the org's count of trusts.

use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::*;
use crate::domain::{TrustId, WorkloadTrust};
use crate::store::TrustWriteRefused;

impl DynamoStore {
    fn trust_item(trust: &WorkloadTrust) -> Result<Item, StoreError> {
        Stored::new(keys::workload_trust(&trust.org_id, &trust.id), trust).item()
    }

    fn trust_audience_item(trust: &WorkloadTrust, audience: &str) -> Result<Item, StoreError> {
        // The copy carries no use: that is the trust item's alone.
        let copy = WorkloadTrust { last_used_at: None, last_used_subject: None, ..trust.clone() };
        Stored::new(keys::trust_audience(&trust.issuer, audience), &copy).item()
    }

    /// Puts the audience item of `audience`, refused when another trust holds it.
    fn claim_audience(
        &self,
        trust: &WorkloadTrust,
        audience: &str,
        index: usize,
    ) -> Result<Guarded<TrustWriteRefused>, StoreError> {
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::trust_audience_item(trust, audience)?))
                .condition_expression("attribute_not_exists(PK) OR #id = :id")
                .expression_attribute_names("#id", attr::ID)
                .expression_attribute_values(":id", s(trust.id.as_str()))
                .build(),
        )?;
        Ok(Guarded::guarding(TransactWriteItem::builder().put(put).build(), TrustWriteRefused::AudienceTaken(index)))
    }

    fn release_audience(
        &self,
        trust: &WorkloadTrust,
        audience: &str,
    ) -> Result<Guarded<TrustWriteRefused>, StoreError> {
        let delete = build(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::trust_audience(&trust.issuer, audience))))
                .condition_expression("attribute_not_exists(PK) OR #id = :id")
                .expression_attribute_names("#id", attr::ID)
                .expression_attribute_values(":id", s(trust.id.as_str()))
                .build(),
        )?;
        Ok(Guarded::unguarded(delete_action(delete)))
    }

    fn count_trusts(&self, org: &OrgId, by: i64, cap: usize) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::org(org))))
            .update_expression("SET #n = if_not_exists(#n, :zero) + :by")
            .expression_attribute_names("#n", attr::WORKLOAD_TRUSTS)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":by", n(by));
        update = if by > 0 {
            update
                .condition_expression("attribute_exists(PK) AND (attribute_not_exists(#n) OR #n < :cap)")
                .expression_attribute_values(":cap", n(cap as u64))
        } else {
            update.condition_expression("attribute_exists(PK)")
        };
        build(update.build())
    }

    /// Creates a trust and its audience items; refused when one of its audiences is another
    /// trust's for the issuer, or the org holds `cap` trusts.
    pub async fn create_trust(
        &self,
        trust: &WorkloadTrust,
        audit: &AuditEvent,
        cap: usize,
    ) -> Result<(), WriteError<TrustWriteRefused>> {
        let mut actions = vec![
            Guarded::unguarded(self.put_new(Self::trust_item(trust)?)?),
            Guarded::guarding(
                update_action(self.count_trusts(&trust.org_id, 1, cap)?),
                TrustWriteRefused::LimitReached,
            ),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        for (i, audience) in trust.audiences.iter().enumerate() {
            actions.push(self.claim_audience(trust, audience, i)?);
        }
        self.transact_guarded(actions, &[]).await
    }

    /// A trust, strongly consistent.
    pub async fn get_trust(&self, org: &OrgId, id: &TrustId) -> Result<Option<WorkloadTrust>, StoreError> {
        self.get(keys::workload_trust(org, id), true).await?.map(from_attributes).transpose()
    }

    /// Every trust of an org (at most its cap), oldest first.
    pub async fn list_trusts(&self, org: &OrgId) -> Result<Vec<WorkloadTrust>, StoreError> {
        let (pk, prefix) = keys::workload_trusts_of(org);
        let items = self.query_all(&QuerySpec::base(pk, prefix), true).await?;
        items.into_iter().map(from_attributes).collect()
    }

    /// Replaces a trust at `before.version` (else `TrustMoved`); its audience items follow in the
    /// same transaction (a new audience taken by another trust: `AudienceTaken`). Its use
    /// (`lastUsedAt`, `lastUsedSubject`) is left as the exchanges wrote it.
    pub async fn update_trust(
        &self,
        before: &WorkloadTrust,
        after: &WorkloadTrust,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<TrustWriteRefused>> {
        let mut fields = to_attributes(after)?;
        for kept in [attr::ID, attr::ORG_ID, attr::LAST_USED_AT, attr::LAST_USED_SUBJECT] {
            fields.remove(kept);
        }
        let names = HashMap::from([("#ver".to_string(), attr::VERSION.to_string())]);
        let values = HashMap::from([(":v".to_string(), n(before.version))]);
        let remove: &[&str] = if after.description.is_none() { &[attr::DESCRIPTION] } else { &[] };
        let update = self.set_and_remove(
            keys::workload_trust(&after.org_id, &after.id),
            &fields,
            remove,
            "attribute_exists(PK) AND #ver = :v",
            names,
            values,
        )?;
        let mut actions = vec![
            Guarded::guarding(update_action(update), TrustWriteRefused::TrustMoved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        let issuer_moved = before.issuer != after.issuer;
        for audience in &before.audiences {
            if issuer_moved || !after.audiences.contains(audience) {
                actions.push(self.release_audience(before, audience)?);
            }
        }
        for (i, audience) in after.audiences.iter().enumerate() {
            actions.push(self.claim_audience(after, audience, i)?);
        }
        self.transact_guarded(actions, &[]).await
    }

    /// Deletes a trust at `trust.version` (else `TrustMoved`), its audience items, and one from the
    /// org's count.
    pub async fn delete_trust(
        &self,
        trust: &WorkloadTrust,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<TrustWriteRefused>> {
        let delete = build(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::workload_trust(&trust.org_id, &trust.id))))
                .condition_expression("attribute_exists(PK) AND #ver = :v")
                .expression_attribute_names("#ver", attr::VERSION)
                .expression_attribute_values(":v", n(trust.version))
                .build(),
        )?;
        let mut actions = vec![
            Guarded::guarding(delete_action(delete), TrustWriteRefused::TrustMoved),
            Guarded::unguarded(update_action(self.count_trusts(&trust.org_id, -1, 0)?)),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        for audience in &trust.audiences {
            actions.push(self.release_audience(trust, audience)?);
        }
        self.transact_guarded(actions, &[]).await
    }

    /// The trusts that accept `issuer`'s tokens for any of `audiences`, strongly consistent, in one
    /// round trip (`BatchGetItem` of their audience items): a token exchange's one read of its trust.
    pub async fn find_trusts(&self, issuer: &str, audiences: &[String]) -> Result<Vec<WorkloadTrust>, StoreError> {
        let mut unique: Vec<&String> = audiences.iter().collect();
        unique.sort();
        unique.dedup();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let mut wanted = KeysAndAttributes::builder().consistent_read(true);
        for audience in unique {
            wanted = wanted.keys(key_of(keys::trust_audience(issuer, audience)));
        }
        let mut request = HashMap::from([(self.table.clone(), build(wanted.build())?)]);
        let mut found = Vec::new();
        for attempt in 0..3u64 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
            }
            let out = self.client.batch_get_item().set_request_items(Some(request)).send().await.map_err(classify)?;
            for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                found.push(from_attributes::<WorkloadTrust>(item)?);
            }
            match out.unprocessed_keys.filter(|u| !u.is_empty()) {
                Some(unprocessed) => request = unprocessed,
                None => return Ok(found),
            }
        }
        Err(StoreError::Unavailable(anyhow!("the batch read left keys unprocessed")))
    }

    /// Records a token the trust accepted: its `lastUsedAt` and `lastUsedSubject`, and the audit
    /// event naming the external issuer and subject, in one transaction. `false`: the trust was
    /// deleted meanwhile, and nothing is written.
    pub async fn note_trust_use(
        &self,
        trust: &WorkloadTrust,
        subject: &str,
        at: Timestamp,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let update = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::workload_trust(&trust.org_id, &trust.id))))
                .update_expression("SET #at = :at, #sub = :sub")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#at", attr::LAST_USED_AT)
                .expression_attribute_names("#sub", attr::LAST_USED_SUBJECT)
                .expression_attribute_values(":at", s(at.to_string()))
                .expression_attribute_values(":sub", s(subject))
                .build(),
        )?;
        let actions =
            vec![Guarded::guarding(update_action(update), ()), Guarded::unguarded(self.put_new(audit_item(audit)?)?)];
        match self.transact_guarded(actions, &[]).await {
            Ok(()) => Ok(true),
            Err(WriteError::Violated(())) => Ok(false),
            Err(WriteError::Contention) => Err(StoreError::Contention),
            Err(WriteError::Unavailable(e)) => Err(StoreError::Unavailable(e)),
            Err(WriteError::Other(e)) => Err(StoreError::Other(e)),
        }
    }
}
