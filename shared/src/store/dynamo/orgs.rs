//! Organisations: their record and settings, and the audit log.

use super::*;
use crate::store::Moved;

impl DynamoStore {
    /// Creates an org (never overwrites one), with its audit event.
    pub async fn create_org(&self, org: &OrgRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        let item = Stored::new(keys::org(&org.id), org).item()?;
        self.transact(vec![self.put_new(item)?, self.put_new(audit_item(audit)?)?], &[]).await
    }

    /// The org's record; eventually consistent (settings are cached for up to a minute anyway).
    pub async fn get_org(&self, org: &OrgId) -> Result<Option<OrgRecord>, StoreError> {
        self.get(keys::org(org), false).await?.map(from_attributes).transpose()
    }

    /// A principal and its org's record, both strongly consistent, in one round trip: what a
    /// container's first verification of a key reads once the secret has verified.
    pub async fn get_principal_and_org(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
    ) -> Result<(Option<PrincipalRecord>, Option<OrgRecord>), StoreError> {
        let (principal, org) = self.get_two(keys::principal(org, principal), keys::org(org)).await?;
        Ok((principal.map(Self::principal_from).transpose()?, org.map(from_attributes).transpose()?))
    }

    /// Writes one audit event on its own (a read that must be audited, not a change).
    pub async fn put_audit(&self, audit: &AuditEvent) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(audit)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// The org's record, strongly consistent (for reads that precede a write).
    pub async fn get_org_consistent(&self, org: &OrgId) -> Result<Option<OrgRecord>, StoreError> {
        self.get(keys::org(org), true).await?.map(from_attributes).transpose()
    }

    /// Replaces the org's settings if its version is still `before.version`, with the audit event.
    pub async fn update_settings(
        &self,
        before: &OrgRecord,
        settings: &OrgSettings,
        audit: &AuditEvent,
    ) -> Result<(), WriteError<Moved>> {
        let settings = serde_dynamo::to_attribute_value(settings)
            .map_err(|e| StoreError::Other(anyhow!("serialise settings: {e}")))?;
        let set =
            HashMap::from([(attr::SETTINGS.to_string(), settings), (attr::VERSION.to_string(), n(before.version + 1))]);
        let update = self.set_and_remove(
            keys::org(&before.id),
            &set,
            &[],
            "#ver = :v",
            HashMap::from([("#ver".into(), attr::VERSION.into())]),
            HashMap::from([(":v".into(), n(before.version))]),
        )?;
        let actions = vec![
            Guarded::guarding(update_action(update), Moved::Moved),
            Guarded::unguarded(self.put_new(audit_item(audit)?)?),
        ];
        self.transact_guarded(actions, &[Change::Settings { org: before.id.clone() }]).await
    }

    /// A page of the org's audit events, newest first: each shard read newest first from the
    /// cursor's event on (at most `limit` from each), merged by event id (ULIDs sort by time). The
    /// page key is the last event's sort key, which every shard continues from.
    pub async fn list_audit_events(
        &self,
        org: &OrgId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let after = start.as_ref().and_then(|k| k.get(keys::SK)).cloned();
        let mut items = Vec::new();
        let mut more = false;
        for shard in 0..keys::AUDIT_SHARDS {
            let (pk, prefix) = keys::audit_events_of(org, shard);
            let start =
                after.as_ref().map(|sk| PageKey::from([(keys::PK.into(), pk.clone()), (keys::SK.into(), sk.clone())]));
            let spec = QuerySpec { newest_first: true, ..QuerySpec::base(pk, prefix) };
            let page = self.query(&spec, limit, start, false).await?;
            more |= page.next.is_some();
            items.extend(page.items);
        }
        let sort_key = |item: &Item| match item.get(keys::SK) {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => String::new(),
        };
        items.sort_by_key(|item| std::cmp::Reverse(sort_key(item)));
        more |= items.len() > limit;
        items.truncate(limit);
        let next = match items.last() {
            Some(last) if more => Some(PageKey::from([(keys::SK.to_string(), sort_key(last))])),
            _ => None,
        };
        Ok(Page { items: items.into_iter().map(from_attributes).collect::<Result<_, _>>()?, next })
    }
}
