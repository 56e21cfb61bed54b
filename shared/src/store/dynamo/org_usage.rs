//! The org-wide roll-up of usage: each flush adds a credential-hour's counts to its org's day too,
//! so the busiest and most-refused keys of an org are one query per day, not one per principal.

use super::*;
use crate::store::{OrgDayUsage, UsageBucket};

impl DynamoStore {
    /// Adds a credential-hour's counts to its org's day (`ADD`, no condition: adds commute).
    pub async fn add_org_day_usage(&self, bucket: &UsageBucket, retention_days: i64) -> Result<(), StoreError> {
        let day = bucket.hour.div_euclid(86_400) * 86_400;
        let key = keys::org_usage(&bucket.org_id, day, &bucket.principal_id, &bucket.client);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .expression_attribute_names("#principal", "principalId")
            .expression_attribute_names("#client", "client")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":principal", s(bucket.principal_id.as_str()))
            .expression_attribute_values(":client", s(&bucket.client))
            .expression_attribute_values(":ttl", n(day + 86_400 + retention_days * 86_400));
        let mut adds = Vec::new();
        for (i, (code, count)) in bucket.counts.iter().enumerate() {
            request = request
                .expression_attribute_names(format!("#c{i}"), format!("n_{code}"))
                .expression_attribute_values(format!(":c{i}"), n(count));
            adds.push(format!("#c{i} :c{i}"));
        }
        let expression = format!("SET #principal = :principal, #client = :client, #ttl = :ttl ADD {}", adds.join(", "));
        request.update_expression(expression).send().await.map_err(classify)?;
        Ok(())
    }

    /// Every key's counts of one day of the org (each page of the day's partition).
    pub async fn org_day_usage(&self, org: &OrgId, day: i64) -> Result<Vec<OrgDayUsage>, StoreError> {
        let spec = QuerySpec::base(keys::org_usage_pk(org, day), "");
        let items = self.query_all(&spec, false).await?;
        let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<i64>().ok());
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                Some(OrgDayUsage {
                    principal_id: PrincipalId::parse(&text("principalId")?).ok()?,
                    client: text("client").unwrap_or_default(),
                    counts: item
                        .iter()
                        .filter_map(|(name, v)| Some((name.strip_prefix("n_")?.to_string(), number(v)?.max(0) as u64)))
                        .collect(),
                })
            })
            .collect())
    }
}
