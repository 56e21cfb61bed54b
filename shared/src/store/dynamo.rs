//! The DynamoDB adapter: the only module that imports `aws_sdk_dynamodb`. Every multi-item write is
//! one `TransactWriteItems`; every invariant is a condition expression.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CredentialRecord, OrgRecord, Page, PageKey, PrincipalRecord, PrincipalState, StoreError, keys};
use crate::domain::{
    AuditEvent, Credential, CredentialStatus, CredentialStatusFilter, KeyId, OrgId, Principal, PrincipalId,
    PrincipalStatus, Timestamp,
};

type Item = HashMap<String, AttributeValue>;

/// Counts (and names) the DynamoDB requests a client sends, retries included; for tests and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    names: Arc<std::sync::Mutex<Vec<String>>>,
}

impl CallCounter {
    /// Requests sent so far.
    pub fn count(&self) -> usize {
        self.names.lock().expect("counter lock").len()
    }

    /// Their operation names, in order (`GetItem`, `TransactWriteItems`, …).
    pub fn names(&self) -> Vec<String> {
        self.names.lock().expect("counter lock").clone()
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        self.names.lock().expect("counter lock").clear();
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB's JSON protocol names the operation in X-Amz-Target: `DynamoDB_20120810.GetItem`.
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let name = target.rsplit('.').next().unwrap_or(target).to_string();
        self.names.lock().expect("counter lock").push(name);
        Ok(())
    }
}

/// The table, through the AWS SDK.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A serde value as item attributes; unset (`None`) fields are left out rather than stored as NULL,
/// so `attribute_not_exists` means what it says.
fn to_attributes<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Other(anyhow!("serialise item: {e}")))?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    Ok(item)
}

fn from_attributes<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(anyhow!("deserialise item: {e}")))
}

fn with_key(mut item: Item, (pk, sk): (String, String)) -> Item {
    item.insert(keys::PK.into(), s(pk));
    item.insert(keys::SK.into(), s(sk));
    item
}

fn key_of((pk, sk): (String, String)) -> Item {
    HashMap::from([(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))])
}

fn audit_item(event: &AuditEvent) -> Result<Item, StoreError> {
    Ok(with_key(to_attributes(event)?, keys::audit_event(&event.org_id, &event.id)))
}

/// Classifies an SDK error by what the caller can do about it.
fn classify<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(anyhow!(err))
        }
        SdkError::ServiceError(service) => {
            let transient = service.raw().status().is_server_error();
            match service.err().code() {
                Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
                Some("TransactionConflictException" | "TransactionInProgressException") => StoreError::Contention,
                Some(
                    "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "LimitExceededException"
                    | "InternalServerError"
                    | "ServiceUnavailable",
                ) => StoreError::Unavailable(anyhow!(err)),
                _ if transient => StoreError::Unavailable(anyhow!(err)),
                _ => StoreError::Other(anyhow!(err)),
            }
        }
        _ => StoreError::Other(anyhow!(err)),
    }
}

/// A cancelled transaction says why per item: a failed condition wins, then conflict, then throttling.
fn classify_transaction(err: SdkError<TransactWriteItemsError, HttpResponse>) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
        let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
        if codes.contains(&"ConditionalCheckFailed") {
            return StoreError::ConditionFailed;
        }
        if codes.contains(&"TransactionConflict") {
            return StoreError::Contention;
        }
        if codes.iter().any(|c| c.contains("Throttl") || *c == "ProvisionedThroughputExceeded") {
            return StoreError::Unavailable(anyhow!("transaction throttled: {codes:?}"));
        }
    }
    classify(err)
}

fn build<T, E: std::error::Error + Send + Sync + 'static>(built: Result<T, E>) -> Result<T, StoreError> {
    built.map_err(|e| StoreError::Other(anyhow!(e).context("build request")))
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The SDK client (the admin CLI creates tables with it).
    pub fn client(&self) -> &Client {
        &self.client
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

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        debug_assert!(items.len() <= 100, "TransactWriteItems takes at most 100 actions");
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(classify_transaction)?;
        Ok(())
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

    // ---- organisations -------------------------------------------------------------------------

    /// Creates an org (never overwrites one), with its audit event.
    pub async fn create_org(&self, org: &OrgRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        let item = with_key(to_attributes(org)?, keys::org(&org.id));
        self.transact(vec![self.put_new(item)?, self.put_new(audit_item(audit)?)?]).await
    }

    /// The org's record; eventually consistent (settings are cached for up to a minute anyway).
    pub async fn get_org(&self, org: &OrgId) -> Result<Option<OrgRecord>, StoreError> {
        self.get(keys::org(org), false).await?.map(from_attributes).transpose()
    }

    // ---- principals ----------------------------------------------------------------------------

    fn principal_item(&self, record: &PrincipalRecord) -> Result<Item, StoreError> {
        let p = &record.principal;
        let mut item = with_key(to_attributes(p)?, keys::principal(&p.org_id, &p.id));
        let (gpk, gsk) = keys::principal_by_status(&p.org_id, p.status, &p.id);
        item.insert(keys::GSI1PK.into(), s(gpk));
        item.insert(keys::GSI1SK.into(), s(gsk));
        if !record.active_key_ids.is_empty() {
            item.insert(
                "activeKeyIds".into(),
                AttributeValue::Ss(record.active_key_ids.iter().map(|k| k.to_string()).collect()),
            );
        }
        item.insert("credentialsVersion".into(), n(record.credentials_version));
        Ok(item)
    }

    fn principal_from(mut item: Item) -> Result<PrincipalRecord, StoreError> {
        let active_key_ids = match item.remove("activeKeyIds") {
            Some(AttributeValue::Ss(ids)) => ids
                .iter()
                .map(|id| KeyId::parse(id).map_err(|e| StoreError::Other(anyhow!(e))))
                .collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        let credentials_version = match item.remove("credentialsVersion") {
            Some(AttributeValue::N(v)) => {
                v.parse().map_err(|e| StoreError::Other(anyhow!("credentialsVersion: {e}")))?
            }
            _ => 0,
        };
        Ok(PrincipalRecord { principal: from_attributes(item)?, active_key_ids, credentials_version })
    }

    /// Creates a principal (never overwrites), with its audit event.
    pub async fn create_principal(&self, principal: &Principal, audit: &AuditEvent) -> Result<(), StoreError> {
        let record =
            PrincipalRecord { principal: principal.clone(), active_key_ids: Vec::new(), credentials_version: 0 };
        self.transact(vec![self.put_new(self.principal_item(&record)?)?, self.put_new(audit_item(audit)?)?]).await
    }

    /// One principal, strongly consistent (it guards every write that follows).
    pub async fn get_principal(&self, org: &OrgId, id: &PrincipalId) -> Result<Option<PrincipalRecord>, StoreError> {
        self.get(keys::principal(org, id), true).await?.map(Self::principal_from).transpose()
    }

    /// Replaces a principal if neither it nor its set of credentials changed since `before` was
    /// read, and copies its new state onto each Active credential, all in one transaction.
    pub async fn update_principal(
        &self,
        before: &PrincipalRecord,
        after: &Principal,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let record = PrincipalRecord {
            principal: after.clone(),
            active_key_ids: before.active_key_ids.clone(),
            credentials_version: before.credentials_version,
        };
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.principal_item(&record)?))
                .condition_expression("version = :v AND credentialsVersion = :cv")
                .expression_attribute_values(":v", n(before.principal.version))
                .expression_attribute_values(":cv", n(before.credentials_version))
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().put(put).build(), self.put_new(audit_item(audit)?)?];
        let state = PrincipalState::of(after);
        if state != PrincipalState::of(&before.principal) {
            let state_item = to_attributes(&state)?;
            for key_id in &before.active_key_ids {
                let mut names = HashMap::new();
                let mut values = HashMap::new();
                let mut sets = Vec::new();
                let mut removes = Vec::new();
                for field in ["principalType", "principalStatus", "principalExpiresAt"] {
                    names.insert(format!("#{field}"), field.to_string());
                    match state_item.get(field) {
                        Some(v) => {
                            values.insert(format!(":{field}"), v.clone());
                            sets.push(format!("#{field} = :{field}"));
                        }
                        None => removes.push(format!("#{field}")),
                    }
                }
                let mut expression = format!("SET {}", sets.join(", "));
                if !removes.is_empty() {
                    expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
                }
                let update = build(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_of(keys::credential(key_id))))
                        .update_expression(expression)
                        .condition_expression("attribute_exists(PK)")
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values))
                        .build(),
                )?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
        }
        self.transact(items).await
    }

    /// API-key principals of an org, oldest first; by status through GSI1 (eventually consistent),
    /// otherwise from the base table (strongly consistent).
    pub async fn list_principals(
        &self,
        org: &OrgId,
        status: Option<PrincipalStatus>,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Principal>, StoreError> {
        let query = match status {
            None => {
                let (pk, prefix) = keys::api_key_principals(org);
                QuerySpec { index: None, pk_name: keys::PK, pk, sk_name: keys::SK, sk_prefix: prefix.to_string() }
            }
            Some(status) => QuerySpec {
                index: Some(keys::GSI1),
                pk_name: keys::GSI1PK,
                pk: keys::principals_by_status_pk(org),
                sk_name: keys::GSI1SK,
                sk_prefix: keys::principal_status_prefix(status),
            },
        };
        let page = self.query(&query, limit, start, true).await?;
        let items =
            page.items.into_iter().map(|i| Self::principal_from(i).map(|r| r.principal)).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    // ---- credentials ---------------------------------------------------------------------------

    fn credential_item(
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

    fn credential_from(mut item: Item) -> Result<CredentialRecord, StoreError> {
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
        };
        let page = self.query(&query, limit, start, false).await?;
        let items = page.items.into_iter().map(Self::credential_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Marks a credential ended (`Revoked` or `Expired`), leaves the expiry index, starts its
    /// retention clock and drops it from its principal's Active set, with the audit event.
    /// Refused if the credential's status moved since it was read.
    pub async fn end_credential(
        &self,
        before: &CredentialRecord,
        after: &Credential,
        retention_until: Timestamp,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let record = CredentialRecord { credential: after.clone(), ..before.clone() };
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.credential_item(&record, Some(retention_until))?))
                .condition_expression("#status = :before")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":before", s(before.credential.status.as_str()))
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().put(put).build(), self.put_new(audit_item(audit)?)?];
        if before.credential.status == CredentialStatus::Active {
            let update = build(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(keys::principal(&before.org_id, &before.credential.principal_id))))
                    .update_expression("DELETE activeKeyIds :k ADD credentialsVersion :one")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":k", AttributeValue::Ss(vec![before.credential.id.to_string()]))
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
            .set_exclusive_start_key(start.map(|k| k.into_iter().map(|(k, v)| (k, s(v))).collect()));
        request = if spec.sk_prefix.is_empty() {
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

struct QuerySpec {
    index: Option<&'static str>,
    pk_name: &'static str,
    pk: String,
    sk_name: &'static str,
    sk_prefix: String,
}
