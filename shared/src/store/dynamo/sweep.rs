//! The expiry sweep's state and its reads of the expiry index.

use super::*;
use crate::store::Moved;

impl DynamoStore {
    /// The last hour (epoch hours) the sweep finished, strongly consistent.
    pub async fn sweep_cursor(&self) -> Result<Option<i64>, StoreError> {
        let Some(item) = self.get(keys::sweep_state(), true).await? else { return Ok(None) };
        Ok(Some(from_attributes::<SweepState>(item)?.swept_through_hour))
    }

    /// Records that every hour up to `hour` is swept; never moves backwards (two concurrent
    /// sweeps cannot undo each other).
    pub async fn set_sweep_cursor(&self, hour: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::sweep_state())))
            .update_expression("SET #h = :h")
            .condition_expression("attribute_not_exists(#h) OR #h < :h")
            .expression_attribute_names("#h", attr::SWEPT_THROUGH_HOUR)
            .expression_attribute_values(":h", n(hour))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A page of the Active credentials of one shard of one expiry-index hour whose expiry is at or
    /// before `now` (GSI2, sparse: only Active credentials with an expiry are in it).
    pub async fn expired_in_hour(
        &self,
        hour_bucket: &str,
        shard: u32,
        now: Timestamp,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<CredentialRecord>, StoreError> {
        let spec = QuerySpec {
            index: Some(keys::GSI2),
            pk_name: keys::GSI2PK,
            pk: keys::expiry_bucket(hour_bucket, shard),
            sk_name: keys::GSI2SK,
            sk_prefix: String::new(),
            newest_first: false,
            // `~` sorts after every key-id character, so every key id of this second is included.
            sk_upto: Some(format!("{now}#~")),
            sk_after: None,
        };
        let page = self.query(&spec, limit, start, false).await?;
        let items = page.items.into_iter().map(Self::credential_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// A page of the Active credentials of one shard of one expiry-index hour expiring in `(after, upto]`.
    pub async fn expiring_in_hour(
        &self,
        hour_bucket: &str,
        shard: u32,
        after: Timestamp,
        upto: Timestamp,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<CredentialRecord>, StoreError> {
        let spec = QuerySpec {
            index: Some(keys::GSI2),
            pk_name: keys::GSI2PK,
            pk: keys::expiry_bucket(hour_bucket, shard),
            sk_name: keys::GSI2SK,
            sk_prefix: String::new(),
            newest_first: false,
            // `~` sorts after every key-id character: the keys of second `after` are excluded,
            // those of second `upto` included.
            sk_upto: Some(format!("{upto}#~")),
            sk_after: Some(format!("{after}#~")),
        };
        let page = self.query(&spec, limit, start, false).await?;
        let items = page.items.into_iter().map(Self::credential_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Until when the `days`-before-expiry warnings have been given (strongly consistent).
    pub async fn warned_through(&self, days: u32) -> Result<Option<Timestamp>, StoreError> {
        let Some(item) = self.get(keys::warning_state(days), true).await? else { return Ok(None) };
        Ok(Some(from_attributes::<WarningState>(item)?.warned_through))
    }

    /// Records that every credential expiring up to `through` has had its `days` warning; never
    /// moves backwards.
    pub async fn set_warned_through(&self, days: u32, through: Timestamp) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::warning_state(days))))
            .update_expression("SET #w = :w")
            .condition_expression("attribute_not_exists(#w) OR #w < :w")
            .expression_attribute_names("#w", attr::WARNED_THROUGH)
            .expression_attribute_values(":w", s(through.to_string()))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Notes on the credential that its `days` warning was given, with the audit event that
    /// publishes it; refused (`VersionMoved`) unless it is still Active with the expiry read and
    /// has had no warning as close (so a warning is published once, whichever sweep gets there).
    pub async fn note_expiry_warning(
        &self,
        record: &CredentialRecord,
        days: u32,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<Moved>> {
        let c = &record.credential;
        let expires_at = c.expires_at.ok_or_else(|| StoreError::Other(anyhow!("a warning for no expiry")))?;
        let update = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::credential(&c.id))))
                .update_expression("SET #warned = :d")
                .condition_expression(
                    "#st = :active AND #exp = :exp AND (attribute_not_exists(#warned) OR #warned > :d)",
                )
                .expression_attribute_names("#warned", attr::EXPIRY_WARNED_DAYS)
                .expression_attribute_names("#st", attr::STATUS)
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_values(":d", n(days))
                .expression_attribute_values(":active", s(CredentialStatus::Active.as_str()))
                .expression_attribute_values(":exp", s(expires_at.to_string()))
                .build(),
        )?;
        let actions = vec![
            Guarded::guarding(update_action(update), Moved::Moved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[]).await
    }
}
