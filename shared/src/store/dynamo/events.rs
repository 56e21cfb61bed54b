//! The outbox of lifecycle events: audit items that carry an unpublished event are in the sparse
//! GSI3 (`OUTBOX#<shard>`) until the drain has published them.

use super::*;

impl DynamoStore {
    /// A page of unpublished events of one outbox shard, oldest first, from `start` (GSI3:
    /// eventually consistent, so an event written a moment ago may wait for the next drain). An
    /// entry that does not decode is left out, logged, and stays in the outbox.
    pub async fn pending_events(
        &self,
        shard: u32,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<AuditEvent>, StoreError> {
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
        let page = self.query(&spec, limit, start, false).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for item in page.items {
            let key = item.get(keys::SK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            match from_attributes::<AuditEvent>(item) {
                Ok(event) => items.push(event),
                Err(err) => {
                    tracing::error!(audit_key = key, error = %err, "an outbox entry does not decode; left in the outbox")
                }
            }
        }
        Ok(Page { items, next: page.next })
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
