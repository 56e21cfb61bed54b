//! Lifecycle events: each change writes its event in its own transaction (on its audit event, the
//! outbox), the drain publishes it once, in EventBridge's envelope, matching docs/events.schema.json
//! and carrying no secret; a failed publish loses nothing; the sweep warns 7 days and 1 day ahead.

use std::sync::LazyLock;

use iam_tests::faults::Fault;
use iam_tests::{NoDeadline, TestApp};
use serde_json::{Value, json};
use shared::store::EventSink;

static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(&schema).expect("a valid schema")
});

fn conforms(event: &Value) {
    let errors: Vec<String> = SCHEMA.iter_errors(event).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{event} does not match docs/events.schema.json: {errors:?}");
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["detail-type"].as_str().unwrap()).collect()
}

async fn sweep(app: &TestApp) -> shared::service::sweep::SweepReport {
    expiry_sweep::handle(&app.app, &NoDeadline, "test-sweep").await.expect("the sweep runs")
}

/// A credential of `principal` expiring `seconds` from now: its key.
async fn issue_expiring(app: &TestApp, principal: &str, seconds: i64) -> String {
    let path = app.org_path(&format!("/api-keys/{principal}/credentials"));
    let r = app.admin_call("POST", &path, Some(json!({"name": "deploy", "expiresAt": app.at(seconds)}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["apiKey"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_kind_of_event_is_published_once_as_documented_and_without_a_secret() {
    let app = TestApp::new().await;
    let mut keys = Vec::new();
    // credential.revoked
    let a = app.create_principal("a").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&a, "one").await;
    let path = app.org_path(&format!("/api-keys/{a}/credentials/{}/revoke", &key[3..23]));
    assert_eq!(app.admin_call("POST", &path, None).await.status, 200);
    keys.push(key);
    // principal.suspended, then principal.revoked (Active again is no event)
    let b = app.create_principal("b").await["id"].as_str().unwrap().to_string();
    keys.push(app.issue(&b, "two").await.1);
    for status in ["Suspended", "Active", "Revoked"] {
        let r =
            app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{b}")), Some(json!({"status": status}))).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    // credential.leaked
    let c = app.create_principal("c").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&c, "three").await;
    let report = json!([{"token": key, "type": "t", "url": "https://gist.github.com/x", "source": "gist"}]);
    assert_eq!(app.leak_report(&report).await.status, 200);
    keys.push(key);
    // credential.expiring (7 days, 1 day), then credential.expired
    let d = app.create_principal("d").await["id"].as_str().unwrap().to_string();
    keys.push(issue_expiring(&app, &d, 8 * 86_400).await);
    sweep(&app).await;
    app.app.clock.advance(86_400 + 3600);
    sweep(&app).await;
    app.app.clock.advance(6 * 86_400);
    sweep(&app).await;
    app.app.clock.advance(86_400);
    sweep(&app).await;

    let events = app.drain_events().await;
    assert_eq!(
        types(&events).into_iter().collect::<std::collections::BTreeSet<_>>(),
        [
            "credential.expired",
            "credential.expiring",
            "credential.leaked",
            "credential.revoked",
            "principal.revoked",
            "principal.suspended"
        ]
        .into_iter()
        .collect(),
        "{events:?}"
    );
    assert_eq!(events.len(), 7, "one of each, two warnings: {:?}", types(&events));
    for event in &events {
        conforms(event);
        assert_eq!(event["detail"]["orgId"], app.org.to_string());
        assert_eq!(event["id"], event["detail"]["id"]);
    }
    // Delivery order is not the order of the changes (the outbox is drained shard by shard, as
    // EventBridge keeps no order either): consumers order by `time`.
    let mut warnings: Vec<(String, i64)> = events
        .iter()
        .filter(|e| e["detail-type"] == "credential.expiring")
        .map(|e| (e["detail"]["time"].as_str().unwrap().to_string(), e["detail"]["daysLeft"].as_i64().unwrap()))
        .collect();
    warnings.sort();
    assert_eq!(warnings.iter().map(|(_, days)| *days).collect::<Vec<_>>(), vec![7, 1]);
    let file = std::fs::read_to_string(app.events_file.path()).unwrap();
    for key in &keys {
        assert!(!file.contains(&key[24..]), "an event carries a secret");
    }
    // Published once: another drain and another sweep add nothing.
    sweep(&app).await;
    assert_eq!(app.drain_events().await.len(), 7);
}

#[tokio::test]
async fn an_event_that_cannot_be_published_stays_in_the_outbox_until_it_is() {
    let app = TestApp::new().await;
    let p = app.create_principal("p").await["id"].as_str().unwrap().to_string();
    let r =
        app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{p}")), Some(json!({"status": "Suspended"}))).await;
    assert_eq!(r.status, 200);
    // The bus is unreachable (here: a file that cannot be opened).
    let broken = EventSink::File(std::path::PathBuf::from("/nonexistent-dir/events.jsonl"));
    let failed = lifecycle_events::handle(&app.app, &broken, &NoDeadline).await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(app.delivered_events().is_empty());
    // The store fails as the drain takes the event out: it is published again, never lost.
    app.faults.arm("UpdateItem", Fault::Internal, 1000);
    let sink = EventSink::File(app.events_file.path().to_path_buf());
    assert!(lifecycle_events::handle(&app.app, &sink, &NoDeadline).await.is_err());
    app.faults.disarm();
    let events = app.drain_events().await;
    assert_eq!(types(&events), vec!["principal.suspended", "principal.suspended"], "at least once");
    assert_eq!(events[0]["id"], events[1]["id"], "the same event: consumers de-duplicate by id");
    assert_eq!(app.drain_events().await.len(), 2, "then out of the outbox");
}

#[tokio::test]
async fn a_change_that_is_not_written_publishes_no_event() {
    let app = TestApp::new().await;
    let p = app.create_principal("p").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&p, "k").await;
    app.faults.arm("TransactWriteItems", Fault::Internal, 1000);
    let path = app.org_path(&format!("/api-keys/{p}/credentials/{}/revoke", &key[3..23]));
    assert_eq!(app.admin_call("POST", &path, None).await.status, 503);
    app.faults.disarm();
    assert!(app.drain_events().await.is_empty());
    assert_eq!(app.exchange(&key).await.status, 200);
}

#[tokio::test]
async fn the_sweep_reads_each_expiring_credential_about_once_per_warning() {
    let app = TestApp::new().await;
    let p = app.create_principal("batch").await["id"].as_str().unwrap().to_string();
    for _ in 0..5 {
        issue_expiring(&app, &p, 7 * 86_400 + 1800).await;
    }
    let first = sweep(&app).await;
    assert_eq!((first.warned, first.warning_items_read), (0, 0), "{first:?}");
    // Every 15 minutes for two hours: the five are read once for their 7-day warning.
    let mut read = 0;
    let mut warned = 0;
    for _ in 0..8 {
        app.app.clock.advance(900);
        let run = sweep(&app).await;
        read += run.warning_items_read;
        warned += run.warned;
    }
    assert_eq!((warned, read), (5, 5));
}

#[tokio::test]
async fn an_outbox_entry_that_does_not_decode_blocks_nothing_behind_it() {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let app = TestApp::new().await;
    // One broken entry at the head of every shard (its id sorts first).
    for shard in 0..shared::store::keys::OUTBOX_SHARDS {
        app.dynamo
            .put_item()
            .table_name(&app.table)
            .item("PK", S(format!("AUDIT#broken#{shard}")))
            .item("SK", S("EVT#evt_00000000000000000000000000".into()))
            .item("GSI3PK", S(shared::store::keys::outbox_shard(shard)))
            .item("GSI3SK", S("evt_00000000000000000000000000".into()))
            .send()
            .await
            .unwrap();
    }
    let p = app.create_principal("p").await["id"].as_str().unwrap().to_string();
    let r =
        app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{p}")), Some(json!({"status": "Suspended"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(types(&app.drain_events().await), vec!["principal.suspended"]);
}

/// What the containers counted raises two events, each at most once an hour per principal: a
/// principal refused for its rate limit again and again, and a key refused again and again from an
/// address it never worked from.
#[tokio::test]
async fn repeated_refusals_publish_their_events_at_most_once_an_hour() {
    use local_stack::event::IncomingRequest;
    let app = TestApp::new().await;
    let (limited, key) = app.principal_with_key("limited").await;
    let path = app.org_path(&format!("/api-keys/{limited}"));
    let r = app.admin_call("PATCH", &path, Some(json!({"rateLimit": {"limit": 1, "periodSeconds": 60}}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));
    for _ in 0..12 {
        app.call("GET", &path, Some(&key), None).await;
    }
    // A key that worked from 198.51.100.7, revoked, then tried three times from elsewhere.
    let (fenced, other) = app.principal_with_key("moved").await;
    let other_path = app.org_path(&format!("/api-keys/{fenced}"));
    assert_eq!(app.call("GET", &other_path, Some(&other), None).await.status, 200);
    app.admin_call("POST", &app.org_path(&format!("/api-keys/{fenced}/credentials/{}/revoke", &other[3..23])), None)
        .await;
    for _ in 0..3 {
        let r = app
            .send(IncomingRequest {
                method: "GET".into(),
                path: other_path.clone(),
                headers: vec![("Authorization".into(), format!("ApiKey {other}"))],
                source_ip: "203.0.113.9".into(),
                ..Default::default()
            })
            .await;
        assert_eq!(r.code(), "credential_revoked");
    }
    app.app.flush_outcomes().await;
    let events = app.drain_events().await;
    let raised: Vec<&Value> = events
        .iter()
        .filter(|e| {
            matches!(e["detail-type"].as_str(), Some("principal.rateLimited" | "credential.failingFromNewAddress"))
        })
        .collect();
    assert_eq!(raised.len(), 2, "{events:?}");
    for event in &raised {
        conforms(event);
    }
    let rate = raised.iter().find(|e| e["detail-type"] == "principal.rateLimited").unwrap();
    assert_eq!((&rate["detail"]["principalId"], &rate["detail"]["refused"]), (&json!(limited), &json!(11)));
    assert_eq!(rate["detail"]["actor"], json!({"type": "System", "name": "usage"}));
    let failing = raised.iter().find(|e| e["detail-type"] == "credential.failingFromNewAddress").unwrap();
    let detail = &failing["detail"];
    assert_eq!(
        (&detail["keyId"], &detail["sourceIp"], &detail["code"], &detail["refused"]),
        (&json!(&other[3..23]), &json!("203.0.113.9"), &json!("credential_revoked"), &json!(3))
    );

    // Within the hour, more of the same publishes nothing more.
    for _ in 0..12 {
        app.call("GET", &path, Some(&key), None).await;
    }
    app.app.flush_outcomes().await;
    let again = app.drain_events().await;
    assert_eq!(again.iter().filter(|e| e["detail-type"] == "principal.rateLimited").count(), 1, "{again:?}");
}
