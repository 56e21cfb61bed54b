//! Rate-limit windows: each container leases a share of a principal's calls for a window with one
//! conditional UpdateItem, so the calls leased in a window never exceed its limit, whichever
//! containers leased them (docs/operations.md, Rate limits).

use super::*;
use crate::domain::{RateLimit, Window};

/// What a lease got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// `granted` calls (at least 1) are this container's; `leased` is the window's count after it.
    Granted { granted: u32, leased: u32 },
    /// The window's calls are all leased.
    Exhausted,
}

/// A lease is retried at most this many times when others took what it asked for meanwhile.
const LEASE_ATTEMPTS: usize = 4;

impl DynamoStore {
    /// Leases up to `want` calls of `limit`'s `window` for `principal`: adds them to the window's
    /// count if it stays within the limit, else asks for what is left (read from the refused
    /// write's item), until nothing is. The item expires (TTL) a period after its window.
    pub async fn lease_calls(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        limit: RateLimit,
        window: Window,
        want: u32,
    ) -> Result<Lease, StoreError> {
        let mut want = want.clamp(1, limit.limit);
        for _ in 0..LEASE_ATTEMPTS {
            let answer = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_of(keys::rate_window(org, principal, limit.period_seconds, window.index))))
                .update_expression("ADD #leased :want SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#leased) OR #leased <= :most")
                .expression_attribute_names("#leased", attr::LEASED)
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(":want", n(want))
                .expression_attribute_values(":most", n(limit.limit - want))
                .expression_attribute_values(":ttl", n(window.resets_at + i64::from(limit.period_seconds)))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let leased_now = match answer {
                Ok(output) => {
                    let leased = output.attributes().and_then(|a| a.get(attr::LEASED)).and_then(number).unwrap_or(want);
                    return Ok(Lease::Granted { granted: want, leased });
                }
                Err(err) => {
                    let old = err.as_service_error().and_then(|e| match e {
                        UpdateItemError::ConditionalCheckFailedException(failed) => {
                            Some(failed.item().and_then(|i| i.get(attr::LEASED)).and_then(number))
                        }
                        _ => None,
                    });
                    match old {
                        Some(Some(leased)) => leased,
                        // Refused without the item (an emulator that does not return it): read it.
                        Some(None) => self
                            .get(keys::rate_window(org, principal, limit.period_seconds, window.index), true)
                            .await?
                            .and_then(|i| i.get(attr::LEASED).and_then(number))
                            .unwrap_or(0),
                        None => return Err(classify(err)),
                    }
                }
            };
            let left = limit.limit.saturating_sub(leased_now);
            if left == 0 {
                return Ok(Lease::Exhausted);
            }
            want = want.min(left);
        }
        // Others kept taking what was left: as good as exhausted for this call.
        Ok(Lease::Exhausted)
    }
}

/// A number attribute as a count.
fn number(value: &AttributeValue) -> Option<u32> {
    value.as_n().ok().and_then(|n| n.parse().ok())
}

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
