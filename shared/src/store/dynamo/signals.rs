//! Lifecycle events raised by what the containers counted (a principal hitting its rate limit
//! repeatedly, a key failing repeatedly from a new address): each at most once per hour per
//! principal, guarded by a marker item written in the same transaction as its audit event.

use super::*;

/// The marker of this hour's event of its kind was already written: nothing was.
#[derive(Debug)]
pub enum AlreadyPublished {
    ThisHour,
}

impl DynamoStore {
    /// Writes `audit` (which carries its lifecycle event) unless an event of `kind` about its
    /// principal was written this `hour`: a marker (kept two hours) and the audit event in one
    /// transaction. Answers whether it was written.
    pub async fn publish_hourly(&self, kind: &str, hour: i64, audit: &AuditEvent) -> Result<bool, StoreError> {
        let principal = audit.event.as_ref().map(|e| e.principal_id.to_string()).unwrap_or_default();
        let marker: Item = HashMap::from([
            (keys::PK.to_string(), s(format!("SIGNAL#{}#{principal}", audit.org_id))),
            (keys::SK.to_string(), s(format!("{kind}#{hour}"))),
            (keys::TTL.to_string(), n(hour + 7200)),
        ]);
        let actions = vec![
            Guarded::guarding(self.put_new(marker)?, AlreadyPublished::ThisHour),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        match self.transact_guarded(actions, &[]).await {
            Ok(()) => Ok(true),
            Err(WriteError::Violated(AlreadyPublished::ThisHour)) => Ok(false),
            Err(WriteError::Contention) => Err(StoreError::Contention),
            Err(WriteError::Unavailable(e)) => Err(StoreError::Unavailable(e)),
            Err(WriteError::Other(e)) => Err(StoreError::Other(e)),
        }
    }
}
