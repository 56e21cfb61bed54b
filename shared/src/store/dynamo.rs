//! The DynamoDB adapter: the only module that imports `aws_sdk_dynamodb`. Every multi-item write is
//! one `TransactWriteItems`; every invariant is a condition expression.

use std::collections::HashMap;

use anyhow::{Context, anyhow};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Assignment, CredentialRecord, OrgRecord, Page, PageKey, PrincipalRecord, PrincipalState, StoreError, keys,
};
use crate::domain::{
    AuditEvent, Credential, CredentialStatus, CredentialStatusFilter, KeyId, OrgId, OrgSettings, Principal,
    PrincipalId, PrincipalStatus, PrincipalType, Role, RoleId, Timestamp,
};

#[cfg(feature = "test-util")]
mod test_support;
#[cfg(feature = "test-util")]
pub use test_support::CallCounter;

type Item = HashMap<String, AttributeValue>;

/// The table, through the AWS SDK.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// A credential item of the usual shape, decoded when a key id is unknown so that path does
    /// the work a found credential costs (see `decode_dummy_credential`).
    dummy_credential: Item,
    /// The same item as the GetItem response body the SDK would have parsed.
    dummy_response: String,
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

/// An item in DynamoDB's JSON wire form (the attribute types this service stores).
fn item_json(item: &Item) -> serde_json::Value {
    fn value(v: &AttributeValue) -> serde_json::Value {
        match v {
            AttributeValue::S(s) => serde_json::json!({ "S": s }),
            AttributeValue::N(n) => serde_json::json!({ "N": n }),
            AttributeValue::Bool(b) => serde_json::json!({ "BOOL": b }),
            AttributeValue::Ss(ss) => serde_json::json!({ "SS": ss }),
            AttributeValue::M(m) => serde_json::json!({ "M": item_json(m) }),
            AttributeValue::L(l) => serde_json::json!({ "L": l.iter().map(value).collect::<Vec<_>>() }),
            _ => serde_json::json!({ "NULL": true }),
        }
    }
    serde_json::Value::Object(item.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

fn dummy_record() -> CredentialRecord {
    let t = Timestamp::from_unix(1_800_000_000);
    CredentialRecord {
        credential: Credential {
            id: KeyId::parse("dummydummydummydummy").expect("a well-formed key id"),
            principal_id: PrincipalId::generate(),
            name: crate::domain::Name::parse("dummy credential").expect("a valid name"),
            status: CredentialStatus::Active,
            expires_at: Some(t),
            created_at: t,
            last_used_at: Some(t),
            revoked_at: None,
        },
        org_id: OrgId::generate(),
        secret_hash:
            "$argon2id$v=19$m=1024,t=1,p=1$ZHVtbXlzYWx0ZHVtbXlzYWx0$ZHVtbXloYXNoZHVtbXloYXNoZHVtbXloYXNoZHVtbXk".into(),
        principal: PrincipalState {
            principal_type: crate::domain::PrincipalType::ApiKey,
            principal_status: PrincipalStatus::Active,
            principal_expires_at: None,
        },
    }
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

/// The org item's count of its custom roles (the cap's condition).
const CUSTOM_ROLES: &str = "customRoles";

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let mut store =
            Self { client, table: table.into(), dummy_credential: Item::new(), dummy_response: String::new() };
        store.dummy_credential = store.credential_item(&dummy_record(), None).unwrap_or_default();
        store.dummy_response = serde_json::json!({ "Item": item_json(&store.dummy_credential) }).to_string();
        store
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
        // Only API-key principals are listed by status (`GET .../api-keys?status=`); members are
        // listed by the org partition's MEMBER rows.
        if p.principal_type == PrincipalType::ApiKey {
            let (gpk, gsk) = keys::principal_by_status(&p.org_id, p.status, &p.id);
            item.insert(keys::GSI1PK.into(), s(gpk));
            item.insert(keys::GSI1SK.into(), s(gsk));
        }
        if !record.active_key_ids.is_empty() {
            item.insert(
                "activeKeyIds".into(),
                AttributeValue::Ss(record.active_key_ids.iter().map(|k| k.to_string()).collect()),
            );
        }
        item.insert("credentialsVersion".into(), n(record.credentials_version));
        if !record.role_ids.is_empty() {
            item.insert("roleIds".into(), AttributeValue::Ss(record.role_ids.iter().map(|r| r.to_string()).collect()));
        }
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
        let role_ids = match item.remove("roleIds") {
            Some(AttributeValue::Ss(ids)) => ids.iter().filter_map(|id| RoleId::parse(id)).collect(),
            _ => Vec::new(),
        };
        Ok(PrincipalRecord { principal: from_attributes(item)?, active_key_ids, credentials_version, role_ids })
    }

    /// Creates a principal (never overwrites), with its audit event.
    pub async fn create_principal(&self, principal: &Principal, audit: &AuditEvent) -> Result<(), StoreError> {
        let record = PrincipalRecord {
            principal: principal.clone(),
            active_key_ids: Vec::new(),
            credentials_version: 0,
            role_ids: Vec::new(),
        };
        self.transact(vec![self.put_new(self.principal_item(&record)?)?, self.put_new(audit_item(audit)?)?]).await
    }

    /// One principal, strongly consistent (it guards every write that follows).
    pub async fn get_principal(&self, org: &OrgId, id: &PrincipalId) -> Result<Option<PrincipalRecord>, StoreError> {
        self.get(keys::principal(org, id), true).await?.map(Self::principal_from).transpose()
    }

    /// An Update setting each attribute of `set` and removing each of `remove`, under `condition`
    /// (whose own names and values come in `names` and `values`).
    fn set_and_remove(
        &self,
        key: (String, String),
        set: &Item,
        remove: &[&str],
        condition: &str,
        mut names: HashMap<String, String>,
        mut values: Item,
    ) -> Result<Update, StoreError> {
        let mut sets = Vec::new();
        for (i, (name, value)) in set.iter().enumerate() {
            names.insert(format!("#s{i}"), name.clone());
            values.insert(format!(":s{i}"), value.clone());
            sets.push(format!("#s{i} = :s{i}"));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !remove.is_empty() {
            let removes: Vec<String> = remove
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    names.insert(format!("#r{i}"), name.to_string());
                    format!("#r{i}")
                })
                .collect();
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(key)))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .build(),
        )
    }

    /// Changes a principal if neither it nor its set of credentials changed since `before` was
    /// read, and copies its new state onto each Active credential, all in one transaction. Only the
    /// principal's own fields are written: its role and credential sets are left as they are.
    pub async fn update_principal(
        &self,
        before: &PrincipalRecord,
        after: &Principal,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut fields = to_attributes(after)?;
        let (gpk, gsk) = keys::principal_by_status(&after.org_id, after.status, &after.id);
        fields.insert(keys::GSI1PK.into(), s(gpk));
        fields.insert(keys::GSI1SK.into(), s(gsk));
        let remove: &[&str] = if after.expires_at.is_none() { &["expiresAt"] } else { &[] };
        let update = self.set_and_remove(
            keys::principal(&after.org_id, &after.id),
            &fields,
            remove,
            "#version = :v AND #cv = :cv",
            HashMap::from([("#version".into(), "version".into()), ("#cv".into(), "credentialsVersion".into())]),
            HashMap::from([(":v".into(), n(before.principal.version)), (":cv".into(), n(before.credentials_version))]),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        let state = PrincipalState::of(after);
        if state != PrincipalState::of(&before.principal) {
            let state_fields = to_attributes(&state)?;
            let remove: &[&str] = if state.principal_expires_at.is_none() { &["principalExpiresAt"] } else { &[] };
            for key_id in &before.active_key_ids {
                let update = self.set_and_remove(
                    keys::credential(key_id),
                    &state_fields,
                    remove,
                    "attribute_exists(PK)",
                    HashMap::new(),
                    HashMap::new(),
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
                QuerySpec::base(pk, prefix)
            }
            Some(status) => QuerySpec {
                index: Some(keys::GSI1),
                pk_name: keys::GSI1PK,
                pk: keys::principals_by_status_pk(org),
                sk_name: keys::GSI1SK,
                sk_prefix: keys::principal_status_prefix(status),
                newest_first: false,
                sk_upto: None,
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
            newest_first: false,
            sk_upto: None,
        };
        let page = self.query(&query, limit, start, false).await?;
        let items = page.items.into_iter().map(Self::credential_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Marks a credential ended (`Revoked` or `Expired`): its status (and `revokedAt`), its GSI1
    /// key, its retention clock (`ttl`), out of the expiry index; drops it from its principal's
    /// Active set; audits it. Only the ending fields are written (a concurrent `lastUsedAt` or
    /// principal-state copy stays), and only if the status is still the one that was read.
    pub async fn end_credential(
        &self,
        before: &CredentialRecord,
        after: &Credential,
        retention_until: Timestamp,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let c = &before.credential;
        let (_, gsi1sk) =
            keys::credential_by_principal(&before.org_id, &c.principal_id, after.status, c.created_at, &c.id);
        let mut set = HashMap::from([
            ("status".to_string(), s(after.status.as_str())),
            (keys::GSI1SK.to_string(), s(gsi1sk)),
            (keys::TTL.to_string(), n(retention_until.unix())),
        ]);
        if let Some(revoked_at) = after.revoked_at {
            set.insert("revokedAt".into(), s(revoked_at.to_string()));
        }
        let update = self.set_and_remove(
            keys::credential(&c.id),
            &set,
            &[keys::GSI2PK, keys::GSI2SK],
            "#st = :before",
            HashMap::from([("#st".into(), "status".into())]),
            HashMap::from([(":before".into(), s(c.status.as_str()))]),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        if c.status == CredentialStatus::Active {
            let update = build(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(keys::principal(&before.org_id, &c.principal_id))))
                    .update_expression("DELETE activeKeyIds :k ADD credentialsVersion :one")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":k", AttributeValue::Ss(vec![c.id.to_string()]))
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

    // ---- members -----------------------------------------------------------------------------------

    /// Adds a member: its principal, its subject guard (refused when the subject is already a
    /// member) and the audit event.
    pub async fn create_member(&self, principal: &Principal, audit: &AuditEvent) -> Result<(), StoreError> {
        let subject =
            principal.subject.as_deref().ok_or_else(|| StoreError::Other(anyhow!("a member has a subject")))?;
        let record = PrincipalRecord {
            principal: principal.clone(),
            active_key_ids: Vec::new(),
            credentials_version: 0,
            role_ids: Vec::new(),
        };
        let mut guard = key_of(keys::member_subject(&principal.org_id, subject));
        guard.insert("principalId".into(), s(principal.id.as_str()));
        self.transact(vec![
            self.put_new(self.principal_item(&record)?)?,
            self.put_new(guard)?,
            self.put_new(audit_item(audit)?)?,
        ])
        .await
    }

    /// The principal id of `subject`'s membership in `org`, strongly consistent.
    pub async fn get_member_id(&self, org: &OrgId, subject: &str) -> Result<Option<PrincipalId>, StoreError> {
        let Some(item) = self.get(keys::member_subject(org, subject), true).await? else { return Ok(None) };
        match item.get("principalId") {
            Some(AttributeValue::S(id)) => Ok(PrincipalId::parse(id).ok()),
            _ => Ok(None),
        }
    }

    /// A page of an org's members (base table, strongly consistent, oldest first).
    pub async fn list_members(
        &self,
        org: &OrgId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Principal>, StoreError> {
        let (pk, prefix) = keys::members_of(org);
        let spec = QuerySpec::base(pk, prefix);
        let page = self.query(&spec, limit, start, true).await?;
        let items =
            page.items.into_iter().map(|i| Self::principal_from(i).map(|r| r.principal)).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Removes a member: its principal, its subject guard and each of its role assignments (with
    /// the custom roles' counts), and the audit event, in one transaction.
    pub async fn remove_member(
        &self,
        member: &Principal,
        assignments: &[Assignment],
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let subject = member.subject.as_deref().ok_or_else(|| StoreError::Other(anyhow!("a member has a subject")))?;
        let delete = |key: (String, String), condition: Option<&str>| {
            build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(key)))
                    .set_condition_expression(condition.map(String::from))
                    .build(),
            )
            .map(|d| TransactWriteItem::builder().delete(d).build())
        };
        let mut items = vec![
            delete(keys::principal(&member.org_id, &member.id), Some("attribute_exists(PK)"))?,
            delete(keys::member_subject(&member.org_id, subject), None)?,
            self.put_new(audit_item(audit)?)?,
        ];
        for a in assignments {
            items.push(delete(keys::assignment(&a.org_id, &a.principal_id, &a.role_id), None)?);
            if !a.role_id.is_built_in() {
                items.push(TransactWriteItem::builder().update(self.count_assignments(a, -1)?).build());
            }
        }
        self.transact(items).await
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

    // ---- organisation settings and audit ---------------------------------------------------------

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
    ) -> Result<(), StoreError> {
        let set = HashMap::from([
            ("settings".to_string(), to_attributes(&SettingsOnly { settings })?.remove("settings").unwrap_or(n(0))),
            ("version".to_string(), n(before.version + 1)),
        ]);
        let update = self.set_and_remove(
            keys::org(&before.id),
            &set,
            &[],
            "#ver = :v",
            HashMap::from([("#ver".into(), "version".into())]),
            HashMap::from([(":v".into(), n(before.version))]),
        )?;
        self.transact(vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?])
            .await
    }

    /// A page of the org's audit events, newest first.
    pub async fn list_audit_events(
        &self,
        org: &OrgId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let spec = QuerySpec {
            index: None,
            pk_name: keys::PK,
            pk: keys::audit_pk(org),
            sk_name: keys::SK,
            sk_prefix: "EVT#".into(),
            newest_first: true,
            sk_upto: None,
        };
        let page = self.query(&spec, limit, start, false).await?;
        Ok(Page { items: page.items.into_iter().map(from_attributes).collect::<Result<_, _>>()?, next: page.next })
    }

    // ---- roles and assignments ---------------------------------------------------------------------

    fn role_item(role: &Role, assignment_count: u64) -> Result<Item, StoreError> {
        let org = role.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("built-in roles are not stored")))?;
        let mut item = with_key(to_attributes(role)?, keys::role(org, &role.id));
        item.insert("assignmentCount".into(), n(assignment_count));
        Ok(item)
    }

    fn name_item(org: &OrgId, role: &Role) -> Item {
        let mut item = key_of(keys::role_name(org, &role.name));
        item.insert("roleId".into(), s(role.id.as_str()));
        item
    }

    fn role_from(mut item: Item) -> Result<(Role, u64), StoreError> {
        let count = match item.remove("assignmentCount") {
            Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
            _ => 0,
        };
        Ok((from_attributes(item)?, count))
    }

    /// Creates a custom role; refused (ConditionFailed) when its name is taken in the org.
    pub async fn create_role(&self, role: &Role, audit: &AuditEvent, cap: usize) -> Result<(), StoreError> {
        let org = role.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("a custom role needs an org")))?;
        // The org item counts its custom roles; the cap is this condition, not a count read before.
        let count = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::org(org))))
                .update_expression("SET #n = if_not_exists(#n, :zero) + :one")
                .condition_expression("attribute_exists(PK) AND (attribute_not_exists(#n) OR #n < :cap)")
                .expression_attribute_names("#n", CUSTOM_ROLES)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cap", n(cap as u64))
                .build(),
        )?;
        self.transact(vec![
            self.put_new(Self::role_item(role, 0)?)?,
            self.put_new(Self::name_item(org, role))?,
            TransactWriteItem::builder().update(count).build(),
            self.put_new(audit_item(audit)?)?,
        ])
        .await
    }

    /// Whether a custom role of the org holds `name` (its name guard), strongly consistent.
    pub async fn role_name_held(&self, org: &OrgId, name: &str) -> Result<bool, StoreError> {
        Ok(self.get(keys::role_name(org, name), true).await?.is_some())
    }

    /// A custom role and how many principals hold it, strongly consistent.
    pub async fn get_role(&self, org: &OrgId, id: &RoleId) -> Result<Option<(Role, u64)>, StoreError> {
        self.get(keys::role(org, id), true).await?.map(Self::role_from).transpose()
    }

    /// Every custom role of an org (orgs hold at most a few hundred; read page by page).
    pub async fn list_roles(&self, org: &OrgId) -> Result<Vec<Role>, StoreError> {
        let (pk, prefix) = keys::roles_of(org);
        let spec = QuerySpec::base(pk, prefix);
        let mut roles = Vec::new();
        let mut start = None;
        loop {
            let page = self.query(&spec, 100, start, false).await?;
            for item in page.items {
                roles.push(Self::role_from(item)?.0);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(roles),
            }
        }
    }

    /// Replaces a custom role at `before.version`; a rename moves its name guard in the same
    /// transaction (refused when the new name is taken).
    pub async fn update_role(&self, before: &Role, after: &Role, audit: &AuditEvent) -> Result<(), StoreError> {
        let org = after.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("built-in roles are not stored")))?;
        let mut fields = to_attributes(after)?;
        fields.remove("orgId");
        let remove: &[&str] = if after.description.is_none() { &["description"] } else { &[] };
        let update = self.set_and_remove(
            keys::role(org, &after.id),
            &fields,
            remove,
            "#ver = :v",
            HashMap::from([("#ver".into(), "version".into())]),
            HashMap::from([(":v".into(), n(before.version))]),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), self.put_new(audit_item(audit)?)?];
        if before.name.to_lowercase() != after.name.to_lowercase() {
            items.push(self.put_new(Self::name_item(org, after))?);
            let delete = build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_of(keys::role_name(org, &before.name))))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        self.transact(items).await
    }

    /// Deletes a custom role that no principal holds (ConditionFailed otherwise), and its name guard.
    pub async fn delete_role(&self, role: &Role, audit: &AuditEvent) -> Result<(), StoreError> {
        let org = role.org_id.as_ref().ok_or_else(|| StoreError::Other(anyhow!("built-in roles are not stored")))?;
        let delete = build(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::role(org, &role.id))))
                .condition_expression("attribute_exists(PK) AND assignmentCount = :zero")
                .expression_attribute_values(":zero", n(0))
                .build(),
        )?;
        let name = build(
            Delete::builder().table_name(&self.table).set_key(Some(key_of(keys::role_name(org, &role.name)))).build(),
        )?;
        let count = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::org(org))))
                .update_expression("SET #n = if_not_exists(#n, :one) - :one")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#n", CUSTOM_ROLES)
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        self.transact(vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().delete(name).build(),
            TransactWriteItem::builder().update(count).build(),
            self.put_new(audit_item(audit)?)?,
        ])
        .await
    }

    fn assignment_item(a: &Assignment) -> Result<Item, StoreError> {
        let mut item = with_key(to_attributes(a)?, keys::assignment(&a.org_id, &a.principal_id, &a.role_id));
        let (gpk, gsk) = keys::assignment_by_role(&a.org_id, &a.role_id, &a.principal_id);
        item.insert(keys::GSI1PK.into(), s(gpk));
        item.insert(keys::GSI1SK.into(), s(gsk));
        Ok(item)
    }

    /// Assigns a role: the assignment, the principal's role set, the custom role's assignment count
    /// and the audit event in one transaction. Refused (ConditionFailed) when the assignment exists,
    /// the principal is gone or revoked, or the custom role was deleted meanwhile.
    pub async fn assign_role(&self, a: &Assignment, audit: &AuditEvent, cap: usize) -> Result<(), StoreError> {
        // The principal holds at most `cap` roles: a condition on its role set, so that concurrent
        // assignments cannot pass it, and a member's removal stays one transaction.
        let principal = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(&a.org_id, &a.principal_id))))
                .update_expression("ADD roleIds :r")
                .condition_expression(
                    "attribute_exists(PK) AND #status <> :revoked AND (attribute_not_exists(roleIds) OR size(roleIds) < :cap)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":r", AttributeValue::Ss(vec![a.role_id.to_string()]))
                .expression_attribute_values(":revoked", s(PrincipalStatus::Revoked.as_str()))
                .expression_attribute_values(":cap", n(cap as u64))
                .build(),
        )?;
        let mut items = vec![
            self.put_new(Self::assignment_item(a)?)?,
            TransactWriteItem::builder().update(principal).build(),
            self.put_new(audit_item(audit)?)?,
        ];
        if !a.role_id.is_built_in() {
            items.push(TransactWriteItem::builder().update(self.count_assignments(a, 1)?).build());
        }
        self.transact(items).await
    }

    fn count_assignments(&self, a: &Assignment, delta: i64) -> Result<Update, StoreError> {
        build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::role(&a.org_id, &a.role_id))))
                .update_expression("ADD assignmentCount :d")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":d", n(delta))
                .build(),
        )
    }

    /// Removes an assignment, the role from the principal's set and one from the role's count.
    pub async fn unassign_role(&self, a: &Assignment, audit: &AuditEvent) -> Result<(), StoreError> {
        let delete = build(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::assignment(&a.org_id, &a.principal_id, &a.role_id))))
                .condition_expression("attribute_exists(PK)")
                .build(),
        )?;
        let principal = build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::principal(&a.org_id, &a.principal_id))))
                .update_expression("DELETE roleIds :r")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":r", AttributeValue::Ss(vec![a.role_id.to_string()]))
                .build(),
        )?;
        let mut items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(principal).build(),
            self.put_new(audit_item(audit)?)?,
        ];
        if !a.role_id.is_built_in() {
            items.push(TransactWriteItem::builder().update(self.count_assignments(a, -1)?).build());
        }
        self.transact(items).await
    }

    /// One assignment, strongly consistent.
    pub async fn get_assignment(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        role: &RoleId,
    ) -> Result<Option<Assignment>, StoreError> {
        self.get(keys::assignment(org, principal, role), true).await?.map(from_attributes).transpose()
    }

    /// A page of a principal's assignments (base table, strongly consistent).
    pub async fn list_assignments_of_principal(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Assignment>, StoreError> {
        let (pk, prefix) = keys::assignments_of_principal(org, principal);
        let spec = QuerySpec::base(pk, prefix);
        let page = self.query(&spec, limit, start, true).await?;
        Ok(Page { items: page.items.into_iter().map(from_attributes).collect::<Result<_, _>>()?, next: page.next })
    }

    /// A page of a role's assignments (GSI1).
    pub async fn list_assignments_of_role(
        &self,
        org: &OrgId,
        role: &RoleId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<Assignment>, StoreError> {
        let spec = QuerySpec {
            index: Some(keys::GSI1),
            pk_name: keys::GSI1PK,
            pk: keys::assignments_of_role_pk(org, role),
            sk_name: keys::GSI1SK,
            sk_prefix: String::new(),
            newest_first: false,
            sk_upto: None,
        };
        let page = self.query(&spec, limit, start, false).await?;
        Ok(Page { items: page.items.into_iter().map(from_attributes).collect::<Result<_, _>>()?, next: page.next })
    }

    // ---- the expiry sweep ----------------------------------------------------------------------------

    /// The last hour (epoch hours) the sweep finished, strongly consistent.
    pub async fn sweep_cursor(&self) -> Result<Option<i64>, StoreError> {
        let Some(item) = self.get(keys::sweep_state(), true).await? else { return Ok(None) };
        match item.get("sweptThroughHour") {
            Some(AttributeValue::N(v)) => Ok(v.parse().ok()),
            _ => Ok(None),
        }
    }

    /// Records that every hour up to `hour` is swept; never moves backwards (two concurrent
    /// sweeps cannot undo each other).
    pub async fn set_sweep_cursor(&self, hour: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(keys::sweep_state())))
            .update_expression("SET sweptThroughHour = :h")
            .condition_expression("attribute_not_exists(sweptThroughHour) OR sweptThroughHour < :h")
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
        request = if let Some(upto) = &spec.sk_upto {
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

impl QuerySpec {
    /// Oldest first, on the base table: partition `pk`, sort keys beginning `prefix`.
    fn base(pk: String, prefix: impl Into<String>) -> Self {
        Self {
            newest_first: false,
            sk_upto: None,
            index: None,
            pk_name: keys::PK,
            pk,
            sk_name: keys::SK,
            sk_prefix: prefix.into(),
        }
    }
}

/// Serialises settings under their attribute name.
#[derive(serde::Serialize)]
struct SettingsOnly<'a> {
    settings: &'a OrgSettings,
}

struct QuerySpec {
    /// Newest (highest sort key) first.
    newest_first: bool,
    /// Sort keys up to and including this one (instead of a prefix).
    sk_upto: Option<String>,
    index: Option<&'static str>,
    pk_name: &'static str,
    pk: String,
    sk_name: &'static str,
    sk_prefix: String,
}
