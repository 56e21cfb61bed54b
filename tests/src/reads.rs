//! Read consistency as DynamoDB sees it: an SDK interceptor that records, for each read the
//! handlers send, whether the request asks for a strongly consistent read (`ConsistentRead`), read
//! from the request's JSON body. A test of a strongly consistent read then fails if the read is
//! eventually consistent, which counting operations cannot tell. The same interceptor counts the
//! audit events that the handlers' committed writes put (the model-based test's "one audit event
//! per change", checked without reading the audit log back).

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::Value;

/// One read request: its operation (`GetItem`, `Query`, …) and whether it is strongly consistent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub operation: String,
    pub consistent: bool,
}

impl Read {
    /// A strongly consistent read of `operation`.
    pub fn consistent(operation: &str) -> Self {
        Self { operation: operation.into(), consistent: true }
    }
}

/// The interceptor and its record of every read sent (attempts included), in order, and of the
/// audit events put by writes that succeeded.
#[derive(Clone, Debug, Default)]
pub struct ReadLog(Arc<Mutex<Vec<Read>>>, Arc<std::sync::atomic::AtomicUsize>);

/// The audit events an attempt's request puts, until its answer says whether it committed.
#[derive(Debug)]
struct AuditPuts(usize);

impl Storable for AuditPuts {
    type Storer = StoreReplace<Self>;
}

/// The audit events (items keyed `AUDIT#…`, expiry warnings aside) a write request puts.
fn audit_puts(operation: &str, body: &Value) -> usize {
    // Expiry warnings are audited too, but they are the sweep's notices, not changes.
    let is_audit = |item: &Value| {
        item["PK"]["S"].as_str().is_some_and(|pk| pk.starts_with("AUDIT#"))
            && item["action"]["S"].as_str() != Some("iam:credentials:expiring")
    };
    match operation {
        "PutItem" => usize::from(is_audit(&body["Item"])),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .map_or(0, |items| items.iter().filter(|i| is_audit(&i["Put"]["Item"])).count()),
        _ => 0,
    }
}

impl ReadLog {
    /// Audit events put by the handlers' writes that succeeded, so far.
    pub fn audit_writes(&self) -> usize {
        self.1.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The reads sent so far.
    pub fn reads(&self) -> Vec<Read> {
        self.0.lock().expect("read log lock").clone()
    }

    /// Starts recording afresh.
    pub fn reset(&self) {
        self.0.lock().expect("read log lock").clear();
    }
}

impl Intercept for ReadLog {
    fn name(&self) -> &'static str {
        "ReadLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB's JSON protocol names the operation in X-Amz-Target: `DynamoDB_20120810.GetItem`.
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or(target);
        let body: Value =
            serde_json::from_slice(context.request().body().bytes().unwrap_or_default()).unwrap_or_default();
        cfg.interceptor_state().store_put(AuditPuts(audit_puts(operation, &body)));
        // Absent, `ConsistentRead` is false: DynamoDB reads eventually consistently by default.
        let consistent = match operation {
            "GetItem" | "Query" | "Scan" => body["ConsistentRead"] == true,
            "BatchGetItem" => body["RequestItems"]
                .as_object()
                .is_some_and(|tables| !tables.is_empty() && tables.values().all(|t| t["ConsistentRead"] == true)),
            // Transactional reads are serializable, so strongly consistent, by definition.
            "TransactGetItems" => true,
            _ => return Ok(()),
        };
        self.0.lock().expect("read log lock").push(Read { operation: operation.to_string(), consistent });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.response().status().is_success()
            && let Some(AuditPuts(n)) = cfg.load::<AuditPuts>()
        {
            self.1.fetch_add(*n, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}
