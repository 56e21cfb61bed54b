//! What became of each call of an API-key principal: allowed, or refused with which `code`. Counted
//! per credential (or workload trust) per hour, and kept as recent requests, in the container, then
//! written in the background every [`Config::usage_flush_seconds`]: never one write per call
//! (docs/operations.md, Usage and recent requests).
//!
//! [`Config::usage_flush_seconds`]: crate::config::Config::usage_flush_seconds

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::App;
use crate::domain::{OrgId, PrincipalId, Timestamp};
use crate::store::{RecentRequest, UsageBucket};

/// One allowed call per credential per minute per container is kept as a recent request.
pub const ALLOWED_KEPT_PER_MINUTE: u32 = 1;
/// Recent requests pending a flush in one container; beyond it, a refusal unlike those pending is
/// counted in the usage but not kept (a container holds at most this many distinct ones per 10 s).
pub const MAX_PENDING_RECENT: usize = 1_000;

/// Refusals for its rate limit in one flush that make a principal's `principal.rateLimited` event.
pub const RATE_LIMITED_REPEATEDLY: u64 = 10;
/// Refusals of one key from one new address in one flush that make its
/// `credential.failingFromNewAddress` event.
pub const FAILING_REPEATEDLY: usize = 3;

/// The client of the calls made with access tokens issued through workload trusts.
pub const WORKLOAD_CLIENT: &str = "workload";

/// One call's outcome.
#[derive(Clone, Debug)]
pub struct Outcome<'a> {
    pub org: &'a OrgId,
    pub principal: &'a PrincipalId,
    /// The key id, or the workload trust's id for a token issued through one.
    pub client: Option<&'a str>,
    /// `allowed`, or the refusal's `code`.
    pub code: &'static str,
    /// The route (API Gateway's route key) or, in the tenant authorizer, the action.
    pub route: &'a str,
    pub source_ip: Option<&'a str>,
    pub request_id: &'a str,
}

type BucketKey = (OrgId, PrincipalId, String, i64);

/// A kind of refusal in one minute: principal, client, code, route, address, minute.
type RefusalKind = (PrincipalId, String, &'static str, String, Option<String>, i64);

#[derive(Debug, Default)]
struct Pending {
    counts: HashMap<BucketKey, BTreeMap<&'static str, u64>>,
    recent: Vec<RecentRequest>,
    /// Allowed calls kept this minute per client: the sampling.
    kept: HashMap<(String, i64), u32>,
    /// The pending entry of each kind of refusal this minute (principal, client, code, route,
    /// address): identical refusals are one entry with a count.
    refusals: HashMap<RefusalKind, usize>,
    last_flush: Option<i64>,
}

/// The container's outcomes not yet written.
#[derive(Debug, Default)]
pub struct Outcomes {
    pending: Mutex<Pending>,
}

impl Outcomes {
    /// Counts the outcome and keeps it as a recent request when the sampling allows; answers the
    /// batch to write when a flush is due (`interval` seconds since the last; `None`: only when
    /// asked).
    fn record(&self, o: &Outcome<'_>, now: Timestamp, interval: Option<i64>) -> Option<Pending> {
        let client = o.client.unwrap_or("").to_string();
        let hour = now.unix().div_euclid(3600) * 3600;
        let mut pending = self.pending.lock().expect("outcomes lock");
        let key = (o.org.clone(), o.principal.clone(), client.clone(), hour);
        *pending.counts.entry(key).or_default().entry(o.code).or_default() += 1;
        let minute = now.unix().div_euclid(60);
        let entry = RecentRequest {
            org_id: o.org.clone(),
            principal_id: o.principal.clone(),
            time: now,
            route: o.route.to_string(),
            source_ip: o.source_ip.map(String::from),
            code: o.code.to_string(),
            request_id: o.request_id.to_string(),
            key_id: o.client.map(String::from),
            count: 1,
        };
        if o.code == "allowed" {
            let room = pending.recent.len() < MAX_PENDING_RECENT;
            let kept = pending.kept.entry((client, minute)).or_default();
            if *kept < ALLOWED_KEPT_PER_MINUTE && room {
                *kept += 1;
                pending.recent.push(entry);
            }
        } else {
            // Every refusal is kept: one entry per principal, key, code, route and address a minute.
            let kind = (o.principal.clone(), client, o.code, o.route.to_string(), entry.source_ip.clone(), minute);
            match pending.refusals.get(&kind).copied() {
                Some(at) => pending.recent[at].count += 1,
                None if pending.recent.len() < MAX_PENDING_RECENT => {
                    let at = pending.recent.len();
                    pending.recent.push(entry);
                    pending.refusals.insert(kind, at);
                }
                None => {}
            }
        }
        let last = *pending.last_flush.get_or_insert(now.unix());
        match interval {
            Some(seconds) if now.unix() - last >= seconds => {
                pending.last_flush = Some(now.unix());
                Some(Self::take(&mut pending, minute))
            }
            _ => None,
        }
    }

    /// Everything pending, leaving the sampling of the current minute.
    fn take(pending: &mut Pending, minute: i64) -> Pending {
        pending.kept.retain(|(_, m), _| *m >= minute);
        pending.refusals.clear();
        Pending {
            counts: std::mem::take(&mut pending.counts),
            recent: std::mem::take(&mut pending.recent),
            kept: HashMap::new(),
            refusals: HashMap::new(),
            last_flush: pending.last_flush,
        }
    }
}

impl App {
    /// Records one call's outcome; every `usage_flush_seconds` the pending counts and recent
    /// requests are written by a background task (a failed write is logged, and its counts lost).
    pub(crate) fn record_outcome(&self, outcome: Outcome<'_>) {
        let now = self.clock.now();
        if let Some(batch) = self.outcomes.record(&outcome, now, self.config.usage_flush_seconds) {
            let store = self.store.clone();
            let retention = self.config.retention_days;
            tokio::spawn(async move { write(&store, batch, now, retention).await });
        }
    }

    /// Writes whatever is pending now, and waits for it (tests; a function's shutdown).
    pub async fn flush_outcomes(&self) {
        let now = self.clock.now();
        let batch = {
            let mut pending = self.outcomes.pending.lock().expect("outcomes lock");
            pending.last_flush = Some(now.unix());
            Outcomes::take(&mut pending, now.unix().div_euclid(60))
        };
        write(&self.store, batch, now, self.config.retention_days).await;
    }
}

/// Writes a batch: one conditional-free UpdateItem per credential-hour (`ADD` of each count) and
/// one per recent request, a few at a time.
async fn write(store: &crate::store::DynamoStore, batch: Pending, now: Timestamp, retention_days: i64) {
    use futures::StreamExt;
    signal(store, &batch, now).await;
    let buckets: Vec<UsageBucket> = batch
        .counts
        .into_iter()
        .map(|((org_id, principal_id, client, hour), counts)| UsageBucket {
            org_id,
            principal_id,
            client,
            hour,
            counts: counts.into_iter().map(|(code, n)| (code.to_string(), n)).collect(),
        })
        .collect();
    let usage = futures::stream::iter(buckets)
        .map(|bucket| async move {
            // The key's hour under its principal, and its day in the org's roll-up.
            let (own, org) = tokio::join!(
                store.add_usage(&bucket, retention_days),
                store.add_org_day_usage(&bucket, retention_days)
            );
            own.and(org)
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    let recent = futures::stream::iter(batch.recent)
        .map(|request| async move { store.put_recent_request(&request, now).await })
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    let (usage, recent) = tokio::join!(usage, recent);
    let failed = usage.iter().chain(recent.iter()).filter(|r| r.is_err()).count();
    if let Some(Err(err)) = usage.into_iter().chain(recent).find(Result::is_err) {
        tracing::warn!(failed, error = %err, "usage and recent requests not all written");
    }
}

/// The lifecycle events a batch raises, each at most once an hour per principal: a principal
/// refused for its rate limit [`RATE_LIMITED_REPEATEDLY`] times, and a key refused
/// [`FAILING_REPEATEDLY`] times from one address other than its `lastUsedIp`. A failure is logged.
async fn signal(store: &crate::store::DynamoStore, batch: &Pending, now: Timestamp) {
    use crate::domain::{Actor, AuditEvent, EventFacts, EventType, KeyId};
    let mut limited: BTreeMap<(OrgId, PrincipalId), u64> = BTreeMap::new();
    for ((org, principal, _, _), counts) in &batch.counts {
        *limited.entry((org.clone(), principal.clone())).or_default() +=
            counts.get("rate_limited").copied().unwrap_or(0);
    }
    let mut failing: BTreeMap<(OrgId, PrincipalId, String, String, String), usize> = BTreeMap::new();
    for r in batch.recent.iter().filter(|r| r.code != "allowed" && r.code != "rate_limited") {
        if let (Some(key), Some(ip)) = (&r.key_id, &r.source_ip) {
            let group = (r.org_id.clone(), r.principal_id.clone(), key.clone(), ip.clone(), r.code.clone());
            *failing.entry(group).or_default() += r.count as usize;
        }
    }
    let hour = now.unix().div_euclid(3600) * 3600;
    let audit = |org: &OrgId, principal: &PrincipalId, action: &str, details: serde_json::Value, facts: EventFacts| {
        let actor = Actor::System { name: "usage".into() };
        AuditEvent::new(org.clone(), actor, action, super::resources::api_key(principal), now, "usage", details)
            .with_event(facts)
    };
    for ((org, principal), refused) in limited.into_iter().filter(|(_, n)| *n >= RATE_LIMITED_REPEATEDLY) {
        let facts =
            EventFacts { refused: Some(refused), ..EventFacts::about(EventType::PrincipalRateLimited, &principal) };
        let event = audit(&org, &principal, "iam:apiKeys:rateLimited", serde_json::json!({"refused": refused}), facts);
        if let Err(err) = store.publish_hourly("rateLimited", hour, &event).await {
            tracing::warn!(%principal, error = %err, "principal.rateLimited not published");
        }
    }
    for ((org, principal, key, ip, code), refused) in failing.into_iter().filter(|(_, n)| *n >= FAILING_REPEATEDLY) {
        let Ok(key_id) = KeyId::parse(&key) else { continue };
        let last_ip = match store.get_credential(&key_id).await {
            Ok(Some(record)) => record.credential.last_used_ip,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(%principal, error = %err, "credential.failingFromNewAddress not judged");
                continue;
            }
        };
        if last_ip.as_deref() == Some(ip.as_str()) {
            continue;
        }
        let facts = EventFacts {
            refused: Some(refused as u64),
            source_ip: Some(ip.clone()),
            code: Some(code.clone()),
            key_id: Some(key_id.clone()),
            ..EventFacts::about(EventType::CredentialFailingFromNewAddress, &principal)
        };
        let details = serde_json::json!({"keyId": key_id, "refused": refused, "sourceIp": ip, "code": code, "lastUsedIp": last_ip});
        let event = audit(&org, &principal, "iam:credentials:failingFromNewAddress", details, facts);
        if let Err(err) = store.publish_hourly("failingFromNewAddress", hour, &event).await {
            tracing::warn!(%principal, error = %err, "credential.failingFromNewAddress not published");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome<'a>(org: &'a OrgId, principal: &'a PrincipalId, code: &'static str) -> Outcome<'a> {
        Outcome {
            org,
            principal,
            client: Some("abcdefghij0123456789"),
            code,
            route: "GET /x",
            source_ip: Some("198.51.100.7"),
            request_id: "r",
        }
    }

    #[test]
    fn every_call_is_counted_and_recent_requests_are_sampled_per_minute() {
        let (org, principal) = (OrgId::generate(), PrincipalId::generate());
        let outcomes = Outcomes::default();
        let now = Timestamp::from_unix(1_800_000_000);
        for _ in 0..5 {
            assert!(outcomes.record(&outcome(&org, &principal, "allowed"), now, None).is_none());
        }
        for _ in 0..15 {
            outcomes.record(&outcome(&org, &principal, "rate_limited"), now, None);
        }
        let mut pending = outcomes.pending.lock().unwrap();
        let counts = pending.counts.values().next().unwrap().clone();
        assert_eq!(counts.get("allowed"), Some(&5));
        assert_eq!(counts.get("rate_limited"), Some(&15));
        let kept = |code: &str| pending.recent.iter().filter(|r| r.code == code).count() as u32;
        assert_eq!(kept("allowed"), ALLOWED_KEPT_PER_MINUTE);
        let refused: Vec<&RecentRequest> = pending.recent.iter().filter(|r| r.code == "rate_limited").collect();
        assert_eq!((refused.len(), refused[0].count), (1, 15), "every refusal, the identical ones as one entry");
        let taken = Outcomes::take(&mut pending, now.unix() / 60);
        assert_eq!(taken.counts.len(), 1);
        assert!(pending.counts.is_empty() && pending.recent.is_empty());
    }

    #[test]
    fn a_flush_is_due_once_per_interval() {
        let (org, principal) = (OrgId::generate(), PrincipalId::generate());
        let outcomes = Outcomes::default();
        let t = Timestamp::from_unix(1_800_000_000);
        assert!(outcomes.record(&outcome(&org, &principal, "allowed"), t, Some(10)).is_none());
        assert!(outcomes.record(&outcome(&org, &principal, "allowed"), t.plus_seconds(9), Some(10)).is_none());
        let batch = outcomes.record(&outcome(&org, &principal, "allowed"), t.plus_seconds(10), Some(10)).unwrap();
        assert_eq!(batch.counts.values().next().unwrap().get("allowed"), Some(&3));
        assert!(outcomes.record(&outcome(&org, &principal, "allowed"), t.plus_seconds(11), Some(10)).is_none());
    }
}
