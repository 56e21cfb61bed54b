//! The expiry sweep: reads what has expired (not the table), marks it, is idempotent and time-boxed.

use std::sync::atomic::{AtomicUsize, Ordering};

use iam_tests::TestApp;
use shared::auth::ApiKey;
use shared::domain::{Credential, CredentialStatus, Name, PrincipalId, Timestamp};
use shared::service::sweep::Deadline;
use shared::store::CredentialRecord;

/// A fresh table whose first sweep looks back 4 hours, not 48: every record here expired within
/// the last three, and each hour is one query per expiry shard, which moto answers by reading the
/// whole table.
async fn sweep_app() -> TestApp {
    TestApp::with_config(|c| c.sweep_first_lookback_hours = 4).await
}

/// The expiry-index shard a record is in (`EXPIRY#<hour>#<shard>`).
fn shard_of(record: &CredentialRecord) -> String {
    let (pk, _) =
        shared::store::keys::credential_by_expiry(record.credential.expires_at.unwrap(), &record.credential.id);
    pk.rsplit('#').next().unwrap().to_string()
}

fn record(app: &TestApp, principal: &str, expires_at: Option<Timestamp>, now: Timestamp) -> CredentialRecord {
    CredentialRecord {
        credential: Credential {
            id: ApiKey::generate().key.key_id().clone(),
            principal_id: PrincipalId::parse(principal).unwrap(),
            name: Name::parse("seeded").unwrap(),
            status: CredentialStatus::Active,
            expires_at,
            created_at: now.plus_seconds(-4 * 3600),
            last_used_at: None,
            last_used_ip: None,
            last_used_route: None,
            revoked_at: None,
            replaced_by: None,
        },
        org_id: app.org.clone(),
        // Never verified: these credentials are only swept.
        secret_hash: "$argon2id$seeded".into(),
        version: 1,
    }
}

/// A deadline that is never reached: the run's length is not the test's business.
struct Unbounded;

impl Deadline for Unbounded {
    fn reached(&self) -> bool {
        false
    }
}

/// A deadline reached after `n` checks, however long they took: the sweep checks before each page
/// and each expiry, so this stops it part-way through, at the same place on any machine.
struct AfterChecks {
    left: AtomicUsize,
}

impl AfterChecks {
    fn new(n: usize) -> Self {
        Self { left: AtomicUsize::new(n) }
    }
}

impl Deadline for AfterChecks {
    fn reached(&self) -> bool {
        self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_err()
    }
}

#[tokio::test]
async fn the_sweep_reads_what_has_expired_not_the_table() {
    let app = sweep_app().await;
    let mut principals = Vec::new();
    for n in 0..20 {
        principals.push(app.create_principal(&format!("fleet {n}")).await["id"].as_str().unwrap().to_string());
    }
    let now = app.app.clock.now();
    let records: Vec<CredentialRecord> = (0..2000i64)
        .map(|i| {
            let expires_at = match i {
                // 100 expired, over three different hours.
                0..100 => Some(now.plus_seconds(-[600, 4200, 9000][(i % 3) as usize])),
                // 600 expiring in the coming days, 100 in the coming minute, 1200 never.
                100..700 => Some(now.plus_seconds(3600 + i * 240)),
                700..800 => Some(now.plus_seconds(60)),
                _ => None,
            };
            record(&app, &principals[(i % 20) as usize], expires_at, now)
        })
        .collect();
    app.app.store.seed_credentials(&records).await.unwrap();

    app.calls.reset();
    let report = expiry_sweep::handle(&app.app, &Unbounded, "sweep-1").await.unwrap();
    assert_eq!((report.expired, report.finished), (100, true), "{report:?}");
    // The warnings before expiry read their own windows (here the 346 expiring within a day, each
    // warned): counted apart, each item read once for one warning given.
    assert_eq!(report.warning_items_read, report.warned, "{report:?}");
    let read = app.calls.items() - report.warning_items_read;
    // The figure of docs/benchmarks.md (make bench prints it).
    println!(
        "expiry sweep: {read} items read for 100 expired among 2000 credentials: ratio {:.2}",
        read as f64 / 100.0
    );
    // At least the 100 it marks (so the counter itself is counting), at most a few more.
    assert!((100..=110).contains(&read), "the sweep read {read} items for 100 expired among 2000");
    assert!(!app.calls.names().iter().any(|n| n == "Scan"), "never a Scan: {:?}", app.calls.names());

    for r in &records[..100] {
        let item = app
            .dynamo
            .get_item()
            .table_name(&app.table)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("CRED#{}", r.credential.id)))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("CRED".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item["status"].as_s().unwrap(), "Expired");
        let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
        let expected = now.plus_seconds(90 * 86_400).unix();
        assert!((ttl - expected).abs() <= 60, "purged 90 days after the sweep marked it: {ttl} vs {expected}");
        assert!(!item.contains_key("GSI2PK"), "out of the expiry index");
    }
    let expirations = app.audit_events(&app.org).await;
    assert_eq!(expirations.iter().filter(|e| e["action"].as_s().unwrap() == "iam:credentials:expire").count(), 100);

    // Idempotent: a second run finds nothing and reads next to nothing (its three progress records:
    // the expiry hours and the two warnings').
    app.calls.reset();
    let again = expiry_sweep::handle(&app.app, &Unbounded, "sweep-2").await.unwrap();
    assert_eq!((again.expired, again.warned, again.finished), (0, 0, true));
    assert!(app.calls.items() <= 4, "{}", app.calls.items());
}

#[tokio::test]
async fn a_sweep_stopped_at_its_deadline_is_continued_by_the_next() {
    let app = sweep_app().await;
    let principal = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    // Forty minutes into an hour, with every earlier hour already swept: what follows is one page.
    let into_hour = app.app.clock.now().unix().rem_euclid(3600);
    app.app.clock.advance(3600 - into_hour + 40 * 60);
    assert_eq!(expiry_sweep::handle(&app.app, &Unbounded, "sweep-0").await.unwrap().expired, 0);
    let now = app.app.clock.now();
    // All in the hour's first expiry shard, so that they are one page.
    let records: Vec<_> = (0..)
        .map(|i| record(&app, &principal, Some(now.plus_seconds(-60 - (i % 30) * 60)), now))
        .filter(|r| shard_of(r) == "0")
        .take(30)
        .collect();
    app.app.store.seed_credentials(&records).await.unwrap();

    // A deadline already reached: nothing starts.
    let stopped = expiry_sweep::handle(&app.app, &AfterChecks::new(0), "sweep-1").await.unwrap();
    assert_eq!((stopped.expired, stopped.finished), (0, false));
    // Reached part-way through (one check for the page, then one before each expiry): the twelve
    // started finish, nothing more starts, and the run says it did not finish.
    let partial = expiry_sweep::handle(&app.app, &AfterChecks::new(13), "sweep-2").await.unwrap();
    assert_eq!((partial.expired, partial.finished), (12, false), "{partial:?}");
    // The next run continues where it stopped and finishes the rest, none twice.
    let next = expiry_sweep::handle(&app.app, &Unbounded, "sweep-3").await.unwrap();
    assert_eq!((next.expired, next.finished), (18, true), "{next:?}");
    let expirations = app.audit_events(&app.org).await;
    assert_eq!(expirations.iter().filter(|e| e["action"].as_s().unwrap() == "iam:credentials:expire").count(), 30);
}

#[tokio::test]
async fn authentication_does_not_wait_for_the_sweep_and_agrees_with_it() {
    let app = sweep_app().await;
    let principal = app.create_principal("ci").await;
    let id = principal["id"].as_str().unwrap();
    app.assign(id, "iam-viewer").await;
    let soon = app.at(90);
    let r = app
        .admin_call(
            "POST",
            &app.org_path(&format!("/api-keys/{id}/credentials")),
            Some(serde_json::json!({"name": "short", "expiresAt": soon})),
        )
        .await;
    let key = r.body["apiKey"].as_str().unwrap().to_string();
    app.app.clock.advance(120);
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.code(), "credential_expired");
    let report = expiry_sweep::handle(&app.app, &Unbounded, "sweep").await.unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.code(), "credential_expired");
    let listed =
        app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}/credentials?status=Expired")), None).await;
    assert_eq!(listed.body["items"][0]["name"], "short");
}

#[tokio::test]
async fn a_transaction_conflict_does_not_make_the_sweep_skip_a_credential() {
    // On DynamoDB two writes to one principal's item conflict (TransactionConflict); the sweep
    // must retry the expiry, not count it as ended by someone else.
    let app = sweep_app().await;
    let principal = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let now = app.app.clock.now();
    let records: Vec<_> = (0..5).map(|i| record(&app, &principal, Some(now.plus_seconds(-60 - i)), now)).collect();
    app.app.store.seed_credentials(&records).await.unwrap();
    app.faults.arm("TransactWriteItems", iam_tests::faults::Fault::Conflict, 3);
    let report = expiry_sweep::handle(&app.app, &Unbounded, "sweep").await.unwrap();
    app.faults.disarm();
    assert_eq!((report.expired, report.finished), (5, true), "{report:?}");
}
