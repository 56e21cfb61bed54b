//! A principal's usage (calls per hour or day by outcome) and its recent requests: what its
//! containers counted and kept (`auth::outcomes`), as the troubleshooting page needs them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::App;
use crate::domain::{ApiError, FieldError, OrgId, PrincipalId, Timestamp};
use crate::store::{ListParams, Page, RecentRequest};

/// The longest range of hourly buckets one request may ask (7 days).
pub const MAX_HOURLY_RANGE_SECONDS: i64 = 7 * 86_400;
/// The longest range of daily buckets one request may ask: the 90 days usage is kept.
pub const MAX_DAILY_RANGE_SECONDS: i64 = 90 * 86_400;

/// `hour` or `day`, and the seconds of one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    fn seconds(self) -> i64 {
        match self {
            Self::Hour => 3600,
            Self::Day => 86_400,
        }
    }
}

/// The query of `GET .../usage`, checked: bucket edges, from (inclusive) to (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageRange {
    pub granularity: Granularity,
    pub from: i64,
    pub to: i64,
}

impl UsageRange {
    /// `from` and `to` (RFC 3339; default: the last 24 hours, or 30 days by day) widened to whole
    /// buckets; `granularity` `hour` (default, at most 7 days) or `day` (at most 90 days).
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        granularity: Option<&str>,
        now: Timestamp,
    ) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let granularity = match granularity {
            None | Some("hour") => Granularity::Hour,
            Some("day") => Granularity::Day,
            Some(_) => {
                errors.push(FieldError::new("granularity", "must be hour or day"));
                Granularity::Hour
            }
        };
        let mut time = |field: &str, text: Option<&str>| match text.map(Timestamp::parse) {
            None => None,
            Some(Ok(t)) => Some(t.unix()),
            Some(Err(message)) => {
                errors.push(FieldError::new(field, message));
                None
            }
        };
        let (from, to) = (time("from", from), time("to", to));
        let size = granularity.seconds();
        let to = to.unwrap_or(now.unix() + 1);
        let default_span = if granularity == Granularity::Hour { 86_400 } else { 30 * 86_400 };
        let from = from.unwrap_or(to - default_span);
        let (from, to) = (from.div_euclid(size) * size, (to + size - 1).div_euclid(size) * size);
        let longest = if granularity == Granularity::Hour { MAX_HOURLY_RANGE_SECONDS } else { MAX_DAILY_RANGE_SECONDS };
        if errors.is_empty() && from >= to {
            errors.push(FieldError::new("from", "must be before to"));
        } else if errors.is_empty() && to - from > longest {
            let message = format!("the range is at most {} days by {granularity:?}", longest / 86_400).to_lowercase();
            errors.push(FieldError::new("from", message));
        }
        if errors.is_empty() { Ok(Self { granularity, from, to }) } else { Err(ApiError::InvalidRequest(errors)) }
    }
}

/// `{principalId, granularity, from, to, buckets: [{start, counts}], totals, keys: [{keyId, counts}],
/// flushSeconds}`: every bucket of the range, in order (an empty one has empty counts), summed over
/// the principal's keys and workload tokens; then each key's totals.
pub async fn usage(app: &App, org: &OrgId, principal: &PrincipalId, range: UsageRange) -> Result<Value, ApiError> {
    app.store.get_principal(org, principal).await?.ok_or(ApiError::NotFound("API-key principal"))?;
    let hours = app.store.usage_of(org, principal, range.from, range.to).await?;
    let size = range.granularity.seconds();
    let mut buckets: BTreeMap<i64, BTreeMap<String, u64>> =
        (range.from..range.to).step_by(size as usize).map(|start| (start, BTreeMap::new())).collect();
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut keys: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for hour in hours {
        let start = hour.hour.div_euclid(size) * size;
        for (code, n) in &hour.counts {
            if let Some(bucket) = buckets.get_mut(&start) {
                *bucket.entry(code.clone()).or_default() += n;
            }
            *totals.entry(code.clone()).or_default() += n;
            *keys.entry(hour.client.clone()).or_default().entry(code.clone()).or_default() += n;
        }
    }
    let time = |t: i64| Timestamp::from_unix(t).to_string();
    Ok(json!({
        "principalId": principal,
        "granularity": if range.granularity == Granularity::Hour { "hour" } else { "day" },
        "from": time(range.from),
        "to": time(range.to),
        "buckets": buckets.into_iter().map(|(start, counts)| json!({"start": time(start), "counts": counts})).collect::<Vec<_>>(),
        "totals": totals,
        "keys": keys.into_iter().map(|(key, counts)| json!({"keyId": key, "counts": counts})).collect::<Vec<_>>(),
        "flushSeconds": app.config.usage_flush_seconds,
    }))
}

/// The cursor scope of a principal's recent requests.
pub fn recent_scope(org: &OrgId, principal: &PrincipalId) -> String {
    format!("recent|{org}|{principal}")
}

/// A page of the principal's recent requests, newest first.
pub async fn recent(
    app: &App,
    org: &OrgId,
    principal: &PrincipalId,
    params: ListParams,
) -> Result<Page<RecentRequest>, ApiError> {
    app.store.get_principal(org, principal).await?.ok_or(ApiError::NotFound("API-key principal"))?;
    Ok(app.store.list_recent_requests(org, principal, params.limit, params.start).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_widened_to_whole_buckets_and_bounded() {
        let now = Timestamp::parse("2026-12-08T10:30:00Z").unwrap();
        let r = UsageRange::parse(None, None, None, now).unwrap();
        assert_eq!((r.to - r.from, r.to % 3600), (86_400 + 3600, 0));
        let r =
            UsageRange::parse(Some("2026-12-01T00:10:00Z"), Some("2026-12-02T00:00:00Z"), Some("day"), now).unwrap();
        assert_eq!(r.to - r.from, 86_400);
        assert!(UsageRange::parse(Some("2026-11-01T00:00:00Z"), None, Some("hour"), now).is_err(), "over 7 days");
        assert!(UsageRange::parse(None, None, Some("week"), now).is_err());
        assert!(UsageRange::parse(Some("2026-12-09T00:00:00Z"), Some("2026-12-08T00:00:00Z"), None, now).is_err());
        assert_eq!(MAX_HOURLY_RANGE_SECONDS, 7 * 86_400);
        assert_eq!(MAX_DAILY_RANGE_SECONDS, 90 * 86_400);
    }
}
