//! The outbox of lifecycle events: audit items that carry an unpublished event are in the sparse
//! GSI3 (`OUTBOX#<shard>`) until the drain has published them.

use super::*;

impl DynamoStore {
    /// Up to `limit` unpublished events of one outbox shard, oldest first (GSI3: eventually
    /// consistent, so an event written a moment ago may wait for the next drain).
    pub async fn pending_events(&self, shard: u32, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let spec = QuerySpec {
            index: Some(keys::GSI3),
            pk_name: keys::GSI3PK,
            pk: keys::outbox_shard(shard),
            sk_name: keys::GSI3SK,
            sk_prefix: String::new(),
            newest_first: false,
            sk_upto: None,
            sk_after: None,
        };
        let page = self.query(&spec, limit, None, false).await?;
        page.items.into_iter().map(from_attributes).collect()
    }

    /// Takes a published event out of the outbox (the audit event stays). Taking out one already
    /// taken out (by a concurrent drain) is not an error.
    pub async fn mark_published(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::audit_event(&event.org_id, &event.id))))
            .update_expression("REMOVE #pk, #sk")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::GSI3PK)
            .expression_attribute_names("#sk", keys::GSI3SK)
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
