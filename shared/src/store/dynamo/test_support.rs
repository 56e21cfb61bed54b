//! Test support, behind the `test-util` feature (tests/, benches): a request counter for the SDK
//! client, and fixture seeding that writes credential items directly.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::{DynamoStore, build, classify};
use crate::store::{CredentialRecord, StoreError};

/// Counts (and names) the DynamoDB requests a client sends, retries included, and the items their
/// responses carry; for tests and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    names: Arc<std::sync::Mutex<Vec<String>>>,
    items: Arc<std::sync::atomic::AtomicUsize>,
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

    /// Items the responses carried: a Query's or Scan's `Count`, a GetItem's one `Item`.
    pub fn items(&self) -> usize {
        self.items.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        self.names.lock().expect("counter lock").clear();
        self.items.store(0, std::sync::atomic::Ordering::SeqCst);
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

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The typed output (the response body is a stream by the time an interceptor sees it).
        let Ok(output) = context.output_or_error() else { return Ok(()) };
        let items = if let Some(out) = output.downcast_ref::<QueryOutput>() {
            out.count() as usize
        } else if let Some(out) = output.downcast_ref::<ScanOutput>() {
            out.count() as usize
        } else if let Some(out) = output.downcast_ref::<GetItemOutput>() {
            usize::from(out.item().is_some())
        } else {
            0
        };
        self.items.fetch_add(items, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

impl DynamoStore {
    /// Writes credential items as given, 25 to a request, without touching their principals:
    /// fixtures and load tests only (the service issues credentials with `issue_credential`).
    pub async fn seed_credentials(&self, records: &[CredentialRecord]) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in records.chunks(25) {
            let requests = chunk
                .iter()
                .map(|r| {
                    let put = build(PutRequest::builder().set_item(Some(self.credential_item(r, None)?)).build())?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut pending = HashMap::from([(self.table.clone(), requests)]);
            while !pending.is_empty() {
                let out =
                    self.client.batch_write_item().set_request_items(Some(pending)).send().await.map_err(classify)?;
                pending = out.unprocessed_items.unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
            }
        }
        Ok(())
    }
}
