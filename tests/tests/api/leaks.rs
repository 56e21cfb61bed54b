//! Leaked-key reports in GitHub's secret-scanning partner format: a signed report revokes the live
//! credentials it names (and their principal's issued tokens), audits and publishes them; a bad
//! signature changes nothing; unknown and malformed strings cost no write (malformed: no read); an
//! entry that cannot be read is left unlabelled and never spares the others; a string reported
//! many times is judged once.

use iam_tests::{TestApp, forged_key};
use local_stack::scanner::DevScanner;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The label GitHub's feedback format gives `token`.
fn labelled(token: &str, label: &str) -> Value {
    json!({"token_hash": hash(token), "token_type": "infuse_iam_api_key", "label": label})
}

fn reported(token: &str) -> Value {
    json!({"token": token, "type": "infuse_iam_api_key", "url": "https://github.com/octo/repo/blob/main/.env", "source": "content"})
}

async fn principal_with_key(app: &TestApp) -> (String, String) {
    let principal = app.create_principal("uploader").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&principal, "ci").await;
    (principal, key)
}

#[tokio::test]
async fn a_signed_report_revokes_a_live_key_and_its_tokens_audits_and_publishes_it() {
    let app = TestApp::new().await;
    let (principal, key) = principal_with_key(&app).await;
    let token = app.exchange(&key).await.body["accessToken"].as_str().unwrap().to_string();
    app.app.clock.advance(5);
    let unknown = forged_key("zzzzzzzzzzzzzzzzzzzz");
    let report = json!([reported(&key), reported("ik_not-a-key"), reported(&unknown)]);
    let r = app.leak_report(&report).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!([
            {"token_hash": hash(&key), "token_type": "infuse_iam_api_key", "label": "true_positive"},
            {"token_hash": hash("ik_not-a-key"), "token_type": "infuse_iam_api_key", "label": "false_positive"},
            {"token_hash": hash(&unknown), "token_type": "infuse_iam_api_key", "label": "false_positive"},
        ])
    );
    assert!(!r.raw.windows(key.len()).any(|w| w == key.as_bytes()), "the key is never echoed");

    let used = app.exchange(&key).await;
    assert_eq!((used.status, used.body["code"].as_str()), (401, Some("credential_revoked")));
    let bearer = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((bearer.status, bearer.body["code"].as_str()), (401, Some("token_revoked")), "its tokens end too");

    let audit = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    let event = &audit.body["items"][0];
    assert_eq!(event["action"], "iam:credentials:revoke");
    assert_eq!(event["actor"], json!({"type": "System", "name": "leak-report"}));
    assert_eq!(event["details"]["url"], "https://github.com/octo/repo/blob/main/.env");
    assert_eq!(event["details"]["reason"], "leaked");
    assert_eq!(event["event"]["type"], "credential.leaked");

    let events = app.drain_events().await;
    let leaked: Vec<&Value> = events.iter().filter(|e| e["detail-type"] == "credential.leaked").collect();
    assert_eq!(leaked.len(), 1, "{events:?}");
    let detail = &leaked[0]["detail"];
    assert_eq!(
        (detail["principalId"].as_str(), detail["keyId"].as_str(), detail["url"].as_str(), detail["source"].as_str()),
        (
            Some(principal.as_str()),
            Some(&key[3..23]),
            Some("https://github.com/octo/repo/blob/main/.env"),
            Some("content")
        )
    );
    let file = std::fs::read_to_string(app.events_file.path()).unwrap();
    assert!(!file.contains(&key[24..]), "no secret in an event");

    // The same report again: still ours, nothing more written or published.
    app.calls.reset();
    let again = app.leak_report(&json!([reported(&key)])).await;
    assert_eq!(again.body[0]["label"], "true_positive");
    assert!(!app.calls.names().iter().any(|n| n != "GetItem"), "{:?}", app.calls.names());
    assert_eq!(app.drain_events().await.len(), events.len());
}

#[tokio::test]
async fn a_report_with_a_bad_signature_is_401_and_changes_nothing() {
    let app = TestApp::new().await;
    let (_, key) = principal_with_key(&app).await;
    let raw = json!([reported(&key)]).to_string().into_bytes();
    let other = DevScanner::generate().unwrap();
    let cases = [
        ("another body's signature", app.scanner.key_identifier().to_string(), app.scanner.sign(b"[]")),
        ("another key's signature", app.scanner.key_identifier().to_string(), other.sign(&raw)),
        ("a key the scanner does not publish", other.key_identifier().to_string(), other.sign(&raw)),
        ("not base64", app.scanner.key_identifier().to_string(), "%%%".to_string()),
        ("no signature", app.scanner.key_identifier().to_string(), String::new()),
    ];
    for (case, key_id, signature) in cases {
        // A minute apart, so that the unknown key id makes the keys be fetched again first.
        app.app.clock.advance(60);
        app.calls.reset();
        let r = app.leak_report_signed(raw.clone(), &key_id, &signature).await;
        assert_eq!((r.status, r.body["code"].as_str()), (401, Some("invalid_signature")), "{case}: {:?}", r.body);
        assert_eq!(app.calls.count(), 0, "{case}: no read, no write");
    }
    assert_eq!(app.exchange(&key).await.status, 200, "the key still works");
    assert!(app.drain_events().await.is_empty());
}

#[tokio::test]
async fn malformed_strings_cost_no_read_and_unknown_ones_no_write() {
    let app = TestApp::new().await;
    let (_, key) = principal_with_key(&app).await;
    // A real key with its last character changed: its checksum no longer holds.
    let mut mistyped = key.clone();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'A' { 'B' } else { 'A' });
    app.calls.reset();
    let r = app.leak_report(&json!([reported(&mistyped), reported("password123"), reported("")])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.as_array().unwrap().iter().all(|l| l["label"] == "false_positive"));
    assert_eq!(app.calls.count(), 0, "refused before any read: {:?}", app.calls.names());

    // Well formed but unknown, and a known key id with another secret: one read each, no write.
    let wrong_secret = forged_key(&key[3..23]);
    let r = app.leak_report(&json!([reported(&forged_key("abcdefghij0123456789")), reported(&wrong_secret)])).await;
    assert!(r.body.as_array().unwrap().iter().all(|l| l["label"] == "false_positive"), "{:?}", r.body);
    assert_eq!(app.calls.names(), vec!["GetItem", "GetItem"]);
    assert_eq!(app.exchange(&key).await.status, 200);
}

#[tokio::test]
async fn a_report_naming_an_ended_key_is_ours_and_ends_only_the_tokens_that_may_still_live() {
    let app = TestApp::new().await;
    let (principal, key) = principal_with_key(&app).await;
    let path = app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23]));
    assert_eq!(app.admin_call("POST", &path, None).await.status, 200);
    let published = app.drain_events().await.len();
    let r = app.leak_report(&json!([reported(&key)])).await;
    assert_eq!(r.body[0]["label"], "true_positive");
    assert_eq!(app.drain_events().await.len(), published, "no credential.leaked for a key already revoked");
    // Revoked a moment ago, so tokens exchanged with it may still be live: they end.
    let audit = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    assert_eq!(audit.body["items"][0]["action"], "iam:apiKeys:revokeTokens");
    assert_eq!(audit.body["items"][0]["actor"], json!({"type": "System", "name": "leak-report"}));

    // Reported again: those tokens are already ended, nothing is written.
    app.calls.reset();
    assert_eq!(app.leak_report(&json!([reported(&key)])).await.body[0]["label"], "true_positive");
    assert!(!app.calls.names().iter().any(|n| n == "TransactWriteItems"), "{:?}", app.calls.names());
    // Ended longer ago than any token lives: nothing is written.
    app.app.clock.advance(3600 + 31);
    app.calls.reset();
    let r = app.leak_report(&json!([reported(&key)])).await;
    assert_eq!(r.body[0]["label"], "true_positive");
    assert_eq!(app.calls.names(), vec!["GetItem", "GetItem"], "the check, then the revocation's fresh read");
}

#[tokio::test]
async fn reports_signed_by_a_new_scanner_key_verify_after_one_refetch() {
    let app = TestApp::new().await;
    let (_, key) = principal_with_key(&app).await;
    assert_eq!(app.leak_report(&json!([reported("x")])).await.status, 200);
    let fetched = app.scanner_fetches.load(std::sync::atomic::Ordering::SeqCst);
    // The scanner rotates its key: the report names a key this container has not seen (a minute
    // after its last fetch, which was the first).
    app.app.clock.advance(60);
    let rotated = DevScanner::generate().unwrap();
    *app.scanner_keys.write().unwrap() = rotated.public_keys();
    let raw = json!([reported(&key)]).to_string().into_bytes();
    let r = app.leak_report_signed(raw.clone(), rotated.key_identifier(), &rotated.sign(&raw)).await;
    assert_eq!((r.status, r.body[0]["label"].as_str()), (200, Some("true_positive")), "{:?}", r.body);
    assert_eq!(app.scanner_fetches.load(std::sync::atomic::Ordering::SeqCst), fetched + 1);
}

#[tokio::test]
async fn an_unknown_scanner_key_id_while_the_refetch_waits_is_401_not_503() {
    let app = TestApp::new().await;
    let (_, key) = principal_with_key(&app).await;
    assert_eq!(app.leak_report(&json!([reported("x")])).await.status, 200, "the scanner's keys are fetched");
    let fetches = || app.scanner_fetches.load(std::sync::atomic::Ordering::SeqCst);
    let fetched = fetches();
    let raw = json!([reported(&key)]).to_string().into_bytes();
    let unknown = DevScanner::generate().unwrap();
    // Within the minute after a fetch the keys are not fetched again, and an unknown id is refused
    // as any unknown key, reading nothing: a 503 would let anyone set off the API's 5xx alarm.
    for _ in 0..3 {
        app.calls.reset();
        let r = app.leak_report_signed(raw.clone(), unknown.key_identifier(), &unknown.sign(&raw)).await;
        assert_eq!((r.status, r.code()), (401, "invalid_signature"), "{:?}", r.body);
        assert_eq!(app.calls.count(), 0);
    }
    assert_eq!(fetches(), fetched, "not fetched again within the minute");
    app.app.clock.advance(60);
    let r = app.leak_report_signed(raw.clone(), unknown.key_identifier(), &unknown.sign(&raw)).await;
    assert_eq!((r.status, r.code()), (401, "invalid_signature"), "still unknown after a fresh fetch");
    assert_eq!(fetches(), fetched + 1);
    assert_eq!(app.exchange(&key).await.status, 200, "the key still works");
}

#[tokio::test]
async fn a_github_report_revokes_every_live_key_it_names_and_labels_every_entry_it_can_read() {
    let app = TestApp::new().await;
    let (_, first) = app.principal_with_key("leaked-first").await;
    let (_, second) = app.principal_with_key("leaked-second").await;
    let unknown = forged_key("zzzzzzzzzzzzzzzzzzzz");
    // GitHub documents payloads with and without `source`; fields this service does not know are
    // ignored; an entry it cannot read (here a number as the token) stops nothing.
    let mut without_source = reported(&first);
    without_source.as_object_mut().unwrap().remove("source");
    let mut with_extra = reported(&second);
    with_extra["secret_type_display_name"] = json!("Infuse IAM API key");
    let r = app.leak_report(&json!([{"token": 5}, without_source, with_extra, reported(&unknown)])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!([
            labelled(&first, "true_positive"),
            labelled(&second, "true_positive"),
            labelled(&unknown, "false_positive")
        ])
    );
    assert_eq!(r.header("unreadable-entries"), "0", "the entry that could not be read has no label");
    for key in [&first, &second] {
        let used = app.call("GET", &app.org_path("/api-keys"), Some(key.as_str()), None).await;
        assert_eq!((used.status, used.code()), (401, "credential_revoked"));
    }
    let audit = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    let mut sources: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "iam:credentials:revoke")
        .map(|e| e["details"]["source"].as_str().unwrap())
        .collect();
    sources.sort();
    assert_eq!(sources, ["", "content"], "a source left out is audited as empty");
}

#[tokio::test]
async fn a_report_of_one_live_key_a_thousand_times_revokes_it_once_and_labels_every_copy() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_key("leaked-often").await;
    app.calls.reset();
    let r = app.leak_report(&Value::Array(vec![reported(&key); 1000])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let label = labelled(&key, "true_positive");
    let labels = r.body.as_array().unwrap();
    assert_eq!(labels.len(), 1000);
    assert!(labels.iter().all(|l| *l == label), "every copy is labelled");
    let calls = app.calls.names();
    let count = |name: &str| calls.iter().filter(|n| n.as_str() == name).count();
    assert_eq!((count("GetItem"), count("TransactWriteItems")), (2, 1), "one check, one revocation: {calls:?}");
    let events = app.audit_events(&app.org).await;
    let revocations = events.iter().filter(|e| e["action"].as_s().unwrap() == "iam:credentials:revoke").count();
    assert_eq!(revocations, 1, "revoked once");
    let used = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((used.status, used.code()), (401, "credential_revoked"));
}

#[tokio::test]
async fn an_unreadable_entry_anywhere_in_a_report_never_spares_a_live_key() {
    let app = TestApp::new().await;
    let mut no_url = reported(&forged_key("abcdefghij0123456789"));
    no_url.as_object_mut().unwrap().remove("url");
    // (what the entry is, the entry, whether it is read and labelled)
    let cases = [
        ("a bare string", json!("ik_0123456789abcdefghij.NotARealSecret"), false),
        ("null", Value::Null, false),
        (
            "a number as the token",
            json!({"token": 5, "type": "infuse_iam_api_key", "url": "u", "source": "content"}),
            false,
        ),
        ("an object without a type", json!({"token": "ik_x", "url": "u", "source": "content"}), false),
        ("no url", no_url, true),
    ];
    let mut n = 0;
    for (case, entry, readable) in cases {
        for entry_first in [true, false] {
            n += 1;
            let (_, key) = app.principal_with_key(&format!("leaked-{n}")).await;
            let report = if entry_first {
                json!([entry.clone(), reported(&key)])
            } else {
                json!([reported(&key), entry.clone()])
            };
            let r = app.leak_report(&report).await;
            assert_eq!(r.status, 200, "{case}: {:?}", r.body);
            let labels = r.body.as_array().unwrap();
            let live = labels.iter().find(|l| l["token_hash"] == hash(&key).as_str());
            assert_eq!(live.map(|l| l["label"].clone()), Some(json!("true_positive")), "{case}: {labels:?}");
            assert_eq!(labels.len(), if readable { 2 } else { 1 }, "{case}: an unreadable entry has no label");
            let unreadable = match (readable, entry_first) {
                (true, _) => "",
                (false, true) => "0",
                (false, false) => "1",
            };
            assert_eq!(r.header("unreadable-entries"), unreadable, "{case}");
            let used = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
            assert_eq!((used.status, used.code()), (401, "credential_revoked"), "{case}");
        }
    }
}

#[tokio::test]
async fn a_report_that_is_not_a_json_array_is_400_and_more_than_1000_entries_are_refused() {
    let app = TestApp::new().await;
    for body in [json!({"token": "x", "type": "t", "url": "u"}), json!("ik_x"), Value::Null, json!(5)] {
        let r = app.leak_report(&body).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{body}");
    }
    let many: Vec<Value> = (0..1001).map(|i| reported(&format!("s{i}"))).collect();
    let r = app.leak_report(&Value::Array(many)).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "{:?}", r.body);
    let r = app.leak_report(&Value::Array(vec![Value::Null; 1001])).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "unreadable entries count too");
    let raw = b"[{\"token\": ".to_vec();
    let r = app.leak_report_signed(raw.clone(), app.scanner.key_identifier(), &app.scanner.sign(&raw)).await;
    assert_eq!((r.status, r.code()), (400, "malformed_json"));
}

/// `make bench`: how long the largest reports take on the local stack, end to end through the
/// handler (a measurement; it asserts only what the reports must do, never a time).
#[tokio::test]
#[ignore = "a measurement for make bench; it asserts nothing about speed"]
async fn leak_report_timings_of_the_largest_reports() {
    let app = TestApp::new().await;
    let mut lines = Vec::new();
    let mut time = async |what: &str, report: Vec<Value>| {
        let started = std::time::Instant::now();
        let r = app.leak_report(&Value::Array(report)).await;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(r.status, 200, "{what}: {:?}", r.body);
        lines.push(format!("leak report: {what}: {seconds:.2} s"));
    };
    let (_, key) = app.principal_with_key("leaked-often").await;
    time("1000 copies of one live key", vec![reported(&key); 1000]).await;
    let unknown: Vec<Value> = (0..1000).map(|i| reported(&forged_key(&format!("{i:0>20}")))).collect();
    time("1000 distinct well-formed keys nobody issued", unknown).await;
    let mut live = Vec::new();
    for p in 0..10 {
        let principal = app.create_principal(&format!("p{p}")).await["id"].as_str().unwrap().to_string();
        for c in 0..10 {
            live.push(reported(&app.issue(&principal, &format!("k{c}")).await.1));
        }
    }
    time("100 distinct live keys of 10 principals", live).await;
    for line in lines {
        println!("{line}");
    }
}

/// A leak's revocation ends its principal's tokens (`tokensValidAfter`) and moves the principal's
/// version: a change of the principal decided on a read from before the leak is refused and decided
/// again, so it cannot write the old `tokensValidAfter` back.
#[tokio::test]
async fn a_leak_moves_its_principals_version_so_no_change_read_before_it_writes_the_old_token_end_back() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("leaky").await;
    let path = app.org_path(&format!("/api-keys/{principal}"));
    let before = app.admin_call("GET", &path, None).await;
    let version = before.body["version"].as_u64().unwrap();
    assert_eq!(app.leak_report(&json!([reported(&key)])).await.status, 200);
    let after = app.admin_call("GET", &path, None).await;
    assert_eq!(after.body["version"].as_u64(), Some(version + 1), "{:?}", after.body);
    assert!(after.body["tokensValidAfter"].is_string(), "{:?}", after.body);
    // A change decided on the read from before the leak (here: named by its version) is refused.
    let stale = app
        .send(local_stack::event::IncomingRequest {
            method: "PATCH".into(),
            path: path.clone(),
            headers: vec![
                ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
                ("Content-Type".into(), "application/json".into()),
                ("If-Match".into(), version.to_string()),
            ],
            body: json!({"displayName": "renamed"}).to_string().into_bytes(),
            source_ip: "198.51.100.7".into(),
            ..Default::default()
        })
        .await;
    assert_eq!((stale.status, stale.code()), (412, "version_mismatch"), "{:?}", stale.body);
    let r = app.admin_call("PATCH", &path, Some(json!({"displayName": "renamed"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["tokensValidAfter"], after.body["tokensValidAfter"], "the token end stands");
}
