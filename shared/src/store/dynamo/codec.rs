//! Between the store's records and DynamoDB's items and errors: attribute values, (de)serialising
//! items, keys, and the SDK's errors classified into [`StoreError`].

use anyhow::anyhow;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde::Serialize;
use serde::de::DeserializeOwned;

use std::collections::HashMap;

use super::Item;
use super::items::Stored;
use crate::domain::{AuditEvent, Credential, CredentialStatus, KeyId, OrgId, PrincipalId, Timestamp};
use crate::store::keys;
use crate::store::{CredentialRecord, StoreError};

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A serde value as item attributes; unset (`None`) fields are left out rather than stored as NULL,
/// so `attribute_not_exists` means what it says.
pub(super) fn to_attributes<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Other(anyhow!("serialise item: {e}")))?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    Ok(item)
}

pub(super) fn from_attributes<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(anyhow!("deserialise item: {e}")))
}

pub(super) fn key_of((pk, sk): (String, String)) -> Item {
    HashMap::from([(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))])
}

/// An audit event's item; one that carries a lifecycle event is also in the outbox (GSI3) until
/// the event is published.
pub(super) fn audit_item(event: &AuditEvent) -> Result<Item, StoreError> {
    let stored = Stored::new(keys::audit_event(&event.org_id, &event.id), event);
    match event.event {
        Some(_) => stored.gsi3(keys::outbox_entry(&event.id)).item(),
        None => stored.item(),
    }
}

/// An item in DynamoDB's JSON wire form (the attribute types this service stores).
pub(super) fn item_json(item: &Item) -> serde_json::Value {
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

pub(super) fn dummy_record() -> CredentialRecord {
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
            last_used_ip: Some("198.51.100.7".into()),
            last_used_route: Some("POST /iam/auth/token".into()),
            revoked_at: None,
            replaced_by: None,
        },
        org_id: OrgId::generate(),
        secret_hash: secrecy::SecretString::from(
            "$argon2id$v=19$m=1024,t=1,p=1$ZHVtbXlzYWx0ZHVtbXlzYWx0$ZHVtbXloYXNoZHVtbXloYXNoZHVtbXloYXNoZHVtbXk",
        ),
        version: 1,
    }
}

/// Classifies an SDK error by what the caller can do about it.
pub(super) fn classify<E>(err: SdkError<E, HttpResponse>) -> StoreError
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
pub(super) fn classify_transaction(err: SdkError<TransactWriteItemsError, HttpResponse>) -> StoreError {
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

pub(super) fn build<T, E: std::error::Error + Send + Sync + 'static>(built: Result<T, E>) -> Result<T, StoreError> {
    built.map_err(|e| StoreError::Other(anyhow!(e).context("build request")))
}
