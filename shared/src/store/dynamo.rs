//! The DynamoDB adapter: the only module that imports `aws_sdk_dynamodb`. Every multi-item write is
//! one `TransactWriteItems`; every invariant is a condition expression.

use std::collections::HashMap;

use anyhow::{Context, anyhow};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use self::codec::{
    audit_item, build, classify, classify_transaction, dummy_record, from_attributes, item_json, key_of, n, s,
    to_attributes,
};
use self::items::{MemberSubjectGuard, RoleNameGuard, RoleRecord, Stored, SubjectMembership, SweepState, WarningState};
use super::keys::attr;
use super::{
    Assignment, Change, ChangeObserver, CredentialRecord, Membership, OrgRecord, Page, PageKey, PrincipalRecord,
    StoreError, WriteError, keys,
};
use crate::domain::{
    AuditEvent, Credential, CredentialStatus, CredentialStatusFilter, KeyId, OrgId, OrgSettings, Principal,
    PrincipalId, PrincipalStatus, PrincipalType, Role, RoleId, Timestamp,
};

mod codec;
mod credentials;
mod events;
mod items;
mod members;
mod org_usage;
mod orgs;
mod principals;
mod rate_limits;
mod report;
mod roles;
mod signals;
mod sweep;
#[cfg(feature = "test-util")]
mod test_support;
mod trusts;
mod usage;
pub use rate_limits::Lease;
#[cfg(feature = "test-util")]
pub use test_support::CallCounter;

type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit on the actions of one `TransactWriteItems`.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;

/// One action of a transaction and the invariant its condition guards (`None`: a condition that
/// cannot fail in practice, such as a new ULID's `attribute_not_exists`). A refused transaction
/// is named by the action that failed, whatever its position.
pub(crate) struct Guarded<V> {
    action: TransactWriteItem,
    guards: Option<Guard<V>>,
}

/// What a failed condition means: always the same invariant, or one read off the item as it was.
enum Guard<V> {
    Always(V),
    FromOld(fn(Option<&Item>) -> V),
}

impl<V> Guarded<V> {
    fn guarding(action: TransactWriteItem, invariant: V) -> Self {
        Self { action, guards: Some(Guard::Always(invariant)) }
    }

    fn unguarded(action: TransactWriteItem) -> Self {
        Self { action, guards: None }
    }

    fn guarding_with(action: TransactWriteItem, name: fn(Option<&Item>) -> V) -> Self {
        Self { action, guards: Some(Guard::FromOld(name)) }
    }
}

fn update_action(update: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(update).build()
}

fn delete_action(delete: Delete) -> TransactWriteItem {
    TransactWriteItem::builder().delete(delete).build()
}

/// The table, through the AWS SDK.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Told of every committed write's changes (the container's caches).
    observer: Option<std::sync::Arc<dyn ChangeObserver>>,
    /// A credential item of the usual shape, decoded when a key id is unknown so that path does
    /// the work a found credential costs (see `decode_dummy_credential`).
    dummy_credential: Item,
    /// The same item as the GetItem response body the SDK would have parsed.
    dummy_response: String,
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let mut store = Self {
            client,
            table: table.into(),
            observer: None,
            dummy_credential: Item::new(),
            dummy_response: String::new(),
        };
        store.dummy_credential = store.credential_item(&dummy_record(), None).unwrap_or_default();
        store.dummy_response = serde_json::json!({ "Item": item_json(&store.dummy_credential) }).to_string();
        store
    }

    /// The same store, telling `observer` what each committed write changed.
    pub fn observed_by(mut self, observer: std::sync::Arc<dyn ChangeObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Tells the observer what a committed write changed.
    fn committed(&self, changes: &[Change]) {
        if let Some(observer) = &self.observer {
            for change in changes {
                observer.changed(change);
            }
        }
    }

    /// Decodes a representative credential item and throws it away: an unknown key id spends
    /// what decoding a found credential spends, so the two cannot be told apart by time.
    pub fn decode_dummy_credential(&self) {
        let _ = std::hint::black_box(serde_json::from_str::<serde::de::IgnoredAny>(&self.dummy_response));
        let _ = std::hint::black_box(Self::credential_from(self.dummy_credential.clone()));
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(String::from))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        self.put(item, Some("attribute_not_exists(PK)"))
    }

    /// One transaction of unconditional (or never-failing) actions; then the observer is told.
    async fn transact(&self, items: Vec<TransactWriteItem>, changes: &[Change]) -> Result<(), StoreError> {
        let guarded = items.into_iter().map(Guarded::<std::convert::Infallible>::unguarded).collect();
        self.transact_guarded(guarded, changes).await.map_err(|err| match err {
            WriteError::Violated(never) => match never {},
            WriteError::Contention => StoreError::Contention,
            WriteError::Unavailable(e) => StoreError::Unavailable(e),
            WriteError::Other(e) => StoreError::Other(e),
        })
    }

    /// One transaction; a refusal names the invariant guarded by the action whose condition failed
    /// (from the item as it was, where the action asked for it with
    /// `ReturnValuesOnConditionCheckFailure`). On commit the observer is told `changes`.
    async fn transact_guarded<V: std::fmt::Debug>(
        &self,
        actions: Vec<Guarded<V>>,
        changes: &[Change],
    ) -> Result<(), WriteError<V>> {
        if actions.len() > MAX_TRANSACTION_ACTIONS {
            return Err(WriteError::Other(anyhow!(
                "a transaction of {} actions: DynamoDB takes at most {MAX_TRANSACTION_ACTIONS}",
                actions.len()
            )));
        }
        let (items, mut guards): (Vec<_>, Vec<_>) = actions.into_iter().map(|a| (a.action, a.guards)).unzip();
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Err(err) = result else {
            self.committed(changes);
            return Ok(());
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
            let failed = cancelled
                .cancellation_reasons()
                .iter()
                .enumerate()
                .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"));
            if let Some((i, reason)) = failed {
                return match guards.get_mut(i).and_then(Option::take) {
                    Some(Guard::Always(invariant)) => Err(WriteError::Violated(invariant)),
                    Some(Guard::FromOld(name)) => Err(WriteError::Violated(name(reason.item()))),
                    None => Err(WriteError::Other(anyhow!("the condition of unguarded action {i} failed"))),
                };
            }
        }
        Err(classify_transaction(err).into())
    }

    async fn get(&self, key: (String, String), consistent: bool) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    // ---- queries ---------------------------------------------------------------------------------

    /// One page of a key-prefix query. Asks for one item more than the page so that the last page
    /// says so (`next: None`) instead of sending the client to an empty page.
    async fn query(
        &self,
        spec: &QuerySpec,
        limit: usize,
        start: Option<PageKey>,
        consistent: bool,
    ) -> Result<Page<Item>, StoreError> {
        if let Some(start) = &start
            && start.get(spec.pk_name) != Some(&spec.pk)
        {
            return Err(StoreError::Other(anyhow!("a page key from another partition reached the store")));
        }
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(spec.index.map(String::from))
            .expression_attribute_names("#pk", spec.pk_name)
            .expression_attribute_values(":pk", s(&spec.pk))
            .limit(i32::try_from(limit + 1).context("page size").map_err(StoreError::Other)?)
            .consistent_read(consistent && spec.index.is_none())
            .scan_index_forward(!spec.newest_first)
            .set_exclusive_start_key(start.map(|k| k.into_iter().map(|(k, v)| (k, s(v))).collect()));
        request = if let (Some(after), Some(upto)) = (&spec.sk_after, &spec.sk_upto) {
            request
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :after AND :upto")
                .expression_attribute_names("#sk", spec.sk_name)
                .expression_attribute_values(":after", s(after))
                .expression_attribute_values(":upto", s(upto))
        } else if let Some(upto) = &spec.sk_upto {
            request
                .key_condition_expression("#pk = :pk AND #sk <= :upto")
                .expression_attribute_names("#sk", spec.sk_name)
                .expression_attribute_values(":upto", s(upto))
        } else if spec.sk_prefix.is_empty() {
            request.key_condition_expression("#pk = :pk")
        } else {
            request
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", spec.sk_name)
                .expression_attribute_values(":prefix", s(&spec.sk_prefix))
        };
        let out = request.send().await.map_err(classify)?;
        let mut items = out.items.unwrap_or_default();
        let mut next = None;
        if items.len() > limit {
            items.truncate(limit);
            let last = items.last().expect("limit is at least one");
            let mut key = PageKey::new();
            for name in [keys::PK, keys::SK, spec.pk_name, spec.sk_name] {
                if let Some(AttributeValue::S(v)) = last.get(name) {
                    key.insert(name.to_string(), v.clone());
                }
            }
            next = Some(key);
        }
        Ok(Page { items, next })
    }
}

impl DynamoStore {
    /// Every item of a key-prefix query, read a page of 100 at a time (for the small, bounded sets:
    /// an org's custom roles, a subject's memberships).
    async fn query_all(&self, spec: &QuerySpec, consistent: bool) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self.query(spec, 100, start, consistent).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }
}

impl QuerySpec {
    /// Oldest first, on the base table: partition `pk`, sort keys beginning `prefix`.
    fn base(pk: String, prefix: impl Into<String>) -> Self {
        Self {
            newest_first: false,
            sk_upto: None,
            sk_after: None,
            index: None,
            pk_name: keys::PK,
            pk,
            sk_name: keys::SK,
            sk_prefix: prefix.into(),
        }
    }
}

struct QuerySpec {
    /// Newest (highest sort key) first.
    newest_first: bool,
    /// Sort keys up to and including this one (instead of a prefix).
    sk_upto: Option<String>,
    /// With `sk_upto`: sort keys after this one (inclusive, as DynamoDB's BETWEEN is).
    sk_after: Option<String>,
    index: Option<&'static str>,
    pk_name: &'static str,
    pk: String,
    sk_name: &'static str,
    sk_prefix: String,
}
