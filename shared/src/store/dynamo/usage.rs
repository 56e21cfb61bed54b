//! Usage per credential per hour, and each principal's recent requests: written in the background
//! by the containers that counted them (`auth::outcomes`), read by the usage and recent-requests routes.

use super::*;
use crate::store::{RECENT_REQUEST_DAYS, RecentRequest, UsageBucket};

/// The attribute of one outcome's count: `n_allowed`, `n_rate_limited`, ….
fn count_attribute(code: &str) -> String {
    format!("n_{code}")
}

impl DynamoStore {
    /// Adds a credential-hour's counts to its item (made by the first add), kept `retention_days`
    /// after the hour.
    pub async fn add_usage(&self, bucket: &UsageBucket, retention_days: i64) -> Result<(), StoreError> {
        let key = keys::usage(&bucket.org_id, &bucket.principal_id, bucket.hour, &bucket.client);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .expression_attribute_names("#hour", "hour")
            .expression_attribute_names("#client", "client")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":hour", n(bucket.hour))
            .expression_attribute_values(":client", s(&bucket.client))
            .expression_attribute_values(":ttl", n(bucket.hour + retention_days * 86_400));
        let mut adds = Vec::new();
        for (i, (code, count)) in bucket.counts.iter().enumerate() {
            request = request
                .expression_attribute_names(format!("#c{i}"), count_attribute(code))
                .expression_attribute_values(format!(":c{i}"), n(count));
            adds.push(format!("#c{i} :c{i}"));
        }
        let expression = format!("SET #hour = :hour, #client = :client, #ttl = :ttl ADD {}", adds.join(", "));
        request.update_expression(expression).send().await.map_err(classify)?;
        Ok(())
    }

    /// A principal's usage items of the hours from `from` up to (not including) `to`, every page.
    pub async fn usage_of(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        from: i64,
        to: i64,
    ) -> Result<Vec<UsageBucket>, StoreError> {
        let spec = QuerySpec {
            newest_first: false,
            sk_after: Some(keys::usage_hour_prefix(from)),
            sk_upto: Some(keys::usage_hour_prefix(to - 1) + "~"),
            index: None,
            pk_name: keys::PK,
            pk: keys::usage_pk(org, principal),
            sk_name: keys::SK,
            sk_prefix: String::new(),
        };
        let items = self.query_all(&spec, false).await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<i64>().ok());
                let counts = item
                    .iter()
                    .filter_map(|(name, v)| Some((name.strip_prefix("n_")?.to_string(), number(v)?.max(0) as u64)))
                    .collect();
                UsageBucket {
                    org_id: org.clone(),
                    principal_id: principal.clone(),
                    client: item.get("client").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default(),
                    hour: item.get("hour").and_then(number).unwrap_or(0),
                    counts,
                }
            })
            .collect())
    }

    /// Keeps one recent request for [`RECENT_REQUEST_DAYS`] (an UpdateItem: the functions that
    /// record it are granted UpdateItem, not PutItem).
    pub async fn put_recent_request(&self, r: &RecentRequest, now: Timestamp) -> Result<(), StoreError> {
        let key = keys::recent_request(&r.org_id, &r.principal_id, r.time, &r.request_id);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .expression_attribute_names("#time", "time")
            .expression_attribute_names("#route", "route")
            .expression_attribute_names("#code", "code")
            .expression_attribute_names("#rid", "requestId")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":time", s(r.time.to_string()))
            .expression_attribute_values(":route", s(&r.route))
            .expression_attribute_values(":code", s(&r.code))
            .expression_attribute_values(":rid", s(&r.request_id))
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":count", n(r.count))
            .expression_attribute_values(":ttl", n(now.unix() + RECENT_REQUEST_DAYS * 86_400));
        let mut sets =
            vec!["#time = :time", "#route = :route", "#code = :code", "#rid = :rid", "#count = :count", "#ttl = :ttl"];
        if let Some(ip) = &r.source_ip {
            request = request.expression_attribute_names("#ip", "sourceIp").expression_attribute_values(":ip", s(ip));
            sets.push("#ip = :ip");
        }
        if let Some(key_id) = &r.key_id {
            request =
                request.expression_attribute_names("#key", "keyId").expression_attribute_values(":key", s(key_id));
            sets.push("#key = :key");
        }
        request.update_expression(format!("SET {}", sets.join(", "))).send().await.map_err(classify)?;
        Ok(())
    }

    /// A page of a principal's recent requests, newest first.
    pub async fn list_recent_requests(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<RecentRequest>, StoreError> {
        let spec = QuerySpec {
            newest_first: true,
            sk_after: None,
            sk_upto: None,
            index: None,
            pk_name: keys::PK,
            pk: keys::recent_pk(org, principal),
            sk_name: keys::SK,
            sk_prefix: String::new(),
        };
        let page = self.query(&spec, limit, start, false).await?;
        let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let items = page
            .items
            .iter()
            .filter_map(|item| {
                Some(RecentRequest {
                    org_id: org.clone(),
                    principal_id: principal.clone(),
                    time: Timestamp::parse(&text(item, "time")?).ok()?,
                    route: text(item, "route").unwrap_or_default(),
                    source_ip: text(item, "sourceIp"),
                    code: text(item, "code")?,
                    request_id: text(item, "requestId").unwrap_or_default(),
                    key_id: text(item, "keyId"),
                    count: item.get("count").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(1),
                })
            })
            .collect();
        Ok(Page { items, next: page.next })
    }
}
