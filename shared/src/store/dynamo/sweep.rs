//! The expiry sweep's state and its reads of the expiry index.

use super::*;

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

    /// A page of the Active credentials of one expiry-index hour whose expiry is at or before `now`
    /// (GSI2, sparse: only Active credentials with an expiry are in it).
    pub async fn expired_in_hour(
        &self,
        hour_bucket: &str,
        now: Timestamp,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<CredentialRecord>, StoreError> {
        let spec = QuerySpec {
            index: Some(keys::GSI2),
            pk_name: keys::GSI2PK,
            pk: keys::expiry_bucket(hour_bucket),
            sk_name: keys::GSI2SK,
            sk_prefix: String::new(),
            newest_first: false,
            // `~` sorts after every key-id character, so every key id of this second is included.
            sk_upto: Some(format!("{now}#~")),
        };
        let page = self.query(&spec, limit, start, false).await?;
        let items = page.items.into_iter().map(Self::credential_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }
}
