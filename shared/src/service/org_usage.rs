//! The org's busiest and most-refused keys over the last days: from the org's daily roll-up of
//! usage (one query per day).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::App;
use crate::domain::{ApiError, FieldError, OrgId, Timestamp};

/// The most days one request may cover.
pub const MAX_DAYS: i64 = 31;
/// Keys listed in each ranking.
pub const TOP_KEYS: usize = 10;

/// One key's counts over the days asked, and their sums.
struct KeyRow {
    principal: String,
    client: String,
    total: u64,
    refused: u64,
    counts: BTreeMap<String, u64>,
}

/// `days` (1 to [`MAX_DAYS`], default 7).
pub fn parse_days(text: Option<&str>) -> Result<i64, ApiError> {
    match text.map(str::parse::<i64>) {
        None => Ok(7),
        Some(Ok(days)) if (1..=MAX_DAYS).contains(&days) => Ok(days),
        Some(_) => {
            Err(ApiError::InvalidRequest(vec![FieldError::new("days", format!("must be from 1 to {MAX_DAYS}"))]))
        }
    }
}

/// `{days, from, busiest: [{principalId, keyId, total, refused, counts}], mostRefused: [...]}`: the
/// keys (and workload tokens) of the org with the most calls, and with the most refused calls,
/// over the last `days` days (today included).
pub async fn top_keys(app: &App, org: &OrgId, days: i64, now: Timestamp) -> Result<Value, ApiError> {
    let today = now.unix().div_euclid(86_400) * 86_400;
    let first = today - (days - 1) * 86_400;
    let reads = (0..days).map(|i| app.store.org_day_usage(org, first + i * 86_400));
    let mut totals: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for day in futures::future::try_join_all(reads).await? {
        for row in day {
            let counts = totals.entry((row.principal_id.to_string(), row.client)).or_default();
            for (code, n) in row.counts {
                *counts.entry(code).or_default() += n;
            }
        }
    }
    let rows: Vec<KeyRow> = totals
        .into_iter()
        .map(|((principal, client), counts)| {
            let total: u64 = counts.values().sum();
            let refused = total - counts.get("allowed").copied().unwrap_or(0);
            KeyRow { principal, client, total, refused, counts }
        })
        .collect();
    let render = |rows: Vec<&KeyRow>| -> Vec<Value> {
        rows.into_iter()
            .map(|r| {
                json!({"principalId": r.principal, "keyId": r.client, "total": r.total, "refused": r.refused, "counts": r.counts})
            })
            .collect()
    };
    let mut busiest: Vec<&KeyRow> = rows.iter().collect();
    busiest.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.client.cmp(&b.client)));
    busiest.truncate(TOP_KEYS);
    let mut refused: Vec<&KeyRow> = rows.iter().filter(|r| r.refused > 0).collect();
    refused.sort_by(|a, b| b.refused.cmp(&a.refused).then_with(|| a.client.cmp(&b.client)));
    refused.truncate(TOP_KEYS);
    Ok(json!({
        "days": days,
        "from": Timestamp::from_unix(first).to_string(),
        "busiest": render(busiest),
        "mostRefused": render(refused),
    }))
}
